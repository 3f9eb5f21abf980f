import KimeraObservability
import Synchronization
import Tracing

/// A finished span as the exporter encodes it: ids, name, kind, times, attributes, status, events.
package struct FinishedSpan: Sendable {
    var context: SpanContext
    var parentSpanID: UInt64
    /// True when the parent came from a request's `traceparent`.
    var parentIsRemote: Bool
    var name: String
    var kind: SpanKind
    var startNanos: UInt64
    var endNanos: UInt64
    var attributes: SpanAttributes
    var status: SpanStatus?
    var events: [SpanEvent]
    var links: [SpanLink]
    /// A server span's HTTP attributes, typed: set per request without a String-keyed dictionary, written
    /// as attributes by the exporter (OTLPEncoding), which also makes the `METHOD /route` name.
    var http: HTTPServerFields?

    /// The name the span is exported under: `METHOD /route/template` for a server span whose route
    /// matched and that kept its method as its name, else the name it was given.
    var exportedName: String {
        if let http, let route = http.route, name == http.method { return "\(http.method) \(route)" }
        return name
    }
}

/// The HTTP semantic-convention attributes of a server span (`http.request.method`, `url.path`,
/// `url.query`, `url.scheme`, `server.address`, `server.port`, `network.protocol.version`,
/// `user_agent.original`, the body sizes, `http.route`, `http.response.status_code`, `error.type`).
/// They are kept as the request brought them (the path and query unredacted, the Host header unparsed)
/// and made into attributes by the exporter, off the request's thread: redaction (`Redaction`) and the
/// Host header's split into `server.address` and `server.port` cost the request nothing.
package struct HTTPServerFields: Sendable, Equatable {
    package var method: String
    package var path: String
    package var query: String?
    /// The Host header as the client wrote it (`host[:port]`), nil when absent.
    package var authority: String?
    /// Where the server listens: `server.address`/`server.port` when the request names no host.
    package var listenAddress: String
    package var listenPort: Int
    package var userAgent: String?
    package var requestBodySize: Int?
    package var route: String?
    package var status: Int?
    package var responseBodySize: Int?

    package init(
        method: String, path: String, query: String?, authority: String? = nil, serverAddress: String,
        serverPort: Int, userAgent: String?, requestBodySize: Int?
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.authority = authority
        listenAddress = serverAddress
        listenPort = serverPort
        self.userAgent = userAgent
        self.requestBodySize = requestBodySize
    }

    /// `server.address` and `server.port`: as the client addressed us (the Host header), else where we
    /// listen.
    var server: (address: String, port: Int) {
        let named = Self.hostAndPort(authority)
        return (named?.host ?? listenAddress, named?.port ?? listenPort)
    }

    /// `host[:port]` or `[v6]:port` of a Host header; nil when absent or empty.
    package static func hostAndPort(_ authority: String?) -> (host: String, port: Int?)? {
        guard let authority, !authority.isEmpty else { return nil }
        // Scanned as bytes: `contains("]")` on a Substring is Foundation's string search, and slicing
        // the String itself at a UTF-8 index aligns it to a scalar first.
        let utf8 = authority.utf8
        if let colon = utf8.lastIndex(of: UInt8(ascii: ":")), !utf8[colon...].contains(UInt8(ascii: "]")),
            let port = Int(Substring(utf8[utf8.index(after: colon)...]))
        {
            return (String(Substring(utf8[..<colon])), port)
        }
        return (authority, nil)
    }

    /// The attributes as `Span.attributes` shows them.
    var attributes: SpanAttributes {
        var attributes = SpanAttributes()
        let server = server
        attributes["http.request.method"] = method
        attributes["url.path"] = Redaction.path(path)
        attributes["url.scheme"] = "http"
        attributes["server.address"] = server.address
        attributes["server.port"] = server.port
        attributes["network.protocol.version"] = "1.1"
        if let query { attributes["url.query"] = Redaction.query(query) }
        if let userAgent { attributes["user_agent.original"] = userAgent }
        if let requestBodySize { attributes["http.request.body.size"] = requestBodySize }
        if let route { attributes["http.route"] = route }
        if let status {
            attributes["http.response.status_code"] = status
            if status >= 500 { attributes["error.type"] = String(status) }
        }
        if let responseBodySize { attributes["http.response.body.size"] = responseBodySize }
        return attributes
    }
}

