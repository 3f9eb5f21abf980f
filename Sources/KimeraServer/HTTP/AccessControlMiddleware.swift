import Hummingbird
import NIOCore
import Synchronization

/// Guards what a debug API must not give to strangers. When the server listens beyond loopback (or
/// `security.trust_loopback` is off), `/debug/*`, `/performance/stats`, `/metrics` and every mutating
/// request need `Authorization: Bearer <token>`: 401 without one, 403 with a wrong one, compared in
/// constant time. A mutating request from a browser `Origin` not on the allow-list is refused (no CSRF
/// through a page). It records nothing; the token never reaches a log (the redaction engine masks it).
struct AccessControlMiddleware: RouterMiddleware {
    typealias Context = KimeraRequestContext
    let settings: SecuritySettings
    /// True when some client may need a token: the fast path skips everything otherwise.
    let tokenMayBeNeeded: Bool
    let token: [UInt8]

    init(settings: SecuritySettings, listensBeyondLoopback: Bool) {
        self.settings = settings
        tokenMayBeNeeded = (listensBeyondLoopback || !settings.trustLoopback) && settings.adminToken != nil
        token = Array((settings.adminToken ?? "").utf8)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let mutating = request.method != .get && request.method != .head && request.method != .options
        if mutating, let origin = request.headers[.origin], !settings.allowedOrigins.contains(origin) {
            throw APIError(
                .forbidden, code: "forbidden",
                message:
                    "Cross-origin \(request.method.rawValue) from \(origin) is refused; add the origin to security.allowed_origins to allow it."
            )
        }
        guard tokenMayBeNeeded, mutating || Self.isProtected(request.uri.path) else {
            return try await next(request, context)
        }
        if settings.trustLoopback && context.clientIsLoopback { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            var error = APIError(
                .unauthorized, code: "unauthorized",
                message: "This endpoint needs Authorization: Bearer <admin token> from a client off loopback.")
            error.headers[.wwwAuthenticate] = "Bearer"
            throw error
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", Self.constantTimeEquals(Array(parts[1].utf8), token)
        else {
            throw APIError(.forbidden, code: "forbidden", message: "The bearer token is not the admin token.")
        }
        return try await next(request, context)
    }

    static func isProtected(_ path: String) -> Bool {
        path.hasPrefix("/debug/") || path == "/performance/stats" || path == "/metrics"
    }

    /// Compares every byte whatever the first difference, so timing tells nothing about the token.
    static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
        let count = max(lhs.count, rhs.count)
        for index in 0..<count {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= left ^ right
        }
        return difference == 0
    }
}

/// Counts open connections (a channel handler added to every connection's pipeline).
final class ConnectionCounter: Sendable {
    let open = Atomic<Int>(0)
    var count: Int { open.load(ordering: .relaxed) }
}

/// Limits with JSON errors: URI length (414), header bytes (431), declared body size (413), and
/// the concurrent-connection cap (503 with `Connection: close`).
struct RequestLimitsMiddleware: RouterMiddleware {
    typealias Context = KimeraRequestContext
    let settings: SecuritySettings
    let maxBodyBytes: Int
    let connections: ConnectionCounter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if connections.count > settings.maxConnections {
            var error = APIError.unavailable(
                "The server has \(settings.maxConnections) open connections, its limit; retry shortly.")
            error.headers[.connection] = "close"
            error.headers[.retryAfter] = "1"
            throw error
        }
        if request.uri.description.utf8.count > settings.maxURIBytes {
            throw APIError(
                .uriTooLong, code: "uri_too_long",
                message: "The request URI is longer than \(settings.maxURIBytes) bytes.")
        }
        var headerBytes = 0
        for field in request.headers { headerBytes += field.name.rawName.utf8.count + field.value.utf8.count + 4 }
        if headerBytes > settings.maxHeaderBytes {
            throw APIError(
                .requestHeaderFieldsTooLarge, code: "headers_too_large",
                message: "The request headers are larger than \(settings.maxHeaderBytes) bytes.")
        }
        if let length = request.headers[.contentLength] {
            guard let bytes = Int(length), bytes >= 0 else {
                throw APIError(
                    .badRequest, code: "invalid_body", message: "Content-Length \(length) is not a byte count.")
            }
            if bytes > maxBodyBytes {
                throw APIError(
                    .contentTooLarge, code: "payload_too_large",
                    message: "The request body is \(bytes) bytes; the limit is \(maxBodyBytes).")
            }
        }
        return try await next(request, context)
    }
}

/// Keeps `ConnectionCounter` in step with the connections' pipelines.
final class ConnectionCountingHandler: ChannelInboundHandler, RemovableChannelHandler {
    // Never unwrapped: reads pass through untouched.
    typealias InboundIn = ByteBuffer
    let counter: ConnectionCounter

    init(counter: ConnectionCounter) { self.counter = counter }

    func handlerAdded(context: ChannelHandlerContext) { counter.open.add(1, ordering: .relaxed) }
    func handlerRemoved(context: ChannelHandlerContext) { counter.open.subtract(1, ordering: .relaxed) }
}
