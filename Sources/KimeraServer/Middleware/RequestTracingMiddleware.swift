import HTTPTypes
import Hummingbird
import KimeraAPI
import KimeraCore
import KimeraModels
import KimeraObservability
import Logging

extension HTTPField.Name {
    static let requestID = Self("X-Request-ID")!
    static let traceparent = Self("traceparent")!
    static let processTime = Self("X-Process-Time-Microseconds")!
    static let debugMode = Self("X-Debug-Mode")!
    static let performanceMode = Self("X-Performance-Mode")!
    static let xCache = Self("X-Cache")!
    static let xCacheAge = Self("X-Cache-Age")!
    static let kimeraIncident = Self("X-Kimera-Incident")!
}

/// Gives each request its id, runs it with that id in scope (so every log line carries it), turns
/// every error into the JSON error body, and records the request through `RequestRecording` (the
/// Kimera headers, the trace, the access log line of full debug) — the same code the event-loop fast
/// path (`FastPathResponder`) records with.
///
/// It records the raw path and the redacted query; request and response headers only in the debug
/// modes, with secret-bearing values masked. It never records bodies.
struct RequestTracingMiddleware: RouterMiddleware {
    typealias Context = KimeraRequestContext
    let recording: RequestRecording
    let errorLog: Logger

    init(engine: ObservabilityEngine) {
        recording = RequestRecording(engine: engine)
        errorLog = engine.logger("kimera.http")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = recording.start(request.headers)
        let id = start.id
        // The request's log records, every level, kept only if it ends as an incident.
        let tail = RequestLogTail()

        var response: Response
        var errorText: String?
        do {
            response = try await RequestScope.$requestID.withValue(id) {
                try await RequestScope.$tail.withValue(tail) {
                    // While a CPU profile runs, its samples of this task carry the route (one load otherwise).
                    guard CPUProfiler.isRunning else { return try await next(request, context) }
                    return try await ProfileLabels.withRoute(context.endpointPath ?? RequestTracer.unmatched) {
                        try await next(request, context)
                    }
                }
            }
        } catch {
            let apiError = APIError.from(error, method: request.method, path: request.uri.path)
            if apiError.status.code >= 500 {
                // ERROR is for the unexpected. A refusal a handler chose (`/ready` while draining, a full
                // table) is an expected event, NOTICE; a dependency that failed (the vault) a WARNING.
                let level: Logger.Level =
                    error is APIError ? .notice : (error is any APIErrorConvertible ? .warning : .error)
                RequestScope.$requestID.withValue(id) {
                    RequestScope.$tail.withValue(tail) {
                        errorLog.log(
                            level: level, "request failed: \(String(describing: error))",
                            metadata: ["path": .string(request.uri.path)])
                    }
                }
            }
            errorText = apiError.code.rawValue
            response = apiError.response(requestID: id)
        }

        // Hummingbird names the not-found responder "NotFound"; real templates start with "/".
        // (A cache hit sets the endpoint path itself, since the router did not run.)
        let route = context.endpointPath.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? RequestTracer.unmatched
        // Escalated (`DebugEscalationMiddleware`): answered with `Server-Timing`, kept as an incident.
        let escalation = RequestScope.escalation
        if let escalation {
            let timing = escalation.serverTiming(totalNanos: Timestamp.monotonicNanos() - start.monotonicNanos)
            response.headers.append(HTTPField(name: .serverTiming, value: timing))
        }
        var trace = recording.complete(
            start, method: request.method, path: request.uri.path, query: request.uri.query,
            requestHeaders: request.headers, route: route, status: response.status, headers: &response.headers,
            bytesOut: response.body.contentLength ?? 0, error: errorText)
        if escalation != nil {
            trace.escalated = true
            trace.serverTiming = response.headers[.serverTiming]
        }
        if response.body.contentLength == nil {
            // A streamed body (the log stream, say) is written after this returns: as Hummingbird's
            // MetricsMiddleware does, finish its trace once the last byte is written (or the write
            // failed), so its duration is the real one. Bodies of known length are written at once.
            let body = response.body
            let recording = self.recording
            let startedAt = start.monotonicNanos
            response.body = ResponseBody { [trace] writer in
                var trace = trace
                defer {
                    trace.durationNanos = Timestamp.monotonicNanos() - startedAt
                    recording.finish(trace, tail: tail)
                }
                try await body.write(writer)
            }
        } else if let incident = recording.finish(trace, tail: tail), escalation != nil {
            // The escalated request's incident, for `kimera get --debug` to name.
            response.headers.append(HTTPField(name: .kimeraIncident, value: incident))
        }
        recording.logAccess(start, trace, requestHeaders: request.headers)
        return response
    }
}
