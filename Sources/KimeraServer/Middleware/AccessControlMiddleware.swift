import HTTPTypes
import Hummingbird
import KimeraCore
import KimeraModels
import KimeraObservability
import NIOCore
import Synchronization

/// Guards what a debug API must not give to strangers. When the server listens beyond loopback (or
/// `security.trust_loopback` is off), the routes `/debug/*`, `/performance/stats`, `/metrics` and every
/// mutating request need `Authorization: Bearer <token>`: 401 without one, 403 with a wrong one, compared in
/// constant time. A mutating request from a browser `Origin` not on the allow-list is refused (no CSRF
/// through a page). It records nothing; the token never reaches a log (the redaction engine masks it).
///
/// The decision is made on the router's match — the route template, after `RequestTarget` made the
/// target canonical — never on the raw path: every spelling of a route (`//debug/info`, `/debug/./info`,
/// `/debug/%69nfo`, `http://host/debug/info`) is that route, and a target that matches no route is a 404
/// that shows nothing.
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
        let route = context.endpointPath
        guard mayCheck(method: request.method, route: route, headers: request.headers) else {
            return try await next(request, context)
        }
        let mutating = Self.isMutating(request.method)
        if mutating, let origin = request.headers[.origin], !settings.allowedOrigins.contains(origin) {
            throw APIError(
                .forbidden, code: .forbidden,
                message:
                    "Cross-origin \(request.method.rawValue) from \(origin) is refused; add the origin to security.allowed_origins to allow it."
            )
        }
        guard tokenMayBeNeeded, mutating || route.map(Self.isProtected(route:)) == true else {
            return try await next(request, context)
        }
        if settings.trustLoopback && context.clientIsLoopback { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            var error = APIError(
                .unauthorized, code: .unauthorized,
                message: "This endpoint needs Authorization: Bearer <admin token> from a client off loopback.")
            error.headers[.wwwAuthenticate] = "Bearer"
            throw error
        }
        guard carriesAdminToken(header) else {
            throw APIError(.forbidden, code: .forbidden, message: "The bearer token is not the admin token.")
        }
        return try await next(request, context)
    }

    /// Whether an `Authorization` value is `Bearer <admin token>`, compared in constant time; false when no
    /// token is configured. Debug escalation asks the same question.
    func carriesAdminToken(_ header: String) -> Bool {
        let parts = header.split(separator: " ", maxSplits: 1)
        return !token.isEmpty && parts.count == 2 && parts[0].lowercased() == "bearer"
            && Self.constantTimeEquals(Array(parts[1].utf8), token)
    }

    /// False when this middleware lets the request through without looking further: a read of an open
    /// path, or no token configured and no `Origin` on a mutation. The event-loop fast path answers only
    /// requests for which this is false.
    func mayCheck(method: HTTPRequest.Method, route: String?, headers: HTTPFields) -> Bool {
        let mutating = Self.isMutating(method)
        if mutating && headers[.origin] != nil { return true }
        return tokenMayBeNeeded && (mutating || route.map(Self.isProtected(route:)) == true)
    }

    static func isMutating(_ method: HTTPRequest.Method) -> Bool {
        method != .get && method != .head && method != .options
    }

    /// Whether a route (a template of the route table, as the router matched it) needs the token.
    static func isProtected(route: String) -> Bool {
        route.hasPrefix("/debug/") || route == "/performance/stats" || route == "/metrics"
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
