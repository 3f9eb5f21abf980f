import Hummingbird
import KimeraObservability

/// One middleware of the router, with how the event-loop fast path (`FastPathResponder`, OPERATIONS.md "The
/// event-loop fast path") treats it. `KimeraApplication.middleware` lists them in order; the router adds
/// that list and the fast path is built from the same list. A new middleware is a new case here, and the
/// two exhaustive switches below do not compile until it says what the fast path does about it.
enum KimeraMiddleware: Sendable {
    case serverSpan(TelemetrySpanMiddleware)
    case escalation(DebugEscalationMiddleware)
    case tracing(RequestTracingMiddleware)
    case limits(RequestLimitsMiddleware)
    case access(AccessControlMiddleware)
    case cache(ResponseCacheMiddleware)
    case methodNotAllowed(MethodNotAllowedMiddleware)

    /// What the fast path does about a middleware for the requests it answers itself.
    enum FastPathTreatment: String, Sendable {
        /// It does the same work itself, through the same code (the span, the recording).
        case doneAlike = "done alike"
        /// It asks the middleware first and leaves to the full path every request the middleware would
        /// act on (a limit broken, a request access control would look at).
        case asked
        /// It answers from what the middleware keeps, under the same key and route (fresh cache hits).
        case answersFrom = "answers from"
        /// The middleware never acts on a request the fast path answers.
        case neverActs = "never acts"
    }

    var fastPath: FastPathTreatment {
        switch self {
        case .serverSpan: .doneAlike  // ServerSpans.start/finish, as TelemetrySpanMiddleware
        case .escalation: .asked  // DebugEscalationMiddleware.asks(_:): an escalated request is never answered there
        case .tracing: .doneAlike  // RequestRecording, shared with RequestTracingMiddleware
        case .limits: .asked  // RequestLimitsMiddleware.refusal(uri:headers:)
        case .access: .asked  // AccessControlMiddleware.mayCheck(method:route:headers:)
        case .cache: .answersFrom  // ResponseCache.lookup with the middleware's key
        case .methodNotAllowed: .neverActs  // the fast path answers GETs of matched routes only
        }
    }

    var name: String {
        switch self {
        case .serverSpan: "server span"
        case .escalation: "debug escalation"
        case .tracing: "tracing"
        case .limits: "request limits"
        case .access: "access control"
        case .cache: "response cache"
        case .methodNotAllowed: "405"
        }
    }

    func add(to router: Router<KimeraRequestContext>) {
        switch self {
        case .serverSpan(let middleware): router.add(middleware: middleware)
        case .escalation(let middleware): router.add(middleware: middleware)
        case .tracing(let middleware): router.add(middleware: middleware)
        case .limits(let middleware): router.add(middleware: middleware)
        case .access(let middleware): router.add(middleware: middleware)
        case .cache(let middleware): router.add(middleware: middleware)
        case .methodNotAllowed(let middleware): router.add(middleware: middleware)
        }
    }
}

extension FastPathResponder {
    /// The fast path over the router's own middleware list: the limits and access control it asks, the
    /// span maker it shares.
    init(
        engine: ObservabilityEngine, middleware: [KimeraMiddleware], answered: FastPathCount
    ) {
        var limits: RequestLimitsMiddleware?
        var access: AccessControlMiddleware?
        var spans: ServerSpans?
        var escalation: DebugEscalationMiddleware?
        for entry in middleware {
            switch entry {
            case .serverSpan(let middleware): spans = middleware.spans
            case .escalation(let middleware): escalation = middleware
            case .limits(let middleware): limits = middleware
            case .access(let middleware): access = middleware
            case .tracing, .cache, .methodNotAllowed: break
            }
        }
        guard let limits, let access, let escalation else {
            preconditionFailure("the middleware list lacks request limits, access control or debug escalation")
        }
        self.init(
            engine: engine, limits: limits, access: access, escalation: escalation, spans: spans, answered: answered)
    }
}
