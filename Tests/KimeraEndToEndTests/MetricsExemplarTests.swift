import Foundation
import KimeraClient
import PostgresTestServer
import Testing

/// Prometheus' Accept header (2.42, the Debian package's): OpenMetrics first, text as a fallback.
let prometheusAccept =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

/// What a strict OpenMetrics parser (prometheus_client's, Debian's python3-prometheus-client) made of a text.
struct OpenMetricsCheck {
    var status: Int32
    var report: String
    /// Family names and types, `name type` a line.
    var families: [String]
    /// The `trace_id` of every exemplar, by sample line order.
    var traceIDs: [String]

    static let script = """
        import sys
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
        for family in text_string_to_metric_families(sys.stdin.read()):
            print("family", family.name, family.type)
            for sample in family.samples:
                if sample.exemplar:
                    print("exemplar", sample.exemplar.labels["trace_id"])
        """

    /// Runs the parser (Debian's python3, where scripts/setup installs the package) over `text`.
    static func run(_ text: String) async throws -> OpenMetricsCheck {
        let result = try await runFeeding(text, to: "/usr/bin/python3", ["-c", script])
        let lines = result.stdout.split(separator: "\n")
        return OpenMetricsCheck(
            status: result.status, report: result.stderr,
            families: lines.filter { $0.hasPrefix("family ") }.map { String($0.dropFirst(7)) },
            traceIDs: lines.filter { $0.hasPrefix("exemplar ") }.map { String($0.dropFirst(9)) })
    }
}

/// `promtool check metrics` over `text`: its exit status and what it said.
func promtoolCheck(_ text: String) async throws -> (status: Int32, report: String) {
    let result = try await runFeeding(text, to: "/usr/bin/env", ["promtool", "check", "metrics"])
    return (result.status, result.stdout + result.stderr)
}

/// A real Prometheus (`prometheus` from Debian's package, installed by scripts/setup) on a loopback port,
/// with exemplar storage, a throw-away storage folder and one job scraping `target` every second; started
/// and stopped by the test.
final class PrometheusServer: @unchecked Sendable {
    // Mutated only by the test task that owns this object.
    let process = Process()
    let output = PipeCollector()
    let directory: URL
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(target: String) throws {
        directory = temporaryDirectory("kimera-prometheus")
        port = try PostgresTestServer.freePort()
        let config = """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: kimera
                static_configs:
                  - targets: ['\(target)']
            """
        let configPath = directory.appendingPathComponent("prometheus.yml").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "prometheus", "--enable-feature=exemplar-storage", "--config.file=\(configPath)",
            "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(port)",
        ]
        process.standardOutput = output.pipe
        process.standardError = output.pipe
    }

    /// Starts it and waits (at most 30 s) for `/-/ready`.
    func start() async throws {
        try process.run()
        let ready = await eventually(timeout: .seconds(30)) {
            guard process.isRunning else { return true }
            return (try? await http(.GET, baseURL + "/-/ready", timeout: .seconds(1)))?.status == 200
        }
        guard ready, process.isRunning else {
            throw ServerStartError(message: "prometheus did not become ready on \(port): \(output.contents)")
        }
    }

    /// `GET path` of its HTTP API, decoded.
    func api(_ path: String) async throws -> [String: Any] {
        let response = try await http(.GET, baseURL + path, timeout: .seconds(5))
        return response.object
    }

    /// SIGTERM, then SIGKILL after 10 s; removes the storage folder.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}

@Suite("Exemplars on /metrics and in the statistics")
struct MetricsExemplarTests {
    /// Requests with ids of the test's own: each GET /health carries `X-Request-ID`.
    static func requestHealth(_ base: String, ids: [String]) async throws {
        for id in ids {
            let response = try await http(.GET, base + "/health", headers: [("X-Request-ID", id)])
            #expect(response.status == 200 && response.header("X-Request-ID") == id)
        }
    }

