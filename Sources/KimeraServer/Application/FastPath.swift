import Foundation
import HTTPTypes
import Hummingbird
import KimeraObservability
import NIOCore
import NIOHTTPTypes
import Synchronization
import Tracing

/// Answers, on the connection's event loop, the requests that need no handler — `GET /health` and fresh
/// response-cache hits — with the bytes and headers the full path (middleware, router) would send, and
/// records them through the same `RequestRecording`. Everything else goes to the full path: a request
/// that any middleware might refuse or treat differently (a limit it breaks, access control that would
/// look at it, a body, `bypass_cache`, `Connection` other than keep-alive, performance off for the
/// cache) is not answered here.
struct FastPathResponder: Sendable {
    let recording: RequestRecording
    let limits: RequestLimitsMiddleware
    let access: AccessControlMiddleware
    let escalation: DebugEscalationMiddleware
    let health: HealthBody
    let cache: ResponseCache
    let runtime: RuntimeConfiguration
    /// The server spans of OpenTelemetry export; nil while it is off.
    let spans: ServerSpans?
    let answered: FastPathCount

    init(
        engine: ObservabilityEngine, limits: RequestLimitsMiddleware, access: AccessControlMiddleware,
        escalation: DebugEscalationMiddleware, spans: ServerSpans? = nil, answered: FastPathCount
    ) {
        self.escalation = escalation
        recording = RequestRecording(engine: engine)
        self.spans = spans
        self.answered = answered
        self.limits = limits
        self.access = access
        health = HealthBody(engine: engine)
        cache = engine.cache
        runtime = engine.runtime
    }

    /// Whether a request may be answered here, judged on its head alone: a bodiless GET of an
    /// origin-form target with no fragment, and no connection option but keep-alive.
    func isCandidate(_ head: HTTPRequest) -> Bool {
        guard head.method == .get, let target = head.path, target.utf8.first == UInt8(ascii: "/") else {
            return false
        }
        let fields = head.headerFields
        if fields[.contentLength] != nil || fields[.transferEncoding] != nil { return false }
        if let connection = fields[.connection], connection.lowercased() != "keep-alive" { return false }
        return !target.utf8.contains(UInt8(ascii: "#"))
    }

    /// The response to a candidate, or nil when the full path must answer it. Records the request
    /// (statistics, traces, access log) when it answers.
    func respond(to head: HTTPRequest, allocator: ByteBufferAllocator, date: String) -> (HTTPResponse, ByteBuffer)? {
        guard let target = head.path else { return nil }
        let path: String
        let query: String?
        if let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = String(target[..<mark])
            let rest = target[target.utf8.index(after: mark)...]
            // An empty query is left to the full path (URI's "no query" and "empty query" differ).
            guard !rest.isEmpty else { return nil }
            query = String(rest)
        } else {
            path = target
            query = nil
        }
        let fields = head.headerFields
        // A spelling other than the canonical one goes to the full path, where `RequestTarget` rewrites
        // it before the router matches: the route decides access and caching, whatever the spelling.
        guard RequestTarget.isCanonicalOriginForm(target), limits.refusal(uri: target, headers: fields) == nil,
            !escalation.asks(fields)
        else { return nil }

