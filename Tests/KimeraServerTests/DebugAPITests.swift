import Foundation
import Hummingbird
import HummingbirdTesting
import KimeraAPI
import KimeraCore
import KimeraModels
import Logging
import Testing

@testable import KimeraObservability
@testable import KimeraServer

@Suite("Debug API")
struct DebugAPITests {
    @Test("the guide's monitoring snippet finds every field it reads")
    func guideMonitoringFields() async throws {
        let server = TestServer()
        server.engine.logger("kimera.core").error("something broke")
        try await server.test { client in
            for _ in 0..<3 { try await client.execute(uri: "/health", method: .get) { _ in } }
            try await client.execute(uri: "/", method: .get) { _ in }
            try await client.execute(uri: "/performance/stats", method: .get) { response in
                #expect(response.status == .ok)
                let stats = response.object
                let requests = stats["request_statistics"] as? [String: Any]
                #expect(requests?["active_requests"] as? Int == 1)
                #expect(requests?["total_requests"] as? Int == 4)
                #expect(stats["response_cache_size"] as? Int == 1)
                #expect(stats["kimera_status"] as? String == "operational")
                let process = stats["process"] as? [String: Any]
                #expect((process?["rss_bytes"] as? Int ?? 0) > 0)
                let decoded = try response.json(PerformanceStats.self)
                #expect(decoded.requestStatistics.endpoints["/health"]?.timing.count == 3)
            }
            try await client.execute(uri: "/debug/logs?level=ERROR&limit=20", method: .get) { response in
                let logs = try response.json(LogsResponse.self)
                #expect(logs.count == 1)
                #expect(logs.logs.first?.message == "something broke")
                #expect(logs.logs.first?.level == .error)
                #expect(logs.bufferCapacity == 5000)
            }
            try await client.execute(uri: "/debug/traces?limit=50&path_filter=/health", method: .get) { response in
                let body = response.object
                let endpoints = (body["statistics"] as? [String: Any])?["endpoints"] as? [String: Any]
                let health = endpoints?["/health"] as? [String: Any]
                #expect(health?["count"] as? Int == 3)
                for field in ["avg_time_ms", "min_time_ms", "max_time_ms", "p50_ms", "p99_ms"] {
                    #expect(health?[field] is Double, "\(field)")
                }
                let traces = try response.json(TracesResponse.self)
                #expect(traces.count == 3)
                #expect(traces.traces.allSatisfy { $0.path == "/health" && $0.route == "/health" && $0.status == 200 })
            }
        }
    }

    @Test("/debug/info has every section, and include_*=false removes its key")
    func debugInfo() async throws {
        let server = TestServer(debug: true)
        try await server.test { client in
            try await client.execute(uri: "/debug/info", method: .get) { response in
                let info = response.object
                for key in [
                    "mode", "config", "recent_logs", "request_traces", "request_statistics", "performance_profiles",
                    "logging", "cache", "buffers", "version", "uptime_s",
                ] {
                    #expect(info[key] != nil, "\(key)")
                }
                let buffers = info["buffers"] as? [String: [String: Any]]
                for store in ["log_ring", "traces", "slow_traces", "series", "profiles", "response_cache"] {
                    #expect(buffers?[store]?["limit"] is Int, "\(store)")
                    #expect(buffers?[store]?["used"] is Int, "\(store)")
                }
                #expect((info["mode"] as? [String: Any])?["debug"] as? Bool == true)
            }
            try await client.execute(
                uri: "/debug/info?include_logs=false&include_traces=no&include_profiles=0", method: .get
            ) { response in
                let info = response.object
                #expect(info["recent_logs"] == nil)
                #expect(info["request_traces"] == nil)
                #expect(info["performance_profiles"] == nil)
                #expect(info["request_statistics"] != nil)
            }
        }
    }

