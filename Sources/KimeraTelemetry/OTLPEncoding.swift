import KimeraObservability
import Logging
import Tracing

/// The OTLP/HTTP protobuf messages Kimera sends, written field by field with `ProtobufWriter`. Field
/// numbers are those of opentelemetry-proto 1.x (`collector/trace/v1/trace_service.proto`,
/// `trace/v1/trace.proto`, `logs/v1/logs.proto`, `common/v1/common.proto`,
/// `resource/v1/resource.proto`); the tests decode every field with the reference definitions
/// (scripts/otlp-receiver.py).
package enum OTLPEncoding {
    /// The resource and instrumentation scope every request carries, encoded once.
    package struct Preamble: Sendable {
        /// `Resource` message bytes (field 1 of ResourceSpans / ResourceLogs).
        let resource: [UInt8]
        /// `InstrumentationScope` message bytes (field 1 of ScopeSpans / ScopeLogs).
        let scope: [UInt8]

        package init(resourceAttributes: [(String, String)], scopeName: String, scopeVersion: String) {
            var writer = ProtobufWriter()
            for (key, value) in resourceAttributes {
                writer.message(1) { $0.keyValue(key, string: value) }  // Resource.attributes
            }
            resource = writer.bytes
            writer.reset()
            writer.string(1, scopeName)  // InstrumentationScope.name
            writer.string(2, scopeVersion)  // InstrumentationScope.version
            scope = writer.bytes
        }
    }

    /// `ExportTraceServiceRequest` of one batch.
    package static func traces(_ spans: [ExportedSpan], preamble: Preamble, into writer: inout ProtobufWriter) {
        // A batch of a busy server is mostly spans of the same few requests: the HTTP attributes of the
        // previous span are written again as bytes when the next span's fields are the same.
        var previous = HTTPAttributeBytes()
        request(spans, preamble: preamble, into: &writer) { writer, item in
            switch item {
            case .span(let span): span.withRecord { writer.span($0, previous: &previous) }
            case .server(let record): writer.serverSpan(record, previous: &previous)
            }
        }
    }

    /// `ExportLogsServiceRequest` of one batch.
    static func logs(_ records: [LogRecordData], preamble: Preamble, into writer: inout ProtobufWriter) {
        request(records, preamble: preamble, into: &writer) { $0.logRecord($1) }
    }

    /// Both requests have one shape: `resource_spans`/`resource_logs` (1) holding the resource (1) and one
    /// `scope_spans`/`scope_logs` (2), which holds the scope (1) and the items (2).
    private static func request<Item>(
        _ items: [Item], preamble: Preamble, into writer: inout ProtobufWriter,
        item write: (inout ProtobufWriter, Item) -> Void
    ) {
        // A batch's lengths take three bytes, an item's two (spans and records of 128 B to 16 KB).
        writer.message(1, lengthBytes: 3) { resource in
            resource.embedded(1, preamble.resource)
            resource.message(2, lengthBytes: 3) { scope in
                scope.embedded(1, preamble.scope)
                for item in items { scope.message(2, lengthBytes: 2) { write(&$0, item) } }
            }
        }
    }
}

/// The HTTP attributes last encoded in a batch, and their bytes (none yet while `bytes` is empty).
struct HTTPAttributeBytes {
    var fields = HTTPServerFields(
        method: "", path: "", query: nil, serverAddress: "", serverPort: 0, userAgent: nil, requestBodySize: nil)
    var bytes: [UInt8] = []
}

extension ProtobufWriter {
    /// A length-delimited field whose bytes were encoded before.
    mutating func embedded(_ field: Int, _ message: [UInt8]) {
        tag(field, .lengthDelimited)
        varint(UInt64(message.count))
        appendRaw(message)
    }

