import Foundation
import Logging
import Testing
import Tracing

@testable import KimeraTelemetry

/// Kimera's hand-written OTLP protobuf, sent by its exporter and decoded by the reference definitions
/// (scripts/otlp-receiver.py, opentelemetry-proto): every field Kimera writes comes back with its value.
@Suite(.serialized) struct OTLPEncodingTests {
    static func settings(_ receiver: OTLPReceiver, _ path: String, gzip: Bool) -> SignalExportSettings {
        SignalExportSettings(
            endpoint: "\(receiver.endpoint)/\(path)", headers: [("x-test", "1")], gzip: gzip, timeout: .seconds(5),
            scheduleDelay: .milliseconds(50), maxQueueSize: 64, maxBatchSize: 16)
    }

    /// Runs an exporter of `queue` until `done`, then stops it as the server's shutdown would.
    static func export<Item: Sendable>(
        _ exporter: OTLPExporter<Item>, _ queue: ExportQueue<Item>, until done: () async -> Bool
    ) async throws {
        let task = Task { try await exporter.run() }
        let arrived = await eventually(timeout: .seconds(15)) { await done() }
        queue.stop()
        try await task.value
        #expect(arrived)
    }

    @Test(arguments: [false, true]) func everySpanFieldDecodesAsWritten(gzip: Bool) async throws {
        let directory = temporaryDirectory("kimera-otlp-encoding")
        defer { try? FileManager.default.removeItem(at: directory) }
        let receiver = try await OTLPReceiver.start(output: directory.appendingPathComponent("received.jsonl"))
        defer { Task { await receiver.stop() } }

        let queue = ExportQueue<ExportedSpan>(capacity: 64, batchSize: 16)
        let tracer = KimeraTracer(sampler: .alwaysOn, queue: queue)
        var parent = InstrumentationContext.topLevel
        tracer.extract(
            ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "vendor=a1"],
            into: &parent, using: DictionaryExtractor())
        let span = tracer.startSpan("GET /kimera/geoids/{id}", context: parent, ofKind: .server)
        span.attributes["text"] = "naïve ✓ über"
        span.attributes["empty"] = ""
        span.attributes["int"] = 200
        span.attributes["negative"] = -3
        span.attributes["zero"] = 0
        span.attributes["double"] = 2.5
        span.attributes["flag"] = true
        span.attributes["off"] = false
        span.attributes["strings"] = ["a", "b"]
        span.attributes["ints"] = [1, 2, 3] as [Int64]
        span.addEvent(SpanEvent(name: "cache.miss", attributes: ["key": "/health"]))
        struct Failure: Error, CustomStringConvertible { var description: String { "disk full" } }
        span.recordError(Failure())
        span.setStatus(SpanStatus(code: .error, message: "boom"))
        let link = tracer.startSpan("linked", context: .topLevel, ofKind: .internal)
        span.addLink(SpanLink(context: link.context, attributes: ["why": "batch"]))
        let child = tracer.startSpan("vault.create_geoid", context: span.context, ofKind: .internal)
        child.end()
        span.end()

        let preamble = OTLPEncoding.Preamble(
            resourceAttributes: [("service.name", "encoding-test"), ("deployment.environment", "ci")],
            scopeName: "kimera", scopeVersion: "9.9.9")
        let exporter = OTLPExporter(
            name: "spans", settings: Self.settings(receiver, "v1/traces", gzip: gzip), queue: queue,
            failures: ExportFailures()
        ) { OTLPEncoding.traces($0, preamble: preamble, into: &$1) }
        let traceID = "0af7651916cd43dd8448eb211c80319c"
        try await Self.export(exporter, queue) { receiver.spans(traceID: traceID).count == 2 }

        let spans = receiver.spans(traceID: traceID)
        let server = try #require(spans.first { $0["name"] as? String == "GET /kimera/geoids/{id}" })
        let identity = try #require((span as KimeraSpan).context.spanContext)
        #expect(server["span_id"] as? String == identity.spanIDHex)
        #expect(server["parent_span_id"] as? String == "b7ad6b7169203331")
        #expect(server["trace_state"] as? String == "vendor=a1")
        #expect(server["kind"] as? Int == 2)
        #expect(server["status_code"] as? Int == 2)
        #expect(server["status_message"] as? String == "boom")
        // Sampled (bit 0), and the parent is remote (bits 8 and 9).
        #expect(server["flags"] as? Int == 0x301)
        let start = try #require(server["start_time_unix_nano"] as? Int)
        let end = try #require(server["end_time_unix_nano"] as? Int)
        #expect(start > 1_700_000_000_000_000_000 && end >= start)
        let attributes = try #require(server["attributes"] as? [String: Any])
        #expect(attributes["text"] as? String == "naïve ✓ über")
        #expect(attributes["empty"] as? String == "")
        #expect(attributes["int"] as? Int == 200)
        #expect(attributes["negative"] as? Int == -3)
        #expect(attributes["zero"] as? Int == 0)
        #expect(attributes["double"] as? Double == 2.5)
        #expect(attributes["flag"] as? Bool == true)
        #expect(attributes["off"] as? Bool == false)
        #expect(attributes["strings"] as? [String] == ["a", "b"])
        #expect(attributes["ints"] as? [Int] == [1, 2, 3])
        let events = try #require(server["events"] as? [[String: Any]])
        #expect(events.map { $0["name"] as? String } == ["cache.miss", "exception"])
        #expect((events[0]["attributes"] as? [String: Any])?["key"] as? String == "/health")
        #expect((events[1]["attributes"] as? [String: Any])?["exception.message"] as? String == "disk full")
        #expect((events[0]["time_unix_nano"] as? Int ?? 0) >= start)
        let links = try #require(server["links"] as? [[String: Any]])
        let linked = try #require(link.context.spanContext)
        #expect(links.first?["trace_id"] as? String == linked.traceIDHex)
        #expect(links.first?["span_id"] as? String == linked.spanIDHex)
        #expect((links.first?["attributes"] as? [String: Any])?["why"] as? String == "batch")
        let resource = try #require(server["resource"] as? [String: Any])
        #expect(resource["service.name"] as? String == "encoding-test")
        #expect(resource["deployment.environment"] as? String == "ci")
        #expect((server["scope"] as? [String: Any])?["version"] as? String == "9.9.9")
        let childSpan = try #require(spans.first { $0["name"] as? String == "vault.create_geoid" })
        #expect(childSpan["parent_span_id"] as? String == identity.spanIDHex)
        #expect(childSpan["kind"] as? Int == 1)
        #expect(childSpan["status_code"] as? Int == 0)
        #expect(childSpan["flags"] as? Int == 0x101)  // sampled, parent known to be local

