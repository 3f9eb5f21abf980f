import Foundation
import Synchronization
import Testing

/// The export pipeline against collectors that fail: killed, refusing, throttling, slow. Whatever the
/// collector does, requests are served promptly, the counters add up exactly (offered = exported +
/// dropped + failed + queued) and stay within the queue's bound, and the shutdown keeps its limit
/// (docs/OPERATIONS.md "OpenTelemetry export").
@Suite(.serialized) struct TelemetryFailureTests {
    /// The span counters of `/debug/info`.
    struct Counts: CustomStringConvertible {
        var fields: [String: Int]
        subscript(_ name: String) -> Int { fields[name] ?? 0 }
        var addsUp: Bool {
            self["offered"] == self["exported_items"] + self["dropped"] + self["failed_items"] + self["queued"]
        }
        var description: String { fields.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ") }
    }

    static func counts(_ server: ServerProcess, signal: String = "spans") async throws -> Counts {
        let info = try await http(.GET, "\(server.baseURL)/debug/info")
        let telemetry = info.object["telemetry"] as? [String: Any]
        return Counts(fields: telemetry?[signal] as? [String: Int] ?? [:])
    }

    /// A receiver started with `status` and `options`, a server exporting to it, both stopped afterwards;
    /// `body` also gets the receiver's output file (a restarted receiver appends to it).
    static func withFailingReceiver(
        status: Int = 200, options: [String] = [], extra: [String: String] = [:],
        _ body: (OTLPReceiver, ServerProcess, URL) async throws -> Void
    ) async throws {
        try await TelemetryExportTests.withReceiverAndServer(extra: extra, status: status, options: options) {
            try await body($0, $1, $0.output)
        }
    }

    /// `/health` requests one after the other until cancelled: how many, how many failed, the slowest.
    final class SteadyLoad: Sendable {
        /// Requests sent, failed, and the slowest in nanoseconds.
        let state = Mutex((sent: 0, failed: 0, slowest: Duration.zero))

