import Foundation
import Testing

/// Incidents (docs/OPERATIONS.md "Incidents"), in performance mode, where the ring keeps INFO and above: a
/// slow request is kept with its DEBUG records, a fast one leaves nothing, repeats count on one entry.
@Suite("Incidents: requests kept with their DEBUG records", .serialized)
struct IncidentEndToEndTests {
    /// A server whose slow threshold is `thresholdMs`.
    static func withServer(thresholdMs: Double, _ body: (ServerProcess) async throws -> Void) async throws {
        let directory = temporaryDirectory()
        let config = directory.appendingPathComponent("config.json")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(#"{"tracing": {"slow_threshold_ms": \#(thresholdMs)}}"#.utf8).write(to: config)
        let server = try await ServerProcess.start(["--config", config.path], dataDirectory: directory)
        do {
            try await body(server)
        } catch {
            _ = await server.stop()
            throw error
        }
        _ = await server.stop()
    }

    @Test func aSlowSearchIsKeptWithItsDebugRecordsThatTheRingNeverHeld() async throws {
        try await Self.withServer(thresholdMs: 0.001) { server in
            let base = server.baseURL
            let created = try await http(.POST, "\(base)/kimera/geoids", json: #"{"content": "river stone garden"}"#)
            #expect(created.status == 201, "\(created.text)")
            let search = try await http(
                .GET, "\(base)/kimera/geoids/search?query=river&limit=3", headers: [("X-Request-ID", "slow-search-1")])
            #expect(search.status == 200)
            #expect(search.header("X-Performance-Mode") == "true" && search.header("X-Debug-Mode") == "false")

            let list = try await http(.GET, "\(base)/debug/incidents?route=/kimera/geoids/search")
            #expect(list.status == 200, "\(list.text)")
            let incidents = list.object["incidents"] as? [[String: Any]] ?? []
            #expect(incidents.count == 1, "\(list.text)")
            let entry = incidents.first ?? [:]
            #expect(entry["cause"] as? String == "slow")
            #expect(entry["request_id"] as? String == "slow-search-1")
            #expect(entry["count"] as? Int == 1)
            let id = try #require(entry["id"] as? String)
            #expect(id.hasPrefix("inc-"))

            let full = try await http(.GET, "\(base)/debug/incidents/\(id)")
            #expect(full.status == 200, "\(full.text)")
            let logs = full.object["logs"] as? [[String: Any]] ?? []
            let debug = logs.filter { $0["level"] as? String == "DEBUG" }
            #expect(debug.contains { $0["message"] as? String == "geoid search" }, "\(full.text.prefix(2000))")
            #expect(debug.allSatisfy { $0["request_id"] as? String == "slow-search-1" })
            #expect((full.object["trace"] as? [String: Any])?["request_id"] as? String == "slow-search-1")
            #expect(full.object["mode"] as? String == "performance")
            #expect((full.object["reason"] as? String)?.contains("over the slow threshold") == true)
            #expect((full.object["process"] as? [String: Any])?["rss_bytes"] as? Int ?? 0 > 0)

            // The ring (INFO and above in performance mode) holds none of those DEBUG records, and the
            // slow-request warning names the incident.
            let ring = try await http(.GET, "\(base)/debug/logs?request_id=slow-search-1&limit=1000")
            let ringLogs = ring.object["logs"] as? [[String: Any]] ?? []
            #expect(!ringLogs.contains { $0["level"] as? String == "DEBUG" }, "\(ring.text.prefix(2000))")
            let warnings = try await http(.GET, "\(base)/debug/logs?level=WARNING&limit=1000")
            #expect(warnings.text.contains(#""incident_id":"\#(id)""#), "\(warnings.text.prefix(3000))")

            // Filters, the store's fill, and the refusals.
            let byCause = try await http(.GET, "\(base)/debug/incidents?cause=error")
            #expect((byCause.object["incidents"] as? [Any])?.isEmpty == true)
            let buffer = list.object["buffer"] as? [String: Any]
            #expect((buffer?["used"] as? Int ?? 0) >= 1 && buffer?["limit"] as? Int == 200)
            let info = try await http(.GET, "\(base)/debug/info")
            #expect(((info.object["buffers"] as? [String: Any])?["incidents"] as? [String: Any])?["used"] != nil)
            let badCause = try await http(.GET, "\(base)/debug/incidents?cause=boring")
            #expect(badCause.status == 400 && badCause.object["parameter"] as? String == "cause")
            #expect((badCause.object["allowed"] as? [String]) == ["slow", "error", "escalated"])
            // An empty cause names no cause: refused like an unknown one (the contract's enum), not ignored.
            let emptyCause = try await http(.GET, "\(base)/debug/incidents?cause=")
            #expect(emptyCause.status == 400 && emptyCause.object["parameter"] as? String == "cause")
            let badSince = try await http(.GET, "\(base)/debug/incidents?since=yesterday")
            #expect(badSince.status == 400 && badSince.object["parameter"] as? String == "since")
            let missing = try await http(.GET, "\(base)/debug/incidents/inc-0000000000000000")
            #expect(missing.status == 404 && missing.object["error"] as? String == "not_found")

            // The CLI: the list as a table and as JSON, one incident in full, and the refusals.
            let table = try await runKimera(["incidents", "--url", base, "--cause", "slow", "-o", "table"])
            #expect(table.status == 0, "\(table.stderr)")
            #expect(table.stdout.contains(id) && table.stdout.contains("/kimera/geoids/search"), "\(table.stdout)")
            #expect(table.stdout.contains("CAUSE") && table.stdout.contains("slow"), "\(table.stdout)")
            let json = try await runKimera(["incidents", "list", "--url", base, "--since", "10m", "-o", "json"])
            let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect((decoded?["incidents"] as? [[String: Any]])?.contains { $0["id"] as? String == id } == true)
            let show = try await runKimera(["incidents", "show", id, "--url", base, "-o", "table"])
            #expect(show.status == 0, "\(show.stderr)")
            #expect(show.stdout.contains("over the slow threshold") && show.stdout.contains("geoid search"), "\(show.stdout)")
            #expect(show.stdout.contains("slow-search-1"), "\(show.stdout)")
            let unknown = try await runKimera(["incidents", "show", "inc-0000000000000000", "--url", base])
            #expect(unknown.status != 0 && unknown.stderr.contains("No incident"), "\(unknown.stderr)")
            let refusedCause = try await runKimera(["incidents", "--url", base, "--cause", "boring"])
            #expect(refusedCause.status == 64 && refusedCause.stderr.contains("--cause"), "\(refusedCause.stderr)")
        }
    }

    @Test func repeatsOfOneRouteCountOnOneEntryWithinItsBounds() async throws {
        try await Self.withServer(thresholdMs: 0.001) { server in
            let base = server.baseURL
            for index in 0..<1000 {
                let response = try await http(.GET, "\(base)/kimera/geoids/search?query=q\(index)&limit=1")
                #expect(response.status == 200)
            }
            let list = try await http(.GET, "\(base)/debug/incidents?route=/kimera/geoids/search&since=10m")
            let incidents = list.object["incidents"] as? [[String: Any]] ?? []
            #expect(incidents.count == 1, "\(list.text.prefix(2000))")
            #expect(incidents.first?["count"] as? Int == 1000, "\(list.text.prefix(2000))")
            let buffer = list.object["buffer"] as? [String: Any] ?? [:]
            #expect((buffer["bytes"] as? Int ?? .max) <= (buffer["bytes_limit"] as? Int ?? 0))
        }
    }

    @Test("a 5xx is an incident: the vault's data folder deleted, a create refused with 503 is kept with its records")
    func aServerErrorIsKeptAsAnIncident() async throws {
        try await Self.withServer(thresholdMs: 5000) { server in
            let base = server.baseURL
            let kept = try await http(.POST, "\(base)/kimera/geoids", json: #"{"content": "kept"}"#)
            #expect(kept.status == 201)
            try FileManager.default.removeItem(at: server.dataDirectory)
            let refused = try await http(
                .POST, "\(base)/kimera/geoids", headers: [("X-Request-ID", "vault-gone-1")], json: #"{"content": "lost"}"#)
            #expect(refused.status == 503, "\(refused.text)")

            let list = try await http(.GET, "\(base)/debug/incidents?cause=error")
            #expect(list.status == 200, "\(list.text)")
            let incidents = list.object["incidents"] as? [[String: Any]] ?? []
            #expect(incidents.count == 1, "\(list.text)")
            let entry = incidents.first ?? [:]
            #expect(entry["route"] as? String == "/kimera/geoids")
            #expect(entry["request_id"] as? String == "vault-gone-1")
            #expect(entry["status"] as? Int == 503, "\(list.text)")
            let id = try #require(entry["id"] as? String)
            let full = try await http(.GET, "\(base)/debug/incidents/\(id)")
            #expect(full.status == 200)
            let logs = full.object["logs"] as? [[String: Any]] ?? []
            #expect(!logs.isEmpty && logs.allSatisfy { $0["request_id"] as? String == "vault-gone-1" }, "\(full.text.prefix(2000))")
            #expect(logs.contains { ($0["message"] as? String ?? "").contains("deleted") }, "\(full.text.prefix(3000))")
            // The success before it left nothing, and no slow incident was made.
            let slow = try await http(.GET, "\(base)/debug/incidents?cause=slow")
            #expect((slow.object["incidents"] as? [Any])?.isEmpty == true, "\(slow.text)")
        }
    }

    @Test func aFastRequestLeavesNothing() async throws {
        try await Self.withServer(thresholdMs: 5000) { server in
            let base = server.baseURL
            for index in 0..<20 {
                _ = try await http(.GET, "\(base)/kimera/geoids/search?query=fast\(index)&limit=1")
            }
            _ = try await http(.GET, "\(base)/health")
            let list = try await http(.GET, "\(base)/debug/incidents")
            #expect(list.status == 200)
            #expect((list.object["incidents"] as? [Any])?.isEmpty == true, "\(list.text)")
            #expect(list.object["total"] as? Int == 0)
        }
    }
}
