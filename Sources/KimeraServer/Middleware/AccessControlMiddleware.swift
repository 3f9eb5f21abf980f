import HTTPTypes
import Hummingbird
import KimeraCore
import KimeraModels
import KimeraObservability
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
        guard mayCheck(method: request.method, path: request.uri.path, headers: request.headers) else {
            return try await next(request, context)
        }
        let mutating = Self.isMutating(request.method)
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

    /// False when this middleware lets the request through without looking further: a read of an open
    /// path, or no token configured and no `Origin` on a mutation. The event-loop fast path answers only
    /// requests for which this is false.
    func mayCheck(method: HTTPRequest.Method, path: String, headers: HTTPFields) -> Bool {
        let mutating = Self.isMutating(method)
        if mutating && headers[.origin] != nil { return true }
        return tokenMayBeNeeded && (mutating || Self.isProtected(path))
    }

    static func isMutating(_ method: HTTPRequest.Method) -> Bool {
        method != .get && method != .head && method != .options
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