        func run(_ server: ServerProcess) async {
            let clock = ContinuousClock()
            while !Task.isCancelled {
                let started = clock.now
                let ok = (try? await http(.GET, "\(server.baseURL)/health", timeout: .seconds(5)))?.status == 200
                let took = clock.now - started
                state.withLock {
                    $0.sent += 1
                    if !ok { $0.failed += 1 }
                    $0.slowest = max($0.slowest, took)
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    static func residentBytes(_ server: ServerProcess) async throws -> Int {
        let metrics = try await http(.GET, "\(server.baseURL)/metrics")
        return Int(TelemetryExportTests.sample(metrics.text, "process_resident_memory_bytes") ?? "") ?? 0
    }

    /// The collector is SIGKILLed for 10 s under steady load (the issue asks for 30 s; 10 keeps CI short and
    /// still outlasts the exporter's retries several times over), then comes back on the same port.
    @Test func collectorKilledUnderLoadServesCountsExactlyStaysBoundedAndResumes() async throws {
        let capacity = 64
        // Each export request may take 1 s: a refused connection is tried again by the HTTP client until then.
        try await Self.withFailingReceiver(
            extra: ["OTEL_BSP_MAX_QUEUE_SIZE": String(capacity), "OTEL_EXPORTER_OTLP_TIMEOUT": "1000"]
        ) {
            first, server, output in
            let load = SteadyLoad()
            let loader = Task { await load.run(server) }
            defer { loader.cancel() }
            #expect(
                await eventually(timeout: .seconds(15)) { (try? await Self.counts(server))?["exported_items"] ?? 0 > 0 }
            )
            let port = first.port
            let rssBefore = try await Self.residentBytes(server)

            await first.stop(signal: SIGKILL)
            // Writes log at info ("geoid created"): log records wait for the collector too.
            for index in 0..<5 {
                let created = try await http(
                    .POST, "\(server.baseURL)/kimera/geoids", json: #"{"content": "outage \#(index)"}"#)
                #expect(created.status == 201)
            }
            let sentBefore = load.state.withLock { $0.sent }
            let down = ContinuousClock.now
            var peakQueued = 0
            while ContinuousClock.now - down < .seconds(10) {
                let counts = try await Self.counts(server)
                #expect(counts.addsUp, "\(counts)")
                peakQueued = max(peakQueued, counts["queued"])
                try await Task.sleep(for: .milliseconds(250))
            }
            let whileDown = try await Self.counts(server)
            // The log records' queue keeps the same books.
            let logsWhileDown = try await Self.counts(server, signal: "logs")
            #expect(logsWhileDown["offered"] > 0 && logsWhileDown.addsUp, "\(logsWhileDown)")
            let rssAfter = try await Self.residentBytes(server)
            let served = load.state.withLock { $0 }
            #expect(served.sent - sentBefore > 100, "requests served while the collector was down")
            #expect(served.failed == 0)
            #expect(served.slowest < .seconds(1), "slowest /health: \(served.slowest)")
            #expect(peakQueued <= capacity)
            #expect(whileDown["capacity"] == capacity)
            #expect(whileDown["dropped"] > 0 && whileDown["failed_items"] > 0, "\(whileDown)")
            #expect(whileDown.addsUp, "\(whileDown)")
            // The queue holds at most 64 spans: memory does not grow with the outage (generous slack for
            // the allocator and the debug build's own rings).
            #expect(rssAfter - rssBefore < 32 << 20, "RSS \(rssBefore) -> \(rssAfter)")

            let second = try await OTLPReceiver.start(output: output, port: port)
            defer { Task { await second.stop() } }
            let resumedAt = whileDown["exported_items"]
            #expect(
                await eventually(timeout: .seconds(20)) {
                    (try? await Self.counts(server))?["exported_items"] ?? 0 > resumedAt
                })
            loader.cancel()
            _ = await loader.value
            // Everything offered is accounted for once the queue has drained.
            #expect(
                await eventually(timeout: .seconds(15)) {
                    guard let counts = try? await Self.counts(server) else { return false }
                    return counts["queued"] == 0 && counts.addsUp
                })
            let logs = try await Self.counts(server, signal: "logs")
            #expect(logs.addsUp && logs["offered"] >= 5, "\(logs)")
            // /metrics shows the same counters, adding up the same way (every request, this one included,
            // makes a span, so the figures are read from one exposition).
            let metrics = try await http(.GET, "\(server.baseURL)/metrics").text
            func sample(_ name: String) -> Int {
                metrics.split(separator: "\n").first { $0.hasPrefix(name + "{") && $0.contains("signal=\"spans\"") }
                    .flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? -1
            }
            #expect(
                sample("kimera_otlp_offered_total")
                    == sample("kimera_otlp_exported_total") + sample("kimera_otlp_dropped_total")
                    + sample("kimera_otlp_export_failed_items_total") + sample("kimera_otlp_queued"))
            #expect(sample("kimera_otlp_dropped_total") >= whileDown["dropped"])
            #expect(sample("kimera_otlp_queue_capacity") == capacity)
        }
    }

    @Test func throttlingCollectorIsRetriedAfterItsRetryAfterThenCounted() async throws {
        try await Self.withFailingReceiver(status: 429, options: ["--retry-after", "1"]) { receiver, server, _ in
            _ = try await http(.GET, "\(server.baseURL)/health")
            #expect(
                await eventually(timeout: .seconds(15)) { (try? await Self.counts(server))?["failed_items"] ?? 0 > 0 })
            let counts = try await Self.counts(server)
            #expect(counts["retries"] > 0 && counts["exported_items"] == 0, "\(counts)")
            #expect(counts.addsUp, "\(counts)")
            // A retry sends the same body again, after at least the collector's Retry-After (1 s); the
            // backoff alone would have waited 0.5 s at most before the first retry.
            var batches: [String: [Double]] = [:]
            for request in receiver.exportRequests() where request["path"] as? String == "/v1/traces" {
                if let digest = request["digest"] as? String, let time = request["time"] as? Double {
                    batches[digest, default: []].append(time)
                }
            }
            #expect(batches.values.contains { $0.count >= 2 }, "\(batches)")
            for times in batches.values {
                for (earlier, later) in zip(times, times.dropFirst()) { #expect(later - earlier >= 0.9) }
            }
            let info = try await http(.GET, "\(server.baseURL)/debug/info")
            #expect(((info.object["telemetry"] as? [String: Any])?["last_error"] as? String)?.contains("429") == true)
        }
    }