        let requests = receiver.exportRequests()
        #expect(requests.allSatisfy { ($0["encoding"] as? String) == (gzip ? "gzip" : "") })
        #expect(receiver.requestHeaders().first?["x-test"] as? String == "1")
        #expect(queue.counts.exportedItems == 2 && queue.counts.offered == 2)
    }

    /// A new trace's three ids come from one step of the id counter, a child span's from one: they never
    /// repeat, never are zero, a child keeps its parent's trace, and the low trace-id half stays uniform
    /// enough for `traceidratio` to sample its ratio.
    @Test func spanIDsAreDistinctAndUniform() {
        let queue = ExportQueue<ExportedSpan>(capacity: 16, batchSize: 16)
        let tracer = KimeraTracer(sampler: .traceIDRatio(0.25), queue: queue)
        var seen = Set<UInt64>()
        var sampled = 0
        let traces = 20_000
        for _ in 0..<traces {
            let root = tracer.serverSpanIdentity(remote: nil)
            let child = tracer.serverSpanIdentity(remote: root)
            #expect(child.traceIDHigh == root.traceIDHigh && child.traceIDLow == root.traceIDLow)
            for id in [root.traceIDHigh, root.traceIDLow, root.spanID, child.spanID] {
                #expect(id != 0)
                seen.insert(id)
            }
            if root.sampled { sampled += 1 }
        }
        #expect(seen.count == traces * 4)
        // 25% of 20 000 is 5 000; a uniform low half lands within ±5 standard deviations (±306).
        #expect(abs(sampled - traces / 4) < 306, "sampled \(sampled) of \(traces) at ratio 0.25")
    }

    @Test func everyLogRecordFieldDecodesAsWritten() async throws {
        let directory = temporaryDirectory("kimera-otlp-encoding")
        defer { try? FileManager.default.removeItem(at: directory) }
        let receiver = try await OTLPReceiver.start(output: directory.appendingPathComponent("received.jsonl"))
        defer { Task { await receiver.stop() } }

        let queue = ExportQueue<LogRecordData>(capacity: 64, batchSize: 16)
        let tracer = KimeraTracer(sampler: .alwaysOn, queue: nil)
        let span = tracer.startSpan("request", context: .topLevel, ofKind: .server)
        let handler = OTLPLogHandler(queue: queue, logLevel: .info)
        let logger = Logger(label: "kimera.test") { _ in handler }
        InstrumentationContext.$current.withValue(span.context) {
            logger.notice("geoid created", metadata: ["request_id": "abc", "geoid": "g-1"])
        }
        logger.error("no span here")
        logger.debug("below the export level")

        let preamble = OTLPEncoding.Preamble(
            resourceAttributes: [("service.name", "encoding-test")], scopeName: "kimera", scopeVersion: "9.9.9")
        let exporter = OTLPExporter(
            name: "logs", settings: Self.settings(receiver, "v1/logs", gzip: false), queue: queue,
            failures: ExportFailures()
        ) { OTLPEncoding.logs($0, preamble: preamble, into: &$1) }
        try await Self.export(exporter, queue) { receiver.items().count == 2 }

        let identity = try #require(span.context.spanContext)
        let records = receiver.items()
        let created = try #require(records.first { $0["body"] as? String == "geoid created" })
        #expect(created["trace_id"] as? String == identity.traceIDHex)
        #expect(created["span_id"] as? String == identity.spanIDHex)
        #expect(created["severity"] as? String == "NOTICE")
        #expect(created["severity_number"] as? Int == 10)
        #expect(created["flags"] as? Int == 0)  // the span was not sampled (no span queue)
        let attributes = try #require(created["attributes"] as? [String: Any])
        #expect(attributes["request_id"] as? String == "abc")
        #expect(attributes["geoid"] as? String == "g-1")
        #expect((attributes["code.filepath"] as? String)?.hasSuffix("OTLPEncodingTests.swift") == true)
        #expect((attributes["code.lineno"] as? Int ?? 0) > 0)
        #expect((created["time_unix_nano"] as? Int ?? 0) > 1_700_000_000_000_000_000)
        #expect(created["observed_time_unix_nano"] as? Int == created["time_unix_nano"] as? Int)
        let plain = try #require(records.first { $0["body"] as? String == "no span here" })
        #expect(plain["trace_id"] as? String == "")
        #expect(plain["severity_number"] as? Int == 17)
        #expect(queue.counts.offered == 2)
    }
}

/// Reads propagation fields from a dictionary (the tests' inbound headers).
struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}
