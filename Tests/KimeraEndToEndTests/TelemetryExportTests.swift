import Foundation
import Synchronization
import Testing

/// scripts/otlp-receiver.py as a child process on a loopback port: a real OTLP/HTTP receiver decoding
/// protobuf with the reference definitions (opentelemetry-proto in .venv-otlp/, made by scripts/setup).
final class OTLPReceiver: @unchecked Sendable {
    // Mutated only by the test task that owns this object.
    let process = Process()
    let stdout = PipeCollector()
    let stderr = PipeCollector()
    let output: URL
    private(set) var port = 0

    static let python = packageRoot.appendingPathComponent(".venv-otlp/bin/python").path
    static let script = packageRoot.appendingPathComponent("scripts/otlp-receiver.py").path

    init(output: URL, port: Int, status: Int, options: [String]) {
        self.output = output
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments =
            [Self.script, "--port", String(port), "--out", output.path, "--status", String(status)] + options
        process.standardOutput = stdout.pipe
        process.standardError = stderr.pipe
    }

    /// Starts the receiver and waits (at most 20 s) for its `listening PORT` line. `options` are its failure
    /// modes (`--fail-first N`, `--retry-after S`, `--delay S`).
    static func start(output: URL, port: Int = 0, status: Int = 200, options: [String] = []) async throws
        -> OTLPReceiver
    {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ServerStartError(message: "\(python) is missing: run scripts/setup")
        }
        let receiver = OTLPReceiver(output: output, port: port, status: status, options: options)
        try receiver.process.run()
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let line = receiver.stdout.contents.split(separator: "\n").first(where: { $0.hasPrefix("listening ") }),
                let bound = Int(line.dropFirst("listening ".count))
            {
                receiver.port = bound
                return receiver
            }
            if !receiver.process.isRunning {
                throw ServerStartError(message: "receiver exited: \(receiver.stderr.contents)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        receiver.process.terminate()
        throw ServerStartError(message: "receiver did not start: \(receiver.stderr.contents)")
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Every span and log record received so far, one JSON object each.
    func items() -> [[String: Any]] { lines(of: output.path) }

    func spans(traceID: String) -> [[String: Any]] {
        items().filter { $0["signal"] as? String == "span" && $0["trace_id"] as? String == traceID }
    }

    func logs(traceID: String) -> [[String: Any]] {
        items().filter { $0["signal"] as? String == "log" && $0["trace_id"] as? String == traceID }
    }

    /// The request headers of each accepted export, one JSON object each.
    func requestHeaders() -> [[String: Any]] { lines(of: output.path + ".headers") }

    /// Every export request received, accepted or not: `path`, the `status` answered, `encoding`.
    func exportRequests() -> [[String: Any]] { lines(of: output.path + ".requests") }

    private func lines(of path: String) -> [[String: Any]] {
        guard let text = try? String(contentsOf: URL(fileURLWithPath: path), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    /// Sends `signal` and waits (at most 10 s) for the exit.
    func stop(signal: Int32 = SIGTERM) async {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Random lowercase hex of `bytes` bytes (trace and span ids for inbound `traceparent`s).
func randomHex(bytes: Int) -> String {
    (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
}

@Suite(.serialized) struct TelemetryExportTests {
    /// Short batch delays so that a test sees its spans within a second.
    static func exportEnvironment(
        _ receiver: OTLPReceiver, endpointInEnvironment: Bool = true, extra: [String: String] = [:]
    ) -> [String: String] {
        var environment = [
            "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BLRP_SCHEDULE_DELAY": "100", "OTEL_EXPORTER_OTLP_TIMEOUT": "2000",
        ]
        if endpointInEnvironment { environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint }
        environment.merge(extra) { $1 }
        return environment
    }

    /// A receiver and a server exporting to it, both stopped afterwards whatever `body` does.
    /// `status` and `options` are the receiver's failure modes (`OTLPReceiver.start`).
    static func withReceiverAndServer(
        arguments: (OTLPReceiver) -> [String] = { _ in [] }, endpointInEnvironment: Bool = true,
        extra: [String: String] = [:], status: Int = 200, options: [String] = [],
        _ body: (OTLPReceiver, ServerProcess) async throws -> Void
    ) async throws {
        let directory = temporaryDirectory("kimera-otlp")
        defer { try? FileManager.default.removeItem(at: directory) }
        let receiver = try await OTLPReceiver.start(
            output: directory.appendingPathComponent("received.jsonl"), status: status, options: options)
        let server: ServerProcess
        do {
            server = try await ServerProcess.start(
                arguments(receiver),
                environment: exportEnvironment(receiver, endpointInEnvironment: endpointInEnvironment, extra: extra),
                dataDirectory: directory.appendingPathComponent("data"))
        } catch {
            await receiver.stop()
            throw error
        }
        do {
            try await body(receiver, server)
        } catch {
            await server.stop()
            await receiver.stop()
            throw error
        }
        await server.stop()
        await receiver.stop()
    }

    @Test func inboundTraceparentContinuesItsTraceInSpansAndLogs() async throws {
        let token = "otlp-secret-\(randomHex(bytes: 8))"
        try await Self.withReceiverAndServer(extra: [
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer \(token)",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
        ]) { receiver, server in
            let traceID = randomHex(bytes: 16)
            let parentID = randomHex(bytes: 8)
            let response = try await http(
                .POST, "\(server.baseURL)/kimera/geoids", headers: [("traceparent", "00-\(traceID)-\(parentID)-01")],
                json: #"{"content": "telemetry continues the caller's trace"}"#)
            #expect(response.status == 201)
            #expect(response.header("X-Request-ID") == traceID)
            let outbound = try #require(response.header("traceparent"))
            #expect(outbound.hasPrefix("00-\(traceID)-"))
            #expect(outbound.hasSuffix("-01"))
            let serverSpanID = String(outbound.split(separator: "-")[2])

            let arrived = await eventually(timeout: .seconds(15)) {
                !receiver.spans(traceID: traceID).filter { $0["name"] as? String == "POST /kimera/geoids" }.isEmpty
                    && !receiver.logs(traceID: traceID).isEmpty
            }
            #expect(arrived, "received: \(receiver.items())")
            let spans = receiver.spans(traceID: traceID)
            let serverSpan = try #require(spans.first { $0["name"] as? String == "POST /kimera/geoids" })
            #expect(serverSpan["span_id"] as? String == serverSpanID)
            #expect(serverSpan["parent_span_id"] as? String == parentID)
            #expect(serverSpan["kind"] as? Int == 2)  // SPAN_KIND_SERVER
            let attributes = try #require(serverSpan["attributes"] as? [String: Any])
            #expect(attributes["http.request.method"] as? String == "POST")
            #expect(attributes["http.route"] as? String == "/kimera/geoids")
            #expect(attributes["http.response.status_code"] as? Int == 201)
            #expect(attributes["server.port"] as? Int == server.port)
            #expect(attributes["server.address"] as? String == "127.0.0.1")
            let resource = try #require(serverSpan["resource"] as? [String: Any])
            #expect(resource["service.name"] as? String == "kimera")
            #expect(resource["deployment.environment"] as? String == "test")
            #expect((resource["service.instance.id"] as? String)?.isEmpty == false)
            // The profiled vault work is a child span of the request's span.
            let child = spans.first { $0["name"] as? String == "vault.create_geoid" }
            #expect(child?["parent_span_id"] as? String == serverSpanID)

            // The log record of the write, with the trace and the request id.
            let record = try #require(
                receiver.logs(traceID: traceID).first { $0["body"] as? String == "geoid created" })
            #expect((record["attributes"] as? [String: Any])?["request_id"] as? String == traceID)
            #expect(record["span_id"] as? String == serverSpanID)

            // The ring's copy carries the same ids, so `kimera logs --request-id` and the backend agree.
            let logs = try await http(.GET, "\(server.baseURL)/debug/logs?request_id=\(traceID)")
            let ringRecords = logs.object["logs"] as? [[String: Any]] ?? []
            let ringRecord = ringRecords.first { $0["message"] as? String == "geoid created" }
            let metadata = ringRecord?["metadata"] as? [String: Any]
            #expect(metadata?["trace_id"] as? String == traceID, "ring: \(logs.text)")
            #expect(metadata?["span_id"] as? String == serverSpanID)

            // The exporter sent OTEL_EXPORTER_OTLP_HEADERS; Kimera never shows the value.
            #expect(
                receiver.requestHeaders().contains { $0["authorization"] as? String == "Bearer \(token)" },
                "headers: \(receiver.requestHeaders().first?.keys.sorted() ?? [])")
            let info = try await http(.GET, "\(server.baseURL)/debug/info")
            #expect(!info.text.contains(token))
            let telemetry = info.object["telemetry"] as? [String: Any]
            #expect(telemetry?["enabled"] as? Bool == true)
            #expect(telemetry?["traces_endpoint"] as? String == "\(receiver.endpoint)/v1/traces")
            #expect(!server.stderr.contents.contains(token))
        }
    }

    @Test func requestWithoutTraceparentStartsATraceNamedByItsRequestID() async throws {
        try await Self.withReceiverAndServer { receiver, server in
            let response = try await http(.GET, "\(server.baseURL)/health")
            #expect(response.status == 200)
            let requestID = try #require(response.header("X-Request-ID"))
            #expect(requestID.count == 32 && requestID.allSatisfy(\.isHexDigit))
            #expect(response.header("traceparent")?.hasPrefix("00-\(requestID)-") == true)

            let missing = try await http(.GET, "\(server.baseURL)/no/such/route")
            #expect(missing.status == 404)
            let missingID = try #require(missing.header("X-Request-ID"))

            let arrived = await eventually(timeout: .seconds(15)) {
                !receiver.spans(traceID: requestID).isEmpty && !receiver.spans(traceID: missingID).isEmpty
            }
            #expect(arrived, "received: \(receiver.items())")
            let span = try #require(receiver.spans(traceID: requestID).first)
            #expect(span["name"] as? String == "GET /health")
            #expect(span["parent_span_id"] as? String == "")
            #expect((span["attributes"] as? [String: Any])?["http.response.status_code"] as? Int == 200)
            // No route matched: the span is named by the method alone (semantic conventions), 4xx is no error.
            let unmatched = try #require(receiver.spans(traceID: missingID).first)
            #expect(unmatched["name"] as? String == "GET")
            #expect((unmatched["attributes"] as? [String: Any])?["http.response.status_code"] as? Int == 404)
            #expect(unmatched["status_code"] as? Int == 0)
            // An explicit X-Request-ID still names the request; the trace is new.
            let named = try await http(.GET, "\(server.baseURL)/health", headers: [("X-Request-ID", "my-request-1")])
            #expect(named.header("X-Request-ID") == "my-request-1")
            #expect(named.header("traceparent") != nil)
        }
    }

    /// The fast path makes no span object: its span is one record (`ServerSpanRecord`). It must arrive
    /// with every field the full path's span has.
    @Test func fastPathSpanCarriesTheFullPathsFields() async throws {
        try await Self.withReceiverAndServer { receiver, server in
            let traceID = randomHex(bytes: 16)
            let parentID = randomHex(bytes: 8)
            let response = try await http(
                .GET, "\(server.baseURL)/health",
                headers: [
                    ("traceparent", "00-\(traceID)-\(parentID)-01"), ("tracestate", "vendor=a1"),
                    ("User-Agent", "kimera-test/1"), ("Host", "kimera.example:8443"),
                ])
            #expect(response.status == 200)
            #expect(response.header("X-Request-ID") == traceID)
            let outbound = try #require(response.header("traceparent"))
            #expect(outbound.hasPrefix("00-\(traceID)-") && outbound.hasSuffix("-01"))
            let spanID = String(outbound.split(separator: "-")[2])
            // Two more in the same batch: the same fields (the encoder writes them again from the bytes it
            // kept) and another user agent (it must not).
            let same = try await http(.GET, "\(server.baseURL)/health", headers: [("User-Agent", "kimera-test/1")])
            let other = try await http(.GET, "\(server.baseURL)/health", headers: [("User-Agent", "other/2")])
            let sameID = try #require(same.header("X-Request-ID"))
            let otherID = try #require(other.header("X-Request-ID"))

            #expect(
                await eventually(timeout: .seconds(15)) {
                    !receiver.spans(traceID: traceID).isEmpty && !receiver.spans(traceID: sameID).isEmpty
                        && !receiver.spans(traceID: otherID).isEmpty
                })
            let agent = { (id: String) in
                (receiver.spans(traceID: id).first?["attributes"] as? [String: Any])?["user_agent.original"] as? String
            }
            #expect(agent(sameID) == "kimera-test/1")
            #expect(agent(otherID) == "other/2")
            let span = try #require(receiver.spans(traceID: traceID).first)
            #expect(span["name"] as? String == "GET /health")
            #expect(span["span_id"] as? String == spanID)
            #expect(span["parent_span_id"] as? String == parentID)
            #expect(span["trace_state"] as? String == "vendor=a1")
            #expect(span["kind"] as? Int == 2)  // SPAN_KIND_SERVER
            #expect(span["status_code"] as? Int == 0)
            // Sampled, and the parent is remote (bits 8 and 9).
            #expect(span["flags"] as? Int == 0x301)
            let start = try #require(span["start_time_unix_nano"] as? Int)
            let end = try #require(span["end_time_unix_nano"] as? Int)
            #expect(start > 0 && end >= start)
            let attributes = try #require(span["attributes"] as? [String: Any])
            #expect(attributes["http.request.method"] as? String == "GET")
            #expect(attributes["http.route"] as? String == "/health")
            #expect(attributes["url.path"] as? String == "/health")
            #expect(attributes["url.scheme"] as? String == "http")
            #expect(attributes["network.protocol.version"] as? String == "1.1")
            #expect(attributes["http.response.status_code"] as? Int == 200)
            #expect(attributes["http.response.body.size"] as? Int == response.body.count)
            #expect(attributes["user_agent.original"] as? String == "kimera-test/1")
            #expect(attributes["server.address"] as? String == "kimera.example")
            #expect(attributes["server.port"] as? Int == 8443)
        }
    }

    @Test func collectorDownKeepsServingCountsFailuresAndResumes() async throws {
        let directory = temporaryDirectory("kimera-otlp")
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("received.jsonl")
        var receiver = try await OTLPReceiver.start(output: output)
        let port = receiver.port
        let server = try await ServerProcess.start(
            environment: Self.exportEnvironment(receiver), dataDirectory: directory.appendingPathComponent("data"))
        do {
            let first = randomHex(bytes: 16)
            _ = try await http(
                .GET, "\(server.baseURL)/health", headers: [("traceparent", "00-\(first)-\(randomHex(bytes: 8))-01")])
            #expect(await eventually(timeout: .seconds(15)) { !receiver.spans(traceID: first).isEmpty })

            // The collector dies: requests are still served, promptly, and the failures are counted.
            await receiver.stop(signal: SIGKILL)
            let clock = ContinuousClock()
            var slowest = Duration.zero
            for _ in 0..<20 {
                let started = clock.now
                let response = try await http(.GET, "\(server.baseURL)/health")
                slowest = max(slowest, clock.now - started)
                #expect(response.status == 200)
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(slowest < .seconds(1), "slowest /health while the collector was down: \(slowest)")
            let counted = await eventually(timeout: .seconds(15)) {
                let info = try? await http(.GET, "\(server.baseURL)/debug/info")
                let spans = (info?.object["telemetry"] as? [String: Any])?["spans"] as? [String: Any]
                return (spans?["failed_batches"] as? Int ?? 0) > 0
            }
            #expect(counted)
            let metrics = try await http(.GET, "\(server.baseURL)/metrics")
            let failureLine = metrics.text.split(separator: "\n").first {
                $0.hasPrefix("kimera_otlp_export_failures_total{") && $0.contains("signal=\"spans\"")
            }
            #expect(failureLine.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? 0 > 0)
            #expect(Self.sample(metrics.text, "kimera_otlp_export_enabled") == "1")

            // The collector is back on the same port: export resumes.
            receiver = try await OTLPReceiver.start(output: output, port: port)
            let later = randomHex(bytes: 16)
            let resumed = await eventually(timeout: .seconds(20)) {
                _ = try? await http(
                    .GET, "\(server.baseURL)/health",
                    headers: [("traceparent", "00-\(later)-\(randomHex(bytes: 8))-01")])
                return !receiver.spans(traceID: later).isEmpty
            }
            #expect(resumed, "received: \(receiver.items().count) items")
        } catch {
            await server.stop()
            await receiver.stop()
            throw error
        }
        await server.stop()
        await receiver.stop()
    }

    /// The value of the one sample of `metric` (whatever its labels: every series carries `instance_id`).
    static func sample(_ exposition: String, _ metric: String) -> String? {
        exposition.split(separator: "\n").first { $0.hasPrefix(metric + "{") || $0.hasPrefix(metric + " ") }
            .flatMap { $0.split(separator: " ").last.map(String.init) }
    }

    @Test func aCollectorThatRefusesDoesNotHoldTheShutdown() async throws {
        // Nothing listens on the endpoint's port: every export is refused and retried.
        let refusing = try freeLoopbackPort()
        let server = try await ServerProcess.start(
            environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(refusing)"])
        for _ in 0..<20 { _ = try await http(.GET, "\(server.baseURL)/health") }
        let started = ContinuousClock.now
        let status = await server.stop()
        let took = ContinuousClock.now - started
        #expect(status == 0, "\(server.stderr.contents.suffix(500))")
        // The exporters get 2 s to flush, far less than the 10 s grace period.
        #expect(took < .seconds(6), "exit took \(took): \(server.stderr.contents.suffix(800))")
    }

    @Test func noEndpointMeansNoSpanAndNoTraceparent() async throws {
        let server = try await ServerProcess.start()
        do {
            let response = try await http(.GET, "\(server.baseURL)/health")
            #expect(response.header("traceparent") == nil)
            #expect(response.header("X-Request-ID")?.count == 15)  // the cheap generated id, not a trace id
            let info = try await http(.GET, "\(server.baseURL)/debug/info")
            #expect((info.object["telemetry"] as? [String: Any])?["enabled"] as? Bool == false)
            let metrics = try await http(.GET, "\(server.baseURL)/metrics")
            #expect(Self.sample(metrics.text, "kimera_otlp_export_enabled") == "0")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        // OTEL_SDK_DISABLED=true wins over an endpoint.
        let disabled = try await ServerProcess.start(
            ["--otlp-endpoint", "http://127.0.0.1:9"], environment: ["OTEL_SDK_DISABLED": "true"])
        let response = try await http(.GET, "\(disabled.baseURL)/health")
        #expect(response.header("traceparent") == nil)
        await disabled.stop()
    }

    @Test func otlpEndpointFlagExportsWithoutTheEnvironmentEndpoint() async throws {
        try await Self.withReceiverAndServer(
            arguments: { ["--otlp-endpoint", $0.endpoint] }, endpointInEnvironment: false,
            extra: ["OTEL_SERVICE_NAME": "kimera-flag-test"]
        ) { receiver, server in
            let response = try await http(.GET, "\(server.baseURL)/health")
            let requestID = try #require(response.header("X-Request-ID"))
            #expect(await eventually(timeout: .seconds(15)) { !receiver.spans(traceID: requestID).isEmpty })
            let resource = receiver.spans(traceID: requestID).first?["resource"] as? [String: Any]
            #expect(resource?["service.name"] as? String == "kimera-flag-test")
        }
    }
}