    @Test("POST /debug/mode changes headers, ring level and trace detail for the next request, and ttl reverts it")
    func modeSwitchAndTTL() async throws {
        let server = TestServer(debug: false)
        let logger = server.engine.logger("kimera.core")
        try await server.test(extraRoutes: { router in
            router.get("/test/debug-line") { _, _ in
                logger.debug("debug line")
                return "ok"
            }
        }) { client in
            try await client.execute(uri: "/health", method: .get, headers: [.authorization: "Bearer abc"]) {
                response in
                #expect(response.headers[.debugMode] == "false")
            }
            try await client.execute(uri: "/debug/mode?enabled=true&ttl=1s", method: .post) { response in
                #expect(response.status == .ok)
                let body = try response.json(ModeChangeResponse.self)
                #expect(body.status.rawValue == "Debug mode enabled")
                #expect(body.debug == true)
                #expect(body.expiresAt != nil)
            }
            try await client.execute(
                uri: "/test/debug-line", method: .get, headers: [.authorization: "Bearer abc", .cookie: "s=1"]
            ) { response in
                #expect(response.headers[.debugMode] == "true")
                #expect(response.headers[.performanceMode] == "true")
            }
            let traces = server.engine.tracer.traces(matching: TraceFilter(), limit: 10)
            let debugTrace = traces.first { $0.path == "/test/debug-line" }?.trace(logCount: 0)
            #expect(debugTrace?.requestHeaders?["authorization"] == "Bearer ***")
            #expect(debugTrace?.requestHeaders?["cookie"] == "s=***")
            #expect(traces.first { $0.path == "/health" }?.requestHeaders == nil)
            #expect(
                server.engine.ring.records(matching: LogFilter(module: "kimera.core"), limit: 5).map(\.message) == [
                    "debug line"
                ])

            // The ttl reverts the mode on its own (the maintenance loop of `kimera serve` calls this).
            let reverted = await eventually {
                server.engine.expireDue()
                return !server.engine.runtime.debug
            }
            #expect(reverted)
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.headers[.debugMode] == "false")
            }
            let audit = server.engine.ring.records(matching: LogFilter(module: "kimera.audit"), limit: 10).map(
                \.message)
            #expect(audit == ["debug mode enabled", "ttl expired: debug reverted to false"])
        }
    }

    @Test("log levels: set, list with inheritance, ttl, and the audit trail")
    func logLevels() async throws {
        let server = TestServer()
        _ = server.engine.logger("kimera.core.vault")
        _ = server.engine.logger("")  // swift-log's unnamed task-local default: not a module one can set
        try await server.test { client in
            try await client.execute(uri: "/debug/log-level?level=DEBUG&module=kimera.core", method: .post) {
                response in
                let body = try response.json(LogLevelChangeResponse.self)
                #expect(body.status.rawValue == "success")
                #expect(body.level == .debug)
                #expect(body.module == "kimera.core")
                #expect(body.previous == .warning)
                #expect(body.expiresAt == nil)
            }
            try await client.execute(uri: "/debug/log-level?level=warn", method: .post) { response in
                let body = try response.json(LogLevelChangeResponse.self)
                #expect(body.module == "root")
                #expect(body.level == .warning)
            }
            try await client.execute(uri: "/debug/log-level", method: .get) { response in
                let body = try response.json(LogLevelsResponse.self)
                #expect(
                    body.levels.map(\.rawValue) == ["TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL"])
                #expect(body.root == .warning)
                let vault = body.modules.first { $0.module == "kimera.core.vault" }
                #expect(vault?.configured == nil)
                #expect(vault?.effective == .debug)
                #expect(body.modules.first { $0.module == "kimera.core" }?.configured == .debug)
                #expect(!body.modules.contains { $0.module.isEmpty })
            }
            try await client.execute(uri: "/debug/log-level?level=ERROR&module=kimera.http&ttl=15m", method: .post) {
                response in
                #expect((try? response.json(LogLevelChangeResponse.self))?.expiresAt != nil)
            }
        }
        let audit = server.engine.ring.records(matching: LogFilter(module: "kimera.audit"), limit: 10)
        #expect(audit.count == 3)
        #expect(audit.first?.metadata["setting"] == "log_level.kimera.core")
    }

    @Test("every invalid parameter value is a 400 naming the parameter and the allowed values")
    func invalidParameters() async throws {
        let server = TestServer()
        let cases: [(String, HTTPRequest.Method, String, Bool)] = [
            ("/debug/logs?level=LOUD", .get, "level", true),
            ("/debug/logs?limit=0", .get, "limit", false),
            ("/debug/logs?limit=abc", .get, "limit", false),
            ("/debug/logs?limit=-5", .get, "limit", false),
            ("/debug/logs?since_seq=x", .get, "since_seq", false),
            ("/debug/logs?exact=perhaps", .get, "exact", true),
            ("/debug/mode?enabled=maybe", .post, "enabled", true),
            ("/debug/mode", .post, "enabled", true),
            ("/debug/mode?enabled=true&ttl=forever", .post, "ttl", true),
            ("/debug/profiling?enabled=true&ttl=-3s", .post, "ttl", true),
            ("/debug/traces?min_duration_ms=-1", .get, "min_duration_ms", false),
            ("/debug/traces?status=abc", .get, "status", false),
            ("/debug/traces?method=FETCH", .get, "method", true),
            ("/debug/traces?slow=sometimes", .get, "slow", true),
            ("/debug/log-level?level=LOUD", .post, "level", true),
            ("/debug/log-level", .post, "level", true),
            ("/debug/info?include_logs=nah", .get, "include_logs", true),
            ("/debug/profiles?limit=0", .get, "limit", false),
            ("/?bypass_cache=2", .get, "bypass_cache", true),
        ]
        try await server.test { client in
            for (uri, method, parameter, hasAllowed) in cases {
                try await client.execute(uri: uri, method: method) { response in
                    #expect(response.status == .badRequest, "\(uri)")
                    let error = try response.json(ErrorBody.self)
                    #expect(error.error == "invalid_parameter", "\(uri)")
                    #expect(error.parameter == parameter, "\(uri)")
                    #expect(error.message.contains(parameter), "\(uri)")
                    #expect(error.requestID == response.headers[.requestID], "\(uri)")
                    if hasAllowed { #expect(error.allowed?.isEmpty == false, "\(uri)") }
                }
            }
            // Large limits are clamped, not refused; unknown parameters are ignored.
            try await client.execute(uri: "/debug/logs?limit=999999&colour=blue", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("unknown routes are a JSON 404 and wrong methods a JSON 405 with Allow")
    func notFoundAndMethodNotAllowed() async throws {
        let server = TestServer()
        try await server.test { client in
            try await client.execute(uri: "/nothing/here", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentType] == "application/json")
                let error = try response.json(ErrorBody.self)
                #expect(error.error == "not_found")
                #expect(error.message.contains("/nothing/here"))
            }
            try await client.execute(uri: "/debug/logs", method: .delete) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET")
                #expect((try? response.json(ErrorBody.self))?.error == "method_not_allowed")
            }
            try await client.execute(uri: "/debug/mode?enabled=true", method: .get) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
            }
        }
    }

    @Test("profiling: off costs nothing and records nothing; on records named calls with the request id")
    func profiling() async throws {
        let server = TestServer()
        let profiler = server.engine.profiler
        try await server.test(extraRoutes: { router in
            router.get("/test/work") { _, _ in
                profiler.profile("vault.write") { (0..<1000).reduce(0, +) }
                return "ok"
            }
        }) { client in
            try await client.execute(uri: "/test/work", method: .get) { _ in }
            #expect(profiler.profiles(limit: 10).isEmpty)
            try await client.execute(uri: "/debug/profiling?enabled=on", method: .post) { response in
                #expect((try? response.json(ModeChangeResponse.self))?.status.rawValue == "Profiling enabled")
            }
            try await client.execute(uri: "/test/work", method: .get, headers: [.requestID: "prof-1"]) { _ in }
            try await client.execute(uri: "/debug/profiles?name=vault.write", method: .get) { response in
                let body = try response.json(ProfilesResponse.self)
                #expect(body.count == 1)
                #expect(body.profiles.first?.requestID == "prof-1")
                #expect((body.profiles.first?.peakRSSBytes ?? 0) > 0)
                #expect(body.functions["vault.write"]?.count == 1)
                #expect(body.enabled)
            }
        }
    }

    @Test("/metrics is valid Prometheus text exposition 0.0.4")
    func metricsExposition() async throws {
        let server = TestServer()
        try await server.test(extraRoutes: { router in
            router.get("/test/quote\"route") { _, _ in "ok" }
        }) { client in
            try await client.execute(uri: "/health", method: .get) { _ in }
            try await client.execute(uri: "/nope", method: .get) { _ in }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                let problems = PrometheusTextChecker.problems(in: response.text)
                #expect(problems.isEmpty, "\(problems)")
                #expect(
                    response.text.contains(
                        "kimera_http_request_duration_seconds_count{route=\"/health\",method=\"GET\"} 1"))
                #expect(response.text.contains("kimera_http_requests_total{route=\"<unmatched>\",method=\"GET\"} 1"))
                #expect(response.text.contains("kimera_cache_hits_total"))
                #expect(response.text.contains("process_resident_memory_bytes"))
                #expect(response.text.contains("kimera_log_records_total{level=\"INFO\"}"))
            }
        }
        #expect(PrometheusExposition.escape("a\"b\\c\nd") == "a\\\"b\\\\c\\nd")
    }
}

