import HTTPTypes
import Hummingbird
import KimeraModels
import KimeraObservability
import Synchronization

extension HTTPField.Name {
    static let kimeraDebug = Self("X-Kimera-Debug")!
    static let serverTiming = Self("Server-Timing")!
}

/// One-request escalation (docs/OPERATIONS.md "One-request escalation"): a request carrying
/// `X-Kimera-Debug: 1` (or `true`) from loopback — or from anywhere with the admin token — is served with
/// a `RequestEscalation` in scope: `RequestTracingMiddleware` answers it with `Server-Timing` and keeps it
/// as an incident whatever its outcome, the response cache lets it through to the handler. Nothing else
/// changes: no level, no mode, no other request.
///
/// Never otherwise: without the right to ask (off loopback without the token, or loopback not trusted) or
/// past the rate limit, the header is ignored and the request is served as any other. It records nothing
/// itself; the token is compared as access control compares it and never logged.
struct DebugEscalationMiddleware: RouterMiddleware {
    typealias Context = KimeraRequestContext
    let access: AccessControlMiddleware
    let limiter: EscalationLimiter

    init(access: AccessControlMiddleware, limiter: EscalationLimiter = EscalationLimiter()) {
        self.access = access
        self.limiter = limiter
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard asks(request.headers), mayEscalate(request.headers, context: context), limiter.take() else {
            return try await next(request, context)
        }
        return try await RequestEscalation().serving { try await next(request, context) }
    }

    /// Whether the request asks to be escalated: the event-loop fast path leaves every such request to the
    /// full path (it never serves an escalated request itself).
    func asks(_ headers: HTTPFields) -> Bool {
        // `contains` first: the common answer (no such header) without building a joined value.
        guard headers.contains(.kimeraDebug), let value = headers[.kimeraDebug] else { return false }
        return BooleanValue.parse(value) == true
    }

    /// Loopback when loopback is trusted, else only with `Authorization: Bearer <admin token>`.
    func mayEscalate(_ headers: HTTPFields, context: Context) -> Bool {
        if access.settings.trustLoopback && context.clientIsLoopback { return true }
        return headers[.authorization].map(access.carriesAdminToken) ?? false
    }
}

/// At most `burst` escalations at once and `perSecond` sustained (a token bucket), so that the header
/// cannot turn a busy server's every request into an incident. One short lock per request that asks.
final class EscalationLimiter: Sendable {
    static let perSecond = 5.0
    static let burst = 10.0

    private struct Bucket {
        var tokens = EscalationLimiter.burst
        var lastNanos = Timestamp.monotonicNanos()
    }
    /// Protects the bucket.
    private let bucket = Mutex(Bucket())

    func take(now: Int64 = Timestamp.monotonicNanos()) -> Bool {
        bucket.locked { bucket in
            let refill = Double(max(0, now - bucket.lastNanos)) / 1e9 * Self.perSecond
            bucket.tokens = min(Self.burst, bucket.tokens + refill)
            bucket.lastNanos = now
            guard bucket.tokens >= 1 else { return false }
            bucket.tokens -= 1
            return true
        }
    }
}