/// What the export queue of spans holds: a span object, or the record of a server span the fast path
/// answered whole (no object is made for it: `KimeraTracer.exportServerSpan`).
package enum ExportedSpan: Sendable {
    case span(KimeraSpan)
    case server(ServerSpanRecord)
}

/// A request's server span made in one go by the fast path, which knows everything about its request
/// when it answers: ids, times and HTTP fields, moved into the queue as they are. The exporter writes it as
/// it would write the `FinishedSpan` of a span object ended the same way (`KimeraSpan.finishHTTPServer`).
/// Its parent is two plain fields, not a `SpanContext?`, whose copies go through the runtime's witnesses.
package struct ServerSpanRecord: Sendable {
    var context: SpanContext
    /// The caller's span id, from `traceparent`; 0 for the root of a new trace.
    var parentSpanID: UInt64
    /// True when the parent came from a request's `traceparent`.
    var parentIsRemote: Bool
    var startNanos: UInt64
    var endNanos: UInt64
    var http: HTTPServerFields
}

/// Kimera's OpenTelemetry tracer (swift-distributed-tracing's `Tracer`): W3C Trace Context propagation,
/// the configured sampler, and spans that cost one allocation. Ending a sampled span appends the span
/// itself (a reference: its record is not copied) to the bounded export queue (docs/OPERATIONS.md "OpenTelemetry export");
/// nothing else happens per span on the request's thread, and no task is made for it.
public struct KimeraTracer: Tracer {
    public typealias Span = KimeraSpan

    let sampler: Sampler
    let ids: IDGenerator
    /// Where ended sampled spans go; nil makes every span non-recording (traces not exported).
    let queue: ExportQueue<ExportedSpan>?