        let route: String
        var headers: HTTPFields
        let body: ByteBuffer
        if path == "/health" {
            route = "/health"
            guard !access.mayCheck(method: head.method, route: route, headers: fields) else { return nil }
            body = health.render(allocator)
            headers = health.headers(for: body)
        } else if head.method == .get, runtime.performance {
            // One parsed query, as the cache middleware and the handlers read it.
            let parsed = ParsedQuery(query)
            guard !parsed.contains(ResponseCache.bypassParameter),
                let hit = cache.lookup(ResponseCache.key(path: path, parsed: parsed)), hit.status == .ok,
                // The hit's route decides access. No cacheable route is protected today, so this never
                // leaves a counted hit to be looked up again by the full path.
                !access.mayCheck(method: head.method, route: hit.route, headers: fields)
            else { return nil }
            route = hit.route
            body = hit.body
            headers = ResponseCacheMiddleware.headers(of: hit)
        } else {
            return nil
        }
        // Export on: the request's server span, made as TelemetrySpanMiddleware makes it. Its trace id may
        // be the request id; its context is made current only where a log record may be written.
        let server = spans?.startAnswered(
            method: head.method, path: path, query: query, headers: fields, authority: head.authority)
        record(head, path: path, query: query, route: route, headers: &headers, body: body, date: date, span: server)
        if let spans, let server { spans.finish(server, route: route, status: 200, bodySize: body.readableBytes) }
        return (HTTPResponse(status: .ok, headerFields: headers), body)
    }

    /// Records an answered request (statistics, traces, access log) and appends the Kimera headers, the
    /// span's `traceparent` when there is one, and `Date`, in the order the full path sends them.
    private func record(
        _ head: HTTPRequest, path: String, query: String?, route: String, headers: inout HTTPFields, body: ByteBuffer,
        date: String, span: ServerSpans.Answered?
    ) {
        let fields = head.headerFields
        let start = recording.start(fields, spanTraceID: span?.traceID)
        let trace = recording.complete(
            start, method: head.method, path: path, query: query, requestHeaders: fields, route: route, status: .ok,
            headers: &headers, bytesOut: body.readableBytes, error: nil)
        if let span { headers.append(HTTPField(name: .traceparent, value: span.traceparent)) }
        // Hummingbird sets Date after the middleware ran, so the trace does not show it there either.
        headers.append(HTTPField(name: .date, value: date))
        func finish() {
            recording.finish(trace)
            recording.logAccess(start, trace, requestHeaders: fields)
        }
        // A log record (the slow-request warning, the access log) carries the span's ids from the current
        // context; only a request that may write one pays for making it current.
        if let span, recording.mayLog(start, trace) {
            InstrumentationContext.$current.withValue(span.context) { finish() }
        } else {
            finish()
        }
        answered.value.add(1, ordering: .relaxed)
    }
}

/// How many requests the fast path answered (one relaxed atomic add each), for tests and diagnosis.
final class FastPathCount: Sendable {
    let value = Atomic<Int>(0)
    var count: Int { value.load(ordering: .relaxed) }
}

/// The fast path in one connection's pipeline, after Hummingbird's connection-state handler and before
/// its async responder. It holds a candidate request's head until the request's end, then answers it
/// itself or passes head and end on. It never answers while a request it passed on is still being
/// answered (its response's end not yet written past this handler), so responses keep the order of
/// their requests on a pipelined connection. Its responses go through the connection-state and
/// connection-tracking handlers like every other: idle timeout, quiesce and the drain's
/// `Connection: close` apply unchanged.
final class FastPathHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let responder: FastPathResponder
    /// Requests passed on whose response end has not come past yet.
    private var passedOn = 0
    /// A candidate whose end has not arrived yet.
    private var held: HTTPRequest?
    private var needsFlush = false
    private var date = HTTPDate()

    init(responder: FastPathResponder) { self.responder = responder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if passedOn == 0 && held == nil && responder.isCandidate(head) {
                held = head
                return
            }
            passOn(context, head: nil, data)
        case .body:
            // Not after a candidate (it announced no body), but should one come: the full path reads it.
            passOn(context, head: held, data)
        case .end:
            guard let head = held else { return context.fireChannelRead(data) }
            held = nil
            let now = date.current()
            guard let (response, body) = responder.respond(to: head, allocator: context.channel.allocator, date: now)
            else {
                return passOn(context, head: head, data)
            }
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(body)), promise: nil)
            context.write(wrapOutboundOut(.end(nil)), promise: nil)
            needsFlush = true
        }
    }

    /// Passes `data` on, after a held head when there is one.
    private func passOn(_ context: ChannelHandlerContext, head: HTTPRequest?, _ data: NIOAny) {
        if let head {
            held = nil
            passedOn += 1
            context.fireChannelRead(wrapInboundOut(.head(head)))
        } else if case .head = unwrapInboundIn(data) {
            passedOn += 1
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // One flush for every response answered in this read: pipelined requests go out together.
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), passedOn > 0 { passedOn -= 1 }
        context.write(data, promise: promise)
    }
}

/// The `Date` header value (RFC 9110 IMF-fixdate, as Hummingbird writes it), formatted at most once a
/// second per connection.
struct HTTPDate {
    private var second: Int = -1
    private var text = ""

    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    mutating func current() -> String {
        let now = Int(Timestamp.wallNanos() / 1_000_000_000)
        if now != second {
            second = now
            text = Self.format(epochSeconds: now)
        }
        return text
    }

    static func format(epochSeconds: Int) -> String {
        var time = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(days[(epochSeconds / 86400) % 7]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(1900 + Int(parts.tm_year)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