    /// `trace.v1.Span`.
    /// Its HTTP attributes are copied from `previous` when they are the same.
    mutating func span(_ span: FinishedSpan, previous: inout HTTPAttributeBytes) {
        spanHead(span.context, parentSpanID: span.parentSpanID)
        if let http = span.http, let route = http.route, span.name == http.method {
            string(5, http.method, " ", route)  // name: METHOD /route, without making the string
        } else {
            string(5, span.name)  // name
        }
        spanTimes(kind: Self.kind(span.kind), start: span.startNanos, end: span.endNanos)
        if let http = span.http { httpAttributes(http, previous: &previous) }
        span.attributes.forEach { key, value in
            message(9) { $0.keyValue(key, value) }  // attributes
        }
        for event in span.events {
            message(11) { writer in  // events: Span.Event
                writer.fixed64(1, event.nanosecondsSinceEpoch)  // time_unix_nano
                writer.string(2, event.name)  // name
                event.attributes.forEach { key, value in writer.message(3) { $0.keyValue(key, value) } }
            }
        }
        for link in span.links {
            guard let linked = link.context.spanContext else { continue }
            message(13) { writer in  // links: Span.Link
                writer.id(1, high: linked.traceIDHigh, low: linked.traceIDLow)  // trace_id
                writer.id(2, linked.spanID)  // span_id
                writer.string(3, linked.traceState ?? "")  // trace_state
                link.attributes.forEach { key, value in writer.message(4) { $0.keyValue(key, value) } }
                // flags: sampled, and whether the linked context is remote (bits 8 and 9).
                writer.fixed32(6, (linked.sampled ? 1 : 0) | 0x100 | (linked.isRemote ? 0x200 : 0))
            }
        }
        spanTail(span.status, sampled: span.context.sampled, parentIsRemote: span.parentIsRemote)
    }

    /// `trace.v1.Span` of a request the fast path answered, written from its record as `span` would
    /// write the `FinishedSpan` of a span object ended the same way, without making one.
    mutating func serverSpan(_ record: ServerSpanRecord, previous: inout HTTPAttributeBytes) {
        spanHead(record.context, parentSpanID: record.parentSpanID)
        if let route = record.http.route {
            string(5, record.http.method, " ", route)  // name: METHOD /route
        } else {
            string(5, record.http.method)  // name
        }
        spanTimes(kind: Self.kind(.server), start: record.startNanos, end: record.endNanos)
        httpAttributes(record.http, previous: &previous)
        let failed = (record.http.status ?? 0) >= 500
        spanTail(failed ? SpanStatus(code: .error) : nil, sampled: record.context.sampled,
                 parentIsRemote: record.parentIsRemote)
    }

    /// A span's ids (fields 1 to 4).
    private mutating func spanHead(_ context: SpanContext, parentSpanID: UInt64) {
        id(1, high: context.traceIDHigh, low: context.traceIDLow)  // trace_id
        id(2, context.spanID)  // span_id
        string(3, context.traceState ?? "")  // trace_state
        id(4, parentSpanID)  // parent_span_id
    }

    /// A span's kind and times (fields 6 to 8).
    private mutating func spanTimes(kind: UInt64, start: UInt64, end: UInt64) {
        uint(6, kind)  // kind
        fixed64(7, start)  // start_time_unix_nano
        fixed64(8, end)  // end_time_unix_nano
    }

    /// A span's status and flags (fields 15 and 16).
    private mutating func spanTail(_ status: SpanStatus?, sampled: Bool, parentIsRemote: Bool) {
        if let status {
            message(15) { writer in  // status
                writer.string(2, status.message ?? "")  // Status.message
                writer.uint(3, status.code == .ok ? 1 : 2)  // Status.code: OK 1, ERROR 2
            }
        }
        // flags: the W3C trace flags (sampled) and whether the parent is remote (bits 8 and 9).
        var flags: UInt32 = sampled ? 1 : 0
        flags |= 0x100
        if parentIsRemote { flags |= 0x200 }
        fixed32(16, flags)
    }

    /// The HTTP attributes, copied from `previous` when its fields are the same.
    private mutating func httpAttributes(_ http: HTTPServerFields, previous: inout HTTPAttributeBytes) {
        if !previous.bytes.isEmpty && previous.fields == http {
            previous.bytes.withUnsafeBufferPointer { appendRaw($0) }
        } else {
            let start = count
            httpAttributes(http)
            previous.fields = http
            previous.bytes = bytes(from: start)
        }
    }

    /// A server span's typed HTTP attributes, as `Span.attributes` (field 9) entries. Their keys are
    /// constants and their lengths known before writing, so each is written straight, without `message`.
    private mutating func httpAttributes(_ http: HTTPServerFields) {
        attribute("http.request.method", string: http.method)
        attribute("url.path", string: Redaction.path(http.path))
        attribute("url.scheme", string: "http")
        let server = http.server
        attribute("server.address", string: server.address)
        attribute("server.port", int: server.port)
        attribute("network.protocol.version", string: "1.1")
        if let query = http.query { attribute("url.query", string: Redaction.query(query)) }
        if let agent = http.userAgent { attribute("user_agent.original", string: agent) }
        if let size = http.requestBodySize { attribute("http.request.body.size", int: size) }
        if let route = http.route { attribute("http.route", string: route) }
        if let status = http.status {
            attribute("http.response.status_code", int: status)
            if status >= 500 { attribute("error.type", string: String(status)) }
        }
        if let size = http.responseBodySize { attribute("http.response.body.size", int: size) }
    }