    package init(sampler: Sampler, queue: ExportQueue<ExportedSpan>?) {
        self.sampler = sampler
        self.queue = queue
        ids = IDGenerator()
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> KimeraSpan {
        let parentContext = context()
        let parent = parentContext.spanContext
        let identity = identity(parent: parent)
        return KimeraSpan(
            name: operationName, kind: kind, identity: identity, parent: parent, parentContext: parentContext,
            startNanos: instant().nanosecondsSinceEpoch, queue: identity.sampled ? queue : nil)
    }

    /// A request's server span (`ServerSpans`), started without a context to read or build: its parent
    /// is the caller's span from `traceparent` (`remote`) or none, and its HTTP fields are kept only when
    /// it is sampled. Its `context` is made only if something asks for it.
    package func startServerSpan(
        _ name: String, remote: SpanContext?, http: @autoclosure () -> HTTPServerFields
    ) -> KimeraSpan {
        let identity = identity(parent: remote)
        return KimeraSpan(
            name: name, kind: .server, identity: identity, parent: remote, parentContext: nil,
            startNanos: DefaultTracerClock.now.nanosecondsSinceEpoch, queue: identity.sampled ? queue : nil,
            http: identity.sampled ? http() : nil)
    }

    /// The ids of a server span the fast path makes without an object (`exportServerSpan`): a child of `remote`,
    /// else the root of a new trace; sampled when it is to be exported.
    package func serverSpanIdentity(remote: SpanContext?) -> SpanContext { identity(parent: remote) }

    /// Queues a server span made whole (sampled: `serverSpanIdentity`'s decision) as one record.
    /// `parentSpanID` is the caller's span (`traceparent`), 0 for a new trace.
    package func exportServerSpan(
        _ identity: SpanContext, parentSpanID: UInt64, startNanos: UInt64, endNanos: UInt64,
        http: consuming HTTPServerFields
    ) {
        queue?.offer(
            .server(
                ServerSpanRecord(
                    context: identity, parentSpanID: parentSpanID, parentIsRemote: parentSpanID != 0,
                    startNanos: startNanos, endNanos: endNanos, http: http)))
    }

    /// A new span's ids: the parent's trace (else a new one), a new span id, and the sampler's decision.
    @inline(__always)
    private func identity(parent: SpanContext?) -> SpanContext {
        var identity: SpanContext
        if let parent {
            identity = SpanContext(
                traceIDHigh: parent.traceIDHigh, traceIDLow: parent.traceIDLow, spanID: ids.next(), sampled: false,
                traceState: parent.traceState)
        } else {
            let new = ids.nextTrace()
            identity = SpanContext(
                traceIDHigh: new.high, traceIDLow: new.low, spanID: new.span, sampled: false, traceState: nil)
        }
        identity.sampled = queue != nil && sampler.shouldSample(traceIDLow: identity.traceIDLow, parent: parent)
        return identity
    }

    /// Reads `traceparent` (and `tracestate`) into the context; a malformed one is ignored.
    public func extract<Carrier, Extract>(
        _ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract
    ) where Extract: Extractor, Extract.Carrier == Carrier {
        guard let traceparent = extractor.extract(key: "traceparent", from: carrier),
            let remote = SpanContext(
                traceparent: traceparent, traceState: extractor.extract(key: "tracestate", from: carrier))
        else { return }
        context.spanContext = remote
    }

    /// Writes the context's span as `traceparent` (and its `tracestate`, when the caller sent one).
    public func inject<Carrier, Inject>(
        _ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject: Injector, Inject.Carrier == Carrier {
        guard let span = context.spanContext else { return }
        injector.inject(span.traceparent, forKey: "traceparent", into: &carrier)
        if let state = span.traceState, !state.isEmpty { injector.inject(state, forKey: "tracestate", into: &carrier) }
    }

    /// Spans are exported by the exporter's own schedule; there is nothing to flush from here.
    public func forceFlush() {}
}

/// A span of `KimeraTracer`: one object, mutable until it ends, when it goes into the export queue as it
/// is; the exporter reads its record there. A non-sampled span keeps its ids (they are propagated) and records nothing.
public final class KimeraSpan: Span {
    /// The span's own context, for `context` without the lock.
    let identity: SpanContext
    /// The context the span was started in; nil for a server span started from its `traceparent` alone
    /// (its context is then the top level with this span in it).
    let parentContext: InstrumentationContext?
    /// Nil when not sampled.
    let queue: ExportQueue<ExportedSpan>?
    /// The record being built, and whether the span has ended. A span is Sendable: any task holding it may
    /// set its attributes or end it, so it is behind a lock (uncontended in practice). Once ended, the
    /// record no longer changes (what is set later is ignored, as the specification asks): the exporter
    /// reads it where it is.
    private let state: Mutex<(record: FinishedSpan, ended: Bool)>

    init(
        name: String, kind: SpanKind, identity: SpanContext, parent: SpanContext?,
        parentContext: InstrumentationContext?, startNanos: UInt64, queue: ExportQueue<ExportedSpan>?,
        http: HTTPServerFields? = nil
    ) {
        self.identity = identity
        self.parentContext = parentContext
        self.queue = queue
        let record = FinishedSpan(
            context: identity, parentSpanID: parent?.spanID ?? 0, parentIsRemote: parent?.isRemote ?? false,
            name: name, kind: kind, startNanos: startNanos, endNanos: 0, attributes: SpanAttributes(), status: nil, events: [],
            links: [], http: http)
        state = Mutex((record, false))
    }

    /// Whether the span records (sampled, export on).
    package var isSampled: Bool { queue != nil }

    /// This span's ids, without building a context.
    public var spanContext: SpanContext { identity }

    /// Changes the attributes in place: `Span`'s own `updateAttributes` copies them out and back, which
    /// copies the dictionary each time.
    public func updateAttributes(_ update: (inout SpanAttributes) -> Void) {
        guard queue != nil else { return }
        state.locked { state in
            guard !state.ended else { return }
            if state.record.attributes.isEmpty { state.record.attributes.reserveCapacity(16) }
            update(&state.record.attributes)
        }
    }

    /// Records a server span's route, status and response body size (error status on 5xx), and ends it
    /// unless `end` is false (a streamed body ends it with its last byte). The name becomes
    /// `METHOD /route` when exported.
    package func finishHTTPServer(route: String?, status: Int, responseBodySize: Int?, end: Bool) {
        guard let queue else { return }
        let endNanos = end ? DefaultTracerClock.now.nanosecondsSinceEpoch : 0
        let ended = state.locked { state -> Bool in
            guard !state.ended else { return false }
            state.record.http?.route = route
            state.record.http?.status = status
            state.record.http?.responseBodySize = responseBodySize
            if status >= 500, state.record.status?.code != .ok { state.record.status = SpanStatus(code: .error) }
            guard end else { return false }
            state.ended = true
            state.record.endNanos = endNanos
            return true
        }
        if ended { queue.offer(.span(self)) }
    }

    /// The caller's context with this span as its current span.
    public var context: InstrumentationContext {
        var context = parentContext ?? .topLevel
        context.spanContext = identity
        return context
    }

    public var operationName: String {
        get { state.locked { $0.record.exportedName } }
        set { state.locked { if !$0.ended { $0.record.name = newValue } } }
    }

    public var attributes: SpanAttributes {
        get {
            state.locked { state in
                guard let http = state.record.http else { return state.record.attributes }
                var merged = http.attributes
                state.record.attributes.forEach { merged[$0] = $1 }
                return merged
            }
        }
        set {
            guard queue != nil else { return }
            state.locked { if !$0.ended { $0.record.attributes = newValue } }
        }
    }

    public var isRecording: Bool { queue != nil && !state.locked { $0.ended } }

    public func setStatus(_ status: SpanStatus) {
        guard queue != nil else { return }
        state.locked { state in
            // The specification: Ok is final.
            if !state.ended, state.record.status?.code != .ok { state.record.status = status }
        }
    }

    public func addEvent(_ event: SpanEvent) {
        guard queue != nil else { return }
        state.locked { if !$0.ended { $0.record.events.append(event) } }
    }

    /// An `exception` event with the error's type and text (semantic conventions).
    public func recordError<Instant: TracerInstant>(
        _ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant
    ) {
        guard queue != nil else { return }
        var eventAttributes = attributes
        eventAttributes["exception.type"] = "\(type(of: error))"
        eventAttributes["exception.message"] = "\(error)"
        addEvent(SpanEvent(name: "exception", at: instant(), attributes: eventAttributes))
    }

    public func addLink(_ link: SpanLink) {
        guard queue != nil else { return }
        state.locked { if !$0.ended { $0.record.links.append(link) } }
    }

    /// Appends the finished span to the export queue; a second `end` does nothing.
    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard let queue else { return }
        let endNanos = instant().nanosecondsSinceEpoch
        let ended = state.locked { state -> Bool in
            guard !state.ended else { return false }
            state.ended = true
            state.record.endNanos = endNanos
            return true
        }
        if ended { queue.offer(.span(self)) }
    }

    /// The ended span's record, for the exporter: read in place under the span's lock (nothing writes
    /// it any more), never copied.
    package func withRecord<Result>(_ body: (inout FinishedSpan) -> Result) -> Result {
        state.locked { body(&$0.record) }
    }
}