    @Test func unavailableOnceIsRetriedAndDelivered() async throws {
        try await Self.withFailingReceiver(status: 503, options: ["--fail-first", "1"]) { receiver, server, _ in
            let response = try await http(.GET, "\(server.baseURL)/health")
            let traceID = try #require(response.header("X-Request-ID"))
            #expect(await eventually(timeout: .seconds(15)) { !receiver.spans(traceID: traceID).isEmpty })
            let counts = try await Self.counts(server)
            #expect(counts["retries"] >= 1 && counts["failed_items"] == 0, "\(counts)")
        }
    }

    @Test func serverErrorIsNotRetriedAndCounted() async throws {
        try await Self.withFailingReceiver(status: 500) { receiver, server, _ in
            _ = try await http(.GET, "\(server.baseURL)/health")
            #expect(
                await eventually(timeout: .seconds(15)) { (try? await Self.counts(server))?["failed_items"] ?? 0 > 0 })
            let counts = try await Self.counts(server)
            // 500 is not retryable in the OTLP specification: one request per batch.
            #expect(counts["retries"] == 0, "\(counts)")
            #expect(counts.addsUp, "\(counts)")
            let traces = receiver.exportRequests().filter { $0["path"] as? String == "/v1/traces" }
            #expect(traces.count == counts["failed_batches"])
        }
    }

    @Test func slowCollectorTimesOutIsCountedAndDoesNotHoldTheShutdown() async throws {
        // Answers after 12 s; each export request may take 1 s.
        try await Self.withFailingReceiver(
            options: ["--delay", "12"], extra: ["OTEL_EXPORTER_OTLP_TIMEOUT": "1000"]
        ) { _, server, _ in
            let clock = ContinuousClock()
            var slowest = Duration.zero
            for _ in 0..<20 {
                let started = clock.now
                #expect(try await http(.GET, "\(server.baseURL)/health").status == 200)
                slowest = max(slowest, clock.now - started)
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(slowest < .seconds(1) + sanitizerSlack, "slowest /health: \(slowest)")
            #expect(
                await eventually(timeout: .seconds(20)) { (try? await Self.counts(server))?["failed_items"] ?? 0 > 0 })
            let counts = try await Self.counts(server)
            #expect(counts["retries"] > 0, "\(counts)")
            #expect(counts.addsUp, "\(counts)")
            // More spans wait for a collector that is still not answering: the stop keeps its 2 s limit.
            for _ in 0..<5 { _ = try await http(.GET, "\(server.baseURL)/health") }
            let stopping = clock.now
            let status = await server.stop()
            #expect(status == 0)
            #expect(clock.now - stopping < .seconds(6), "exit took \(clock.now - stopping)")
        }
    }

    @Test func gzipBodiesAreDecodedByTheCollector() async throws {
        try await Self.withFailingReceiver(extra: ["OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"]) { receiver, server, _ in
            let response = try await http(.GET, "\(server.baseURL)/health")
            let traceID = try #require(response.header("X-Request-ID"))
            #expect(await eventually(timeout: .seconds(15)) { !receiver.spans(traceID: traceID).isEmpty })
            #expect(receiver.exportRequests().allSatisfy { $0["encoding"] as? String == "gzip" })
        }
    }

    @Test func samplerAlwaysOffPropagatesButExportsNoSpan() async throws {
        try await Self.withFailingReceiver(extra: ["OTEL_TRACES_SAMPLER": "always_off"]) { receiver, server, _ in
            let traceID = randomHex(bytes: 16)
            let response = try await http(
                .GET, "\(server.baseURL)/health", headers: [("traceparent", "00-\(traceID)-\(randomHex(bytes: 8))-01")])
            let outbound = try #require(response.header("traceparent"))
            #expect(outbound.hasPrefix("00-\(traceID)-") && outbound.hasSuffix("-00"))
            try await Task.sleep(for: .seconds(1))
            #expect(receiver.spans(traceID: traceID).isEmpty)
            #expect(try await Self.counts(server)["offered"] == 0)
        }
    }
}