    /// `Span.attributes` (9): a `KeyValue` whose value is `AnyValue.string_value` (1).
    private mutating func attribute(_ key: StaticString, string value: String) {
        var value = value
        value.withUTF8 { utf8 in
            attribute(key, valueSize: 1 + Self.varintSize(UInt64(utf8.count)) + utf8.count) { writer in
                writer.tag(1, .lengthDelimited)
                writer.varint(UInt64(utf8.count))
                writer.appendRaw(utf8)
            }
        }
    }

    /// `Span.attributes` (9): a `KeyValue` whose value is `AnyValue.int_value` (3).
    private mutating func attribute(_ key: StaticString, int value: Int) {
        let bits = UInt64(bitPattern: Int64(value))
        attribute(key, valueSize: 1 + Self.varintSize(bits)) { writer in
            writer.tag(3, .varint)
            writer.varint(bits)
        }
    }

    /// A `KeyValue` (field 9) whose `AnyValue` is `valueSize` bytes long, written by `value`.
    @inline(__always)
    private mutating func attribute(_ key: StaticString, valueSize: Int, value: (inout ProtobufWriter) -> Void) {
        let keySize = key.utf8CodeUnitCount
        let size = 1 + Self.varintSize(UInt64(keySize)) + keySize + 1 + Self.varintSize(UInt64(valueSize)) + valueSize
        tag(9, .lengthDelimited)
        varint(UInt64(size))
        tag(1, .lengthDelimited)  // KeyValue.key
        varint(UInt64(keySize))
        key.withUTF8Buffer { appendRaw($0) }
        tag(2, .lengthDelimited)  // KeyValue.value
        varint(UInt64(valueSize))
        value(&self)
    }

    static func kind(_ kind: SpanKind) -> UInt64 {
        switch kind {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        }
    }

    /// `common.v1.KeyValue` with a string value.
    mutating func keyValue(_ key: String, string value: String) {
        string(1, key)
        message(2) { $0.string(1, value, always: true) }  // AnyValue.string_value
    }

    /// `common.v1.KeyValue` of a span attribute.
    mutating func keyValue(_ key: String, _ value: SpanAttribute) {
        string(1, key)
        message(2) { $0.anyValue(value) }
    }

    /// `common.v1.AnyValue`.
    mutating func anyValue(_ value: SpanAttribute) {
        switch value {
        case .int32(let number): integer(Int64(number))
        case .int64(let number): integer(number)
        case .double(let number): double(4, number)  // double_value
        case .bool(let flag): bool(2, flag)  // bool_value
        case .string(let text): string(1, text, always: true)  // string_value
        case .stringConvertible(let convertible): string(1, convertible.description, always: true)
        case .int32Array(let values): array(values.map { .int64(Int64($0)) })
        case .int64Array(let values): array(values.map { .int64($0) })
        case .doubleArray(let values): array(values.map { .double($0) })
        case .boolArray(let values): array(values.map { .bool($0) })
        case .stringArray(let values): array(values.map { .string($0) })
        case .stringConvertibleArray(let values): array(values.map { .string($0.description) })
        default: string(1, "", always: true)
        }
    }

    /// `int_value`, written even when 0 (a oneof member).
    private mutating func integer(_ value: Int64) {
        tag(3, .varint)
        varint(UInt64(bitPattern: value))
    }

    private mutating func array(_ values: [SpanAttribute]) {
        message(5) { array in  // AnyValue.array_value
            for value in values { array.message(1) { $0.anyValue(value) } }  // ArrayValue.values
        }
    }

    /// `logs.v1.LogRecord`.
    mutating func logRecord(_ record: LogRecordData) {
        fixed64(1, record.timeNanos)  // time_unix_nano
        uint(2, record.severityNumber)  // severity_number
        string(3, record.severityText)  // severity_text
        message(5) { $0.string(1, record.body, always: true) }  // body: AnyValue.string_value
        for (key, value) in record.attributes {
            message(6) { $0.keyValue(key, string: value) }  // attributes
        }
        message(6) { $0.keyValue("code.filepath", string: record.file) }
        message(6) { $0.keyValue("code.function", string: record.function) }
        message(6) { writer in  // code.lineno, an int
            writer.string(1, "code.lineno")
            writer.message(2) { $0.integer(Int64(record.line)) }
        }
        if let trace = record.trace {
            fixed32(8, trace.sampled ? 1 : 0)  // flags
            id(9, high: trace.traceIDHigh, low: trace.traceIDLow)  // trace_id
            id(10, trace.spanID)  // span_id
        }
        fixed64(11, record.timeNanos)  // observed_time_unix_nano
    }
}
