import HTTPTypes
import Hummingbird
import KimeraObservability
import KimeraTelemetry
import Tracing

/// One OpenTelemetry server span per request, named `METHOD /route/template` (the route template, never
/// the raw path; the method alone when no route matched), with the HTTP semantic-convention attributes
/// (`http.request.method`, `http.route`, `http.response.status_code`, `url.path`, `url.scheme`,
/// redacted `url.query`, `server.address`, `server.port`, `user_agent.original`, body sizes) and error
/// status on 5xx. An inbound W3C `traceparent` makes it a child of the caller's span; the response
/// carries the span's own `traceparent`. A request with neither `X-Request-ID` nor `traceparent` takes
/// the new trace id as its request id (`RequestScope.traceID`, read by `RequestTracingMiddleware`).
///
/// It never records header values or bodies. The router adds it only when export is on, ahead of
/// `RequestTracingMiddleware`, so that it sees the final status of every request (errors included);
/// with export off it does not exist and costs nothing. The fast path makes the same spans
/// (`ServerSpans`) for what it answers.
struct TelemetrySpanMiddleware: RouterMiddleware {
    typealias Context = KimeraRequestContext
    let spans: ServerSpans

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let server = spans.start(
            method: request.method, path: request.uri.path, query: request.uri.query, headers: request.headers,
            authority: request.head.authority)
        var response: Response
        do {
            response = try await InstrumentationContext.$current.withValue(server.span.context) {
                try await RequestScope.$traceID.withValue(server.traceID) {
                    try await next(request, context)
                }
            }
        } catch {
            // RequestTracingMiddleware turns every error into a response; only cancellation gets here.
            server.span.recordError(error)
            server.span.setStatus(SpanStatus(code: .error))
            server.span.end()
            throw error
        }

        let route = context.endpointPath.flatMap { $0.hasPrefix("/") ? $0 : nil }
        let bodySize = response.body.contentLength
        response.headers.append(HTTPField(name: .traceparent, value: server.traceparent))
        if bodySize == nil {
            // A streamed body is written after this returns: the span ends with its last byte.
            spans.finish(server, route: route, status: Int(response.status.code), bodySize: nil, end: false)
            let body = response.body
            let span = server.span
            response.body = ResponseBody { writer in
                defer { span.end() }
                try await body.write(writer)
            }
        } else {
            spans.finish(server, route: route, status: Int(response.status.code), bodySize: bodySize)
        }
        return response
    }
}

/// How a request's server span is made, named and ended, whichever path answers the request: the
/// middleware above for the full path, `FastPathResponder` on the event loop (one code, so the two
/// cannot export different spans). It holds Kimera's tracer itself, not `any Tracer`: its span's
/// attributes are then updated in place, and the `traceparent` is written from the span's ids, without a
/// context or a dictionary copy per request (docs/OPERATIONS.md "OpenTelemetry export").
struct ServerSpans: Sendable {
    let tracer: KimeraTracer
    let serverAddress: String
    let serverPort: Int

    /// A started server span, the `traceparent` the response carries and its trace id (the request id
    /// of a request that brought neither `X-Request-ID` nor `traceparent`).
    struct Started {
        let span: KimeraSpan
        let method: String
        let traceparent: String
        let traceID: String
    }

    /// Starts the span of a request: a child of its inbound `traceparent`, else the root of a new trace.
    /// Read straight from the headers, without a context to build: the request's thread pays for the
    /// ids, two strings (`traceparent`, trace id) and one object; the HTTP fields are kept as they are
    /// and made into attributes by the exporter (`HTTPServerFields`).
    func start(method: HTTPRequest.Method, path: String, query: String?, headers: HTTPFields, authority: String?)
        -> Started
    {
        let name = method.rawValue
        let span = tracer.startServerSpan(
            name, remote: remoteParent(headers),
            http: fields(method: name, path: path, query: query, headers: headers, authority: authority))
        let identity = span.spanContext
        return Started(span: span, method: name, traceparent: identity.traceparent, traceID: identity.traceIDHex)
    }

    /// The server span of a request the fast path answers: its ids and strings, and no object, since
    /// nothing can change it between its start and its end (`finish(_:route:status:bodySize:)`).
    struct Answered {
        let identity: SpanContext
        /// The caller's span id (`traceparent`), 0 for a new trace.
        let parentSpanID: UInt64
        let startNanos: UInt64
        let traceparent: String
        let traceID: String
        /// Nil when not sampled.
        var fields: HTTPServerFields?

        /// The top-level context with this span current, for a log record written while it is answered.
        var context: InstrumentationContext {
            var context = InstrumentationContext.topLevel
            context.spanContext = identity
            return context
        }
    }

    /// Starts the fast path's span of a request, as `start` does the full path's.
    func startAnswered(
        method: HTTPRequest.Method, path: String, query: String?, headers: HTTPFields, authority: String?
    ) -> Answered {
        let remote = remoteParent(headers)
        let identity = tracer.serverSpanIdentity(remote: remote)
        return Answered(
            identity: identity, parentSpanID: remote?.spanID ?? 0,
            startNanos: DefaultTracerClock.now.nanosecondsSinceEpoch,
            traceparent: identity.traceparent, traceID: identity.traceIDHex,
            fields: identity.sampled
                ? fields(method: method.rawValue, path: path, query: query, headers: headers, authority: authority)
                : nil)
    }

    /// Ends the fast path's span: its record, with the route, status and body size, goes into the export
    /// queue as one value (`ServerSpanRecord`).
    func finish(_ answered: consuming Answered, route: String, status: Int, bodySize: Int) {
        guard var http = answered.fields.take() else { return }
        http.route = route
        http.status = status
        http.responseBodySize = bodySize
        tracer.exportServerSpan(
            answered.identity, parentSpanID: answered.parentSpanID, startNanos: answered.startNanos,
            endNanos: DefaultTracerClock.now.nanosecondsSinceEpoch, http: http)
    }

    /// The caller's span, from `traceparent` (and `tracestate`); nil when absent or malformed.
    private func remoteParent(_ headers: HTTPFields) -> SpanContext? {
        headers[.traceparent].flatMap { SpanContext(traceparent: $0, traceState: headers[Self.tracestate]) }
    }

    /// A request's HTTP fields as its span keeps them, whichever path answers it.
    private func fields(method: String, path: String, query: String?, headers: HTTPFields, authority: String?)
        -> HTTPServerFields
    {
        HTTPServerFields(
            method: method, path: path, query: query, authority: authority, serverAddress: serverAddress,
            serverPort: serverPort, userAgent: headers[.userAgent],
            requestBodySize: headers[.contentLength].flatMap { Int($0) })
    }

    private static let tracestate = HTTPField.Name("tracestate")!

    /// Names the span after its route template (the method alone when no route matched), records the
    /// status (error on 5xx) and, unless `end` is false (a streamed body ends it later), ends it. The
    /// name and the redaction of path and query are made by the exporter, off the request's thread.
    func finish(_ started: Started, route: String?, status: Int, bodySize: Int?, end: Bool = true) {
        started.span.finishHTTPServer(route: route, status: status, responseBodySize: bodySize, end: end)
    }
}
