import HTTPTypes
import Hummingbird
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
}

/// Gives each request its id, runs it with that id in scope (so every log line carries it), turns
/// every error into the JSON error body, stamps the Kimera headers, and records the request in the
/// tracer: latency by route template × method, the trace ring, slow-request detection.
///
/// It records the raw path and the redacted query; request and response headers only in the debug
/// modes, with secret-bearing values masked. It never records bodies.
/// In full debug mode it also writes an access log line per request, with the redacted headers.
struct RequestTracingMiddleware: RouterMiddleware {
    typealias Context = KimeraRequestContext
    let engine: ObservabilityEngine
    let accessLog: Logger
    let errorLog: Logger

    init(engine: ObservabilityEngine) {
        self.engine = engine
        accessLog = engine.logger("kimera.http.access")
        errorLog = engine.logger("kimera.http")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = Timestamp.monotonicNanos()
        let startedWall = Timestamp.wallNanos()
        // With export off (`telemetry` nil) the task-local is not even read.
        let id =
            engine.telemetry == nil
            ? RequestIdentity.resolve(
                requestID: request.headers[.requestID], traceparent: request.headers[.traceparent])
            : RequestIdentity.resolve(
                requestID: request.headers[.requestID], traceparent: request.headers[.traceparent],
                spanTraceID: RequestScope.traceID)
        let runtime = engine.runtime
        let debug = runtime.debug
        let performance = runtime.performance
        engine.tracer.begin()

        var response: Response
        var errorText: String?
        do {
            response = try await RequestScope.$requestID.withValue(id) {
                try await next(request, context)
            }
        } catch {
            let apiError = APIError.from(error, method: request.method, path: request.uri.path)
            if apiError.status.code >= 500 {
                RequestScope.$requestID.withValue(id) {
                    errorLog.error(
                        "request failed: \(String(describing: error))", metadata: ["path": .string(request.uri.path)])
                }
            }
            errorText = apiError.code
            response = apiError.response(requestID: id)
        }

        // Hummingbird names the not-found responder "NotFound"; real templates start with "/".
        // (A cache hit sets the endpoint path itself, since the router did not run.)
        let route = context.endpointPath.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? RequestTracer.unmatched
        let duration = Timestamp.monotonicNanos() - start
        // Appended, not assigned: no handler sets these, and append skips a scan of the fields.
        response.headers.reserveCapacity(response.headers.count + 4)
        response.headers.append(HTTPField(name: .requestID, value: id))
        response.headers.append(HTTPField(name: .processTime, value: String(duration / 1000)))
        response.headers.append(HTTPField(name: .debugMode, value: debug ? "true" : "false"))
        response.headers.append(HTTPField(name: .performanceMode, value: performance ? "true" : "false"))

        let status = Int(response.status.code)
        let slow = duration >= runtime.slowThresholdNs
        var trace = CompactTrace(
            requestID: id, method: request.method.rawValue, path: request.uri.path,
            query: request.uri.query.map(Redaction.query), route: route, status: status, durationNanos: duration,
            startedWallNanos: startedWall, bytesIn: request.headers[.contentLength].flatMap { Int($0) } ?? 0,
            bytesOut: response.body.contentLength ?? 0,
            cache: response.headers[.xCache].flatMap(CacheOutcome.init(rawValue:)), slow: slow,
            error: errorText ?? (status >= 400 ? APIError.code(for: response.status) : nil))
        if debug {
            trace.requestHeaders = request.headers
            trace.responseHeaders = response.headers
        }
        if response.body.contentLength == nil {
            // A streamed body (the log stream, say) is written after this returns: as Hummingbird's
            // MetricsMiddleware does, finish its trace once the last byte is written (or the write
            // failed), so its duration is the real one. Bodies of known length are written at once.
            let body = response.body
            let tracer = engine.tracer
            response.body = ResponseBody { [trace] writer in
                var trace = trace
                defer {
                    trace.durationNanos = Timestamp.monotonicNanos() - start
                    tracer.finish(trace)
                }
                try await body.write(writer)
            }
        } else {
            engine.tracer.finish(trace)
        }
        if debug && !performance {
            RequestScope.$requestID.withValue(id) {
                accessLog.info(
                    "\(request.method.rawValue) \(request.uri.path) \(status) \(duration / 1000)us",
                    metadata: [
                        "route": .string(route), "query": .string(trace.query ?? ""),
                        "request_headers": .string(Redaction.headerLine(request.headers)),
                    ])
            }
        }
        return response
    }

}