    @Test(
        "Accept: application/openmetrics-text answers OpenMetrics with the request ids on the buckets; text otherwise")
    func openMetricsChosenByAccept() async throws {
        let server = try await ServerProcess.start()
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        let ids = (0..<5).map { "om-health-\($0)" }
        try await Self.requestHealth(server.baseURL, ids: ids)

        let openMetrics = try await http(.GET, server.baseURL + "/metrics", headers: [("Accept", prometheusAccept)])
        #expect(openMetrics.status == 200)
        #expect(openMetrics.header("Content-Type") == "application/openmetrics-text; version=1.0.0; charset=utf-8")
        #expect(openMetrics.header("Vary") == "Accept")
        #expect(openMetrics.text.hasSuffix("\n# EOF\n"))
        // (Each sample starts with the instance_id label.)
        let healthBuckets = openMetrics.text.split(separator: "\n").filter {
            $0.hasPrefix("kimera_http_request_duration_seconds_bucket{") && $0.contains(#",route="/health","#)
        }
        let withExemplar = healthBuckets.filter { $0.contains(#" # {trace_id=""#) }
        #expect(!withExemplar.isEmpty, "\(healthBuckets)")
        for line in withExemplar {
            let id = line.components(separatedBy: #"# {trace_id=""#).last?.split(separator: "\"").first.map(String.init)
            #expect(id.map(ids.contains) == true, "\(line)")
        }
        // The latest /health request is the exemplar of its bucket.
        #expect(withExemplar.contains { $0.contains(#"{trace_id="om-health-4"}"#) })

        // A strict OpenMetrics parser accepts the whole answer: every family typed, counters as OpenMetrics
        // names them, exemplars only on buckets.
        let check = try await OpenMetricsCheck.run(openMetrics.text)
        #expect(check.status == 0, "\(check.report)")
        #expect(!check.families.contains { $0.hasSuffix(" unknown") }, "\(check.families)")
        #expect(check.families.contains("kimera_http_request_duration_seconds histogram"))
        #expect(check.families.contains("kimera_http_requests counter"))
        #expect(check.families.contains("process_cpu_seconds counter"))
        #expect(check.traceIDs.contains("om-health-4"))

        // promtool (2.42) lints with the text-format parser, which stops at the first exemplar (checked, so that
        // a promtool that learns OpenMetrics is noticed); it accepts the text answer.
        let promtoolOnOpenMetrics = try await promtoolCheck(openMetrics.text)
        #expect(promtoolOnOpenMetrics.status != 0, "\(promtoolOnOpenMetrics.report)")
        #expect(promtoolOnOpenMetrics.report.contains("text format parsing error"))

        let text = try await http(.GET, server.baseURL + "/metrics")
        #expect(text.status == 200)
        #expect(text.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(!text.text.contains("# EOF") && !text.text.contains("trace_id"))
        #expect(text.text.contains("# TYPE kimera_http_requests_total counter\n"))
        let promtoolOnText = try await promtoolCheck(text.text)
        #expect(promtoolOnText.status == 0, "\(promtoolOnText.report)")
        let plain = try await http(.GET, server.baseURL + "/metrics", headers: [("Accept", "text/plain")])
        #expect(plain.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(!plain.text.contains("# EOF"))
        _ = await server.stop()
    }

    @Test("/debug/traces statistics name the requests behind an endpoint's p99 and max")
    func statisticsCarryExemplars() async throws {
        let server = try await ServerProcess.start()
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        let ids = (0..<20).map { "stats-health-\($0)" }
        try await Self.requestHealth(server.baseURL, ids: ids)
        let answer = try await http(.GET, server.baseURL + "/debug/traces?limit=100")
        #expect(answer.status == 200)
        let traces = try answer.decode(TracesResponse.self)
        let endpoint = try #require(traces.statistics.endpoints["/health"])
        let exemplars = try #require(endpoint.exemplars)
        #expect(ids.contains(exemplars.p99.requestID))
        #expect(ids.contains(exemplars.max.requestID))
        // The max exemplar is the slowest request: its duration is the endpoint's max, and its trace agrees.
        #expect(exemplars.max.durationMs == endpoint.timing.maxTimeMs)
        #expect(exemplars.p99.durationMs <= exemplars.max.durationMs)
        let maxTrace = try #require(traces.traces.first { $0.requestID == exemplars.max.requestID })
        #expect(maxTrace.startedAt == exemplars.max.startedAt)
        #expect(maxTrace.durationMs == exemplars.max.durationMs)
        #expect(traces.traces.contains { $0.requestID == exemplars.p99.requestID })
        _ = await server.stop()
    }

    @Test("a real Prometheus scraping with exemplar storage returns request ids that kimera logs finds")
    func prometheusStoresTheExemplars() async throws {
        let server = try await ServerProcess.start()
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        // Geoid creates log `geoid created` at INFO, which the ring keeps in the default (performance) mode.
        let run = UUID().uuidString.prefix(8).lowercased()
        let ids = (0..<6).map { "prom-\(run)-\($0)" }
        for (index, id) in ids.enumerated() {
            let created = try await http(
                .POST, server.baseURL + "/kimera/geoids", headers: [("X-Request-ID", id)],
                json: #"{"content": "exemplar thought \#(index) about tides"}"#)
            #expect(created.status == 201)
        }

        let prometheus = try PrometheusServer(target: "127.0.0.1:\(server.port)")
        defer { prometheus.stop() }
        let started = Date()
        try await prometheus.start()

        let query =
            "kimera_http_request_duration_seconds_bucket{route=\"/kimera/geoids\"}"
            .addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let window = "&start=\(Int(started.timeIntervalSince1970) - 300)&end=\(Int(Date().timeIntervalSince1970) + 300)"
        var found: [String] = []
        let stored = await eventually(timeout: .seconds(30)) {
            let answer = (try? await prometheus.api("/api/v1/query_exemplars?query=\(query)\(window)")) ?? [:]
            let series = answer["data"] as? [[String: Any]] ?? []
            found = series.flatMap { ($0["exemplars"] as? [[String: Any]]) ?? [] }.compactMap {
                ($0["labels"] as? [String: String])?["trace_id"]
            }
            return !found.isEmpty
        }
        #expect(stored, "no exemplars after 30 s; prometheus said: \(prometheus.output.contents)")
        #expect(found.allSatisfy { ids.contains($0) }, "\(found) are not among \(ids)")

        // Prometheus read every scrape as valid OpenMetrics: the target is up with no error.
        let targets = try await prometheus.api("/api/v1/targets")
        let active = ((targets["data"] as? [String: Any])?["activeTargets"] as? [[String: Any]]) ?? []
        #expect(active.count == 1)
        #expect(active.first?["health"] as? String == "up", "\(active)")
        #expect(active.first?["lastError"] as? String == "", "\(active)")

        // Each exemplar's id leads to its request's log records.
        for id in Set(found) {
            let logs = try await runCLI(["logs", "--request-id", id, "--url", server.baseURL, "-o", "ndjson"])
            #expect(logs.status == 0, "\(logs.stderr)")
            let records = try logs.decodeLines(LogRecord.self)
            #expect(records.contains { $0.message == "geoid created" && $0.requestID == id }, "\(logs.stdout)")
            #expect(records.allSatisfy { $0.requestID == id })
        }
        prometheus.stop()
        _ = await server.stop()
    }

    @Test("the fleet's exemplars: the slowest max, the p99 nearest at or above the merged p99")
    func fleetMerge() throws {
        func exemplar(_ id: String, _ ms: Double) -> RequestExemplar {
            RequestExemplar(requestID: id, durationMs: ms, startedAt: "2026-01-01T00:00:00.000000Z")
        }
        let a = EndpointExemplars(p99: exemplar("a-p99", 2), max: exemplar("a-max", 9))
        let b = EndpointExemplars(p99: exemplar("b-p99", 6), max: exemplar("b-max", 7))
        let merged = try #require(EndpointExemplars.merged([a, b], p99Ms: 5))
        #expect(merged.p99.requestID == "b-p99" && merged.max.requestID == "a-max")
        #expect(EndpointExemplars.merged([a, b], p99Ms: 1)?.p99.requestID == "a-p99")
        #expect(EndpointExemplars.merged([a, b], p99Ms: 8)?.p99.requestID == "b-p99")
        #expect(EndpointExemplars.merged([], p99Ms: 1) == nil)
    }
}
