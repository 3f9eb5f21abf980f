import Foundation
import GRDB
import KimeraAPI
import KimeraModels
import Synchronization
import Testing

/// The SWM core over real HTTP against the real binary, with a real SQLite vault on disk.
@Suite("Kimera core over HTTP", .serialized)
struct KimeraCoreTests {
    func create(_ base: String, _ json: String) async throws -> CreateGeoidResponse {
        let response = try await http(.POST, "\(base)/kimera/geoids", json: json)
        #expect(response.status == 201, "\(response.text)")
        return try response.decode(CreateGeoidResponse.self)
    }

    @Test("create in both forms, search, process, rebalance, restart: everything is still there")
    func lifecycle() async throws {
        let directory = temporaryDirectory()
        var server = try await ServerProcess.start(dataDirectory: directory)
        let base = server.baseURL
        let cat = try await create(
            base, #"{"content": "The cat sleeps on the warm mat by the fire", "metadata": {"source": "test"}}"#)
        let dog = try await create(base, #"{"content": "A dog runs through the cold wet field at night"}"#)
        let features = try await create(
            base, #"{"semantic_features": {"warmth": 0.9, "size": 0.2}, "symbolic_content": {"alive": true}}"#)
        let echo = try await create(base, #"{"echoform_text": "(geoid (cat 'warm) 3.5)"}"#)
        #expect(cat.geoid.metadata["source"] == .string("test"))
        #expect(features.geoid.semanticState["warmth"] == 0.9)
        #expect(features.geoid.symbolicState["alive"] == .bool(true))
        #expect(echo.geoid.symbolicState["echoform"] != nil)

        let search = try await http(.GET, "\(base)/kimera/geoids/search?query=sleeps%20mat%20fire&limit=3").decode(
            SearchResponse.self)
        #expect(search.results.first?.geoidID == cat.geoidID)
        let top = try #require(search.results.first?.similarityScore)
        #expect(top > 0 && top <= 1)
        #expect(search.results.map(\.similarityScore) == search.results.map(\.similarityScore).sorted(by: >))

        let processed = try await http(
            .POST, "\(base)/kimera/contradiction/process/contradictions/sync",
            json: #"{"trigger_geoid_id": "\#(dog.geoidID)", "search_limit": 5, "force_collapse": true}"#)
        #expect(processed.status == 200, "\(processed.text)")
        let result = try processed.decode(ProcessResult.self)
        #expect(result.scarsCreated > 0)
        #expect(result.results.allSatisfy { $0.decision.rawValue == "collapse" })
        let scarID = try #require(result.results.first?.scarID)
        let scar = try await http(.GET, "\(base)/kimera/scars/\(scarID)").decode(Scar.self)
        #expect(scar.resolvedBy == "ContradictionEngine:Collapse")
        #expect(scar.deltaEntropy == -0.02)
        #expect(abs(scar.postEntropy - (scar.preEntropy - 0.02)) < 1e-9)
        #expect(scar.geoids.contains(dog.geoidID))
        let vaultA = try await http(.GET, "\(base)/kimera/vault/vaults/vault_a?limit=50").decode(VaultContents.self)
        let vaultB = try await http(.GET, "\(base)/kimera/vault/vaults/vault_b?limit=50").decode(VaultContents.self)
        #expect(vaultA.contents.count + vaultB.contents.count == result.scarsCreated)
        #expect(vaultA.contents.count - vaultB.contents.count <= 1)
        #expect(try await http(.GET, "\(base)/kimera/vault/vaults/vault_c").status == 404)

        let rebalance = try await http(.POST, "\(base)/kimera/vault/vaults/rebalance")
        #expect(rebalance.status == 200)
        let status = try await http(.GET, base + documented("getVaultStatus")).decode(VaultStatus.self)
        #expect(status.totalScars == result.scarsCreated)
        #expect(status.totalGeoids == 4)

        // Restart on the same data directory.
        #expect(await server.stop() == 0)
        server = try await ServerProcess.start(dataDirectory: directory)
        let again = server.baseURL
        let reloaded = try await http(.GET, "\(again)/kimera/geoids/\(cat.geoidID)").decode(Geoid.self)
        #expect(reloaded == cat.geoid)
        #expect(try await http(.GET, "\(again)/kimera/scars/\(scarID)").decode(Scar.self) == scar)
        let searchAgain = try await http(.GET, "\(again)/kimera/geoids/search?query=sleeps%20mat%20fire&limit=3")
            .decode(SearchResponse.self)
        #expect(searchAgain.results.map(\.geoidID) == search.results.map(\.geoidID))
        #expect(
            try await http(.GET, again + documented("getVaultStatus")).decode(VaultStatus.self).totalScars
                == result.scarsCreated)

        // A write invalidates cached reads.
        #expect(try await http(.GET, "\(again)/kimera/geoids/\(dog.geoidID)").header("X-Cache") == "MISS")
        #expect(try await http(.GET, "\(again)/kimera/geoids/\(dog.geoidID)").header("X-Cache") == "HIT")
        #expect(try await http(.DELETE, "\(again)/kimera/geoids/\(dog.geoidID)").status == 204)
        #expect(try await http(.GET, "\(again)/kimera/geoids/\(dog.geoidID)").status == 404)

        // Domain logs are under kimera.core.
        let logs = try await http(.GET, "\(again)/debug/logs?module=kimera.core").decode(LogsResponse.self)
        #expect(logs.logs.contains { $0.module == "kimera.core.geoids" && $0.message == "geoid deleted" })
        await server.stop()
    }

    @Test("bad input gets a 400 or 404 that says what is wrong, and nothing is half-written")
    func badInput() async throws {
        let server = try await ServerProcess.start()
        let base = server.baseURL
        let cases: [(String, String?, Int, String)] = [
            ("/kimera/geoids", nil, 400, "JSON body"),
            ("/kimera/geoids", "{", 400, "not valid JSON"),
            ("/kimera/geoids", "[]", 400, "object"),
            ("/kimera/geoids", #"{"metadata": {}}"#, 400, "content"),
            ("/kimera/geoids", #"{"content": 42}"#, 400, "content"),
            ("/kimera/geoids", #"{"semantic_features": {"a": "x"}}"#, 400, "'a'"),
            ("/kimera/geoids", #"{"echoform_text": "(a (b)"}"#, 400, "line 1"),
            ("/kimera/contradiction/detect", #"{"geoid_pairs": []}"#, 400, "geoid_pairs"),
            (
                "/kimera/contradiction/process/contradictions/sync", #"{"trigger_geoid_id": "geoid_missing"}"#, 404,
                "geoid_missing"
            ),
            (
                "/kimera/contradiction/process/contradictions/sync", #"{"trigger_geoid_id": "x", "search_limit": 0}"#,
                400, "search_limit"
            ),
            // A job is refused at once for what it would fail on: the range is the sync call's, 1 to 100.
            (
                "/kimera/contradiction/process/contradictions", #"{"trigger_geoid_id": "x", "search_limit": 1000}"#,
                400, "'search_limit' must be from 1 to 100, got 1000"
            ),
            (
                "/kimera/contradiction/process/contradictions", #"{"trigger_geoid_id": "x", "search_limit": 0}"#,
                400, "'search_limit' must be at least 1, got 0"
            ),
        ]
        for (path, body, status, fragment) in cases {
            let response: HTTPResult
            if let body {
                response = try await http(.POST, "\(base)\(path)", json: body)
            } else {
                response = try await http(.POST, "\(base)\(path)")
            }
            #expect(response.status == status, "\(path) \(body ?? "") → \(response.text)")
            let error = try response.decode(ErrorBody.self)
            #expect(error.message.contains(fragment), "\(error.message)")
        }
        let detect = try await http(
            .POST, "\(base)/kimera/contradiction/detect", json: #"{"geoid_pairs": [["a"], ["b", "c"]]}"#)
        #expect(detect.status == 200)
        #expect((try detect.decode(DetectResponse.self)).results.allSatisfy { $0.error != nil })
        #expect(try await http(.GET, "\(base)/kimera/geoids/search").status == 400)
        #expect(try await http(.GET, "\(base)/kimera/geoids/search?query=x&limit=0").status == 400)
        #expect(try await http(.GET, "\(base)/kimera/vault/geoids/count").decode(GeoidCountResponse.self).count == 0)
        let big = String(repeating: "a", count: 1_100_000)
        let tooLarge = try await http(.POST, "\(base)/kimera/geoids", json: #"{"content": "\#(big)"}"#)
        #expect(tooLarge.status == 413)
        #expect(try tooLarge.decode(ErrorBody.self).error == "payload_too_large")
        await server.stop()
    }

    @Test("asynchronous processing: 202 with a job id, then the result")
    func asyncJob() async throws {
        let server = try await ServerProcess.start()
        let base = server.baseURL
        let a = try await create(base, #"{"content": "hot bright summer sun"}"#)
        _ = try await create(base, #"{"content": "cold dark winter night"}"#)
        let accepted = try await http(
            .POST, "\(base)/kimera/contradiction/process/contradictions",
            json: #"{"trigger_geoid_id": "\#(a.geoidID)", "force_collapse": true}"#)
        #expect(accepted.status == 202)
        let job = try accepted.decode(JobResponse.self)
        let done = try await eventually {
            try await http(.GET, "\(base)\(job.statusURL)").decode(JobStatusResponse.self).status == .completed
        }
        #expect(done)
        let state = try await http(.GET, "\(base)\(job.statusURL)").decode(JobStatusResponse.self)
        #expect(state.result?.triggerGeoidID == a.geoidID)
        #expect(try await http(.GET, "\(base)/kimera/contradiction/jobs/job_nope").status == 404)
        await server.stop()
    }

    @Test("SIGKILL during a stream of creates loses no acknowledged geoid and leaves a sound database")
    func crashSafety() async throws {
        let directory = temporaryDirectory()
        let server = try await ServerProcess.start(dataDirectory: directory)
        let base = server.baseURL
        let acknowledged = AcknowledgedIDs()
        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        for index in 0..<2000 {
                            guard
                                let response = try? await http(
                                    .POST, "\(base)/kimera/geoids",
                                    json: #"{"content": "writer \#(writer) geoid \#(index) entropy tension vault"}"#,
                                    timeout: .seconds(5)),
                                response.status == 201, let created = try? response.decode(CreateGeoidResponse.self)
                            else { return }
                            acknowledged.ids.withLock { $0.append(created.geoidID) }
                        }
                    }
                }
            }
        }
        _ = await eventually { acknowledged.ids.withLock { $0.count } >= 150 }
        await server.stop(signal: SIGKILL)
        await writers.value
        let ids = acknowledged.ids.withLock { $0 }
        #expect(ids.count >= 150)

        let restarted = try await ServerProcess.start(dataDirectory: directory)
        for id in ids {
            let response = try await http(.GET, "\(restarted.baseURL)/kimera/geoids/\(id)?bypass_cache=true")
            #expect(response.status == 200, "\(id) acknowledged but missing")
        }
        await restarted.stop()
        let database = try DatabaseQueue(path: directory.appendingPathComponent("kimera.sqlite").path)
        let check = try await database.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
        #expect(check == "ok")
    }
}

/// Ids the server acknowledged with a 201, shared by the writer tasks.
final class AcknowledgedIDs: Sendable {
    /// Protects the list.
    let ids = Mutex<[String]>([])
}
