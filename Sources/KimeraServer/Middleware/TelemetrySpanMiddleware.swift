import HTTPTypes
import Hummingbird
import KimeraObservability
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
/// with export off it does not exist and costs nothing.
struct TelemetrySpanMiddleware: RouterMiddleware {
    typealias Context = KimeraRequestContext
    let tracer: any Tracer
    let serverAddress: String
    let serverPort: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var parent = InstrumentationContext.topLevel
        tracer.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        let method = request.method.rawValue
        let span = tracer.startSpan(method, context: parent, ofKind: .server)
        span.updateAttributes { attributes in
            attributes["http.request.method"] = method
            attributes["url.path"] = request.uri.path
            attributes["url.scheme"] = "http"
            // As the client addressed us (the Host header), else where we listen.
            let authority = Self.hostAndPort(request.head.authority)
            attributes["server.address"] = authority?.host ?? serverAddress
            attributes["server.port"] = authority?.port ?? serverPort
            attributes["network.protocol.version"] = "1.1"
            if let query = request.uri.query { attributes["url.query"] = Redaction.query(query) }
            if let agent = request.headers[.userAgent] { attributes["user_agent.original"] = agent }
            if let size = request.headers[.contentLength].flatMap({ Int($0) }) {
                attributes["http.request.body.size"] = size
            }
        }
        var carrier = TraceparentCarrier()
        tracer.inject(span.context, into: &carrier, using: TraceparentCarrier.Writer())
        let traceID = carrier.traceparent.flatMap(RequestIdentity.traceID(fromTraceparent:))

        var response: Response
        do {
            response = try await InstrumentationContext.$current.withValue(span.context) {
                try await RequestScope.$traceID.withValue(traceID) {
                    try await next(request, context)
                }
            }
        } catch {
            // RequestTracingMiddleware turns every error into a response; only cancellation gets here.
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            span.end()
            throw error
        }

        let route = context.endpointPath.flatMap { $0.hasPrefix("/") ? $0 : nil }
        span.operationName = route.map { "\(method) \($0)" } ?? method
        let status = Int(response.status.code)
        span.updateAttributes { attributes in
            if let route { attributes["http.route"] = route }
            attributes["http.response.status_code"] = status
            if let size = response.body.contentLength { attributes["http.response.body.size"] = size }
            if status >= 500 { attributes["error.type"] = String(status) }
        }
        if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
        if let traceparent = carrier.traceparent {
            response.headers.append(HTTPField(name: .traceparent, value: traceparent))
        }
        if response.body.contentLength == nil {
            // A streamed body is written after this returns: the span ends with its last byte.
            let body = response.body
            response.body = ResponseBody { writer in
                defer { span.end() }
                try await body.write(writer)
            }
        } else {
            span.end()
        }
        return response
    }
}

extension TelemetrySpanMiddleware {
    /// `host[:port]` or `[v6]:port` of a Host header; nil when absent or empty.
    static func hostAndPort(_ authority: String?) -> (host: String, port: Int?)? {
        guard let authority, !authority.isEmpty else { return nil }
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]"),
            let port = Int(authority[authority.index(after: colon)...])
        {
            return (String(authority[..<colon]), port)
        }
        return (authority, nil)
    }
}

/// Reads propagation headers (`traceparent`, `tracestate`, `baggage`) from the request.
struct HTTPFieldsExtractor: Extractor {
    func extract(key name: String, from headers: HTTPFields) -> String? {
        guard let fieldName = HTTPField.Name(name) else { return nil }
        return headers[fieldName]
    }
}

/// Catches the `traceparent` a tracer injects, to stamp it on the response and read its trace id.
struct TraceparentCarrier {
    var traceparent: String?

    struct Writer: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout TraceparentCarrier) {
            if key.lowercased() == "traceparent" { carrier.traceparent = value }
        }
    }
}
