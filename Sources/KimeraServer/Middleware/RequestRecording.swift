import HTTPTypes
import KimeraModels
import KimeraObservability
import Logging

/// What every answered request records, whichever path answered it — `RequestTracingMiddleware` for
/// the full path, `FastPathResponder` on the event loop: the request id, the Kimera headers
/// (`X-Request-ID`, `X-Process-Time-Microseconds`, `X-Debug-Mode`, `X-Performance-Mode`), the trace
/// (route template × method histogram, trace ring, slow ring, slow-request warning) and, in full
/// debug, the access log line. One code for both paths, so statistics, traces and `/metrics` cannot
/// tell them apart.
///
/// It records the raw path and the redacted query; request and response headers only in the debug
/// modes (redacted when read). It never records bodies.
struct RequestRecording: Sendable {
    let engine: ObservabilityEngine
    let accessLog: Logger

    init(engine: ObservabilityEngine) {
        self.engine = engine
        accessLog = engine.logger("kimera.http.access")
    }

    /// How many response fields are appended after a handler's: `complete`'s four, then `traceparent`
    /// (export on) and `Date`. Whoever builds a response's fields reserves room for them, so appending
    /// never grows the fields' storage.
    static let appendedHeaderCount = 6

    /// A request as it started: its id, its start times and the modes it is answered in (read once, so
    /// a mode switch during the request cannot give it mixed headers).
    struct Start: Sendable {
        let id: String
        let monotonicNanos: Int64
        let wallNanos: Int64
        let debug: Bool
        let performance: Bool
    }

    /// Resolves the id (`X-Request-ID`, else `traceparent`, else the server span's trace id, else
    /// generated) and counts the request active. The full path's span is the task's
    /// (`TelemetrySpanMiddleware`); with export off (`telemetry` nil) that task-local is not even read.
    func start(_ requestHeaders: HTTPFields) -> Start {
        start(requestHeaders, spanTraceID: engine.telemetry == nil ? nil : RequestScope.traceID)
    }

    /// `start` for a caller that holds the request's span itself (the fast path).
    func start(_ requestHeaders: HTTPFields, spanTraceID: String?) -> Start {
        let monotonic = Timestamp.monotonicNanos()
        let wall = Timestamp.wallNanos()
        let id = RequestIdentity.resolve(
            requestID: requestHeaders[.requestID], traceparent: requestHeaders[.traceparent],
            spanTraceID: spanTraceID)
        let runtime = engine.runtime
        engine.tracer.begin()
        return Start(
            id: id, monotonicNanos: monotonic, wallNanos: wall, debug: runtime.debug, performance: runtime.performance)
    }

    /// Appends the Kimera headers to `headers` and returns the request's trace, not yet recorded: the
    /// caller finishes it now (`finish`) or, for a streamed body, after its last byte.
    ///
    /// - Parameters:
    ///   - route: the matched route template, or `RequestTracer.unmatched`.
    ///   - bytesOut: the body's length when known (0 otherwise).
    ///   - error: the API error code when the request failed with one.
    func complete(
        _ start: Start, method: HTTPRequest.Method, path: String, query: String?, requestHeaders: HTTPFields,
        route: String, status: HTTPResponse.Status, headers: inout HTTPFields, bytesOut: Int, error: String?
    ) -> CompactTrace {
        let duration = Timestamp.monotonicNanos() - start.monotonicNanos
        // Appended, not assigned: no handler sets these, and append skips a scan of the fields.
        headers.reserveCapacity(headers.count + Self.appendedHeaderCount)
        headers.append(HTTPField(name: .requestID, value: start.id))
        headers.append(HTTPField(name: .processTime, value: String(duration / 1000)))
        headers.append(HTTPField(name: .debugMode, value: start.debug ? "true" : "false"))
        headers.append(HTTPField(name: .performanceMode, value: start.performance ? "true" : "false"))
        let code = Int(status.code)
        var trace = CompactTrace(
            requestID: start.id, method: method.rawValue, path: Redaction.path(path), query: query.map(Redaction.query),
            route: route,
            status: code, durationNanos: duration, startedWallNanos: start.wallNanos,
            bytesIn: requestHeaders[.contentLength].flatMap { Int($0) } ?? 0, bytesOut: bytesOut,
            cache: headers[.xCache].flatMap(CacheOutcome.init(rawValue:)),
            slow: duration >= engine.runtime.slowThresholdNs,
            error: error ?? (code >= 400 ? APIError.code(for: status).rawValue : nil))
        if start.debug {
            trace.requestHeaders = requestHeaders
            trace.responseHeaders = headers
        }
        return trace
    }

    /// Records a finished trace: statistics, rings, `/metrics`, the slow-request warning, and the incident
    /// when it ended badly (slow or 5xx), with the request's log records from `tail`.
    @discardableResult
    func finish(_ trace: CompactTrace, tail: RequestLogTail? = nil) -> String? {
        // Adaptive slow detection, when on: one more short lock per request (docs/OPERATIONS.md "Incidents").
        // Off (the default), the trace is recorded as it is, without a copy.
        // Every request counts in its route's window, the slow ones too (the p99 must see them).
        if engine.runtime.slowAdaptiveOn, let adaptive = engine.runtime.slowAdaptive,
            let threshold = engine.tracer.adaptiveThreshold(trace, adaptive), !trace.slow
        {
            var adapted = trace
            adapted.slow = true
            adapted.adaptiveThresholdNanos = threshold
            return record(adapted, tail: tail)
        }
        return record(trace, tail: tail)
    }

    private func record(_ trace: CompactTrace, tail: RequestLogTail?) -> String? {
        let incident = IncidentCause.of(trace).map { engine.keepIncident(trace, cause: $0, tail: tail) }
        engine.tracer.finish(trace, incidentID: incident)
        return incident
    }

    /// Whether recording this request may write a log record: the slow-request warning (adaptive
    /// detection may still find it slow) or full debug's access log line.
    func mayLog(_ start: Start, _ trace: CompactTrace) -> Bool {
        trace.slow || engine.runtime.slowAdaptiveOn || (start.debug && !start.performance)
    }

    /// The access log line of full debug mode (nothing in the other modes), under the request's id.
    func logAccess(_ start: Start, _ trace: CompactTrace, requestHeaders: HTTPFields) {
        guard start.debug && !start.performance else { return }
        RequestScope.$requestID.withValue(start.id) {
            accessLog.info(
                "\(trace.method) \(trace.path) \(trace.status) \(trace.durationNanos / 1000)us",
                metadata: [
                    "route": .string(trace.route), "query": .string(trace.query ?? ""),
                    "request_headers": .string(Redaction.headerLine(requestHeaders)),
                ])
        }
    }
}