/// The text format rules, line by line: HELP/TYPE comments, metric names, label syntax and escapes,
/// numeric values, every sample belonging to a declared family, histogram buckets cumulative and
/// ending in +Inf equal to _count.
enum PrometheusTextChecker {
    static func problems(in text: String) -> [String] {
        var problems: [String] = []
        var types: [String: String] = [:]
        var bucketValues: [String: [Double]] = [:]
        var counts: [String: Double] = [:]
        let namePattern = try! Regex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty { continue }
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ", maxSplits: 3)
                guard parts.count >= 3, (try? namePattern.wholeMatch(in: String(parts[2]))) != nil else {
                    problems.append("line \(number + 1): bad comment \(line)")
                    continue
                }
                if parts[1] == "TYPE" {
                    let type = parts.count > 3 ? String(parts[3]) : ""
                    guard ["counter", "gauge", "histogram", "summary", "untyped"].contains(type) else {
                        problems.append("line \(number + 1): bad type \(type)")
                        continue
                    }
                    if types[String(parts[2])] != nil { problems.append("line \(number + 1): duplicate TYPE") }
                    types[String(parts[2])] = type
                }
                continue
            }
            if line.hasPrefix("#") { continue }
            // name{labels} value
            var rest = Substring(line)
            let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
            let name = String(rest[..<nameEnd])
            guard (try? namePattern.wholeMatch(in: name)) != nil else {
                problems.append("line \(number + 1): bad metric name \(name)")
                continue
            }
            rest = rest[nameEnd...]
            var labels: [String: String] = [:]
            if rest.first == "{" {
                rest = rest.dropFirst()
                while rest.first != "}" {
                    guard let equals = rest.firstIndex(of: "=") else {
                        problems.append("line \(number + 1): label"); break
                    }
                    let label = String(rest[..<equals])
                    rest = rest[rest.index(after: equals)...]
                    guard rest.first == "\"" else { problems.append("line \(number + 1): unquoted label value"); break }
                    rest = rest.dropFirst()
                    var value = ""
                    var escaped = false
                    while let character = rest.first {
                        rest = rest.dropFirst()
                        if escaped {
                            guard ["\\", "\"", "n"].contains(character) else {
                                problems.append("line \(number + 1): bad escape \\\(character)")
                                break
                            }
                            value.append(character == "n" ? "\n" : character)
                            escaped = false
                        } else if character == "\\" {
                            escaped = true
                        } else if character == "\"" {
                            break
                        } else {
                            guard character != "\n" else { problems.append("line \(number + 1): raw newline"); break }
                            value.append(character)
                        }
                    }
                    labels[label] = value
                    if rest.first == "," { rest = rest.dropFirst() }
                    if rest.isEmpty { problems.append("line \(number + 1): unterminated labels"); break }
                }
                rest = rest.dropFirst()
            }
            guard rest.first == " ",
                let value = Double(
                    rest.dropFirst().split(separator: " ").first.map(String.init)?.replacingOccurrences(
                        of: "+Inf", with: "inf") ?? "")
            else {
                problems.append("line \(number + 1): bad value in \(line)")
                continue
            }
            let family = ["_bucket", "_sum", "_count"].reduce(name) { name, suffix in
                name.hasSuffix(suffix) && types[String(name.dropLast(suffix.count))] == "histogram"
                    ? String(name.dropLast(suffix.count)) : name
            }
            guard types[family] != nil else {
                problems.append("line \(number + 1): sample of undeclared family \(name)")
                continue
            }
            if types[family] == "histogram" {
                var series = labels
                series["le"] = nil
                let key = family + series.sorted { $0.key < $1.key }.description
                if name.hasSuffix("_bucket") {
                    guard labels["le"] != nil else {
                        problems.append("line \(number + 1): bucket without le"); continue
                    }
                    bucketValues[key, default: []].append(value)
                } else if name.hasSuffix("_count") {
                    counts[key] = value
                }
            }
        }
        for (key, values) in bucketValues {
            if values != values.sorted() { problems.append("buckets not cumulative for \(key)") }
            if values.last != counts[key] { problems.append("+Inf bucket differs from _count for \(key)") }
        }
        return problems
    }
}
