import Foundation
import PostgresTestServer
import Synchronization
import Testing

/// nginx on a loopback port, round-robin over the given backends; started and stopped by the test.
final class Balancer: @unchecked Sendable {
    // Mutated only by the test task that owns this object.
    let process = Process()
    let directory: URL
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(backends: [Int]) throws {
        directory = temporaryDirectory("kimera-nginx")
        port = try PostgresTestServer.freePort()
        let servers = backends.map { "    server 127.0.0.1:\($0) max_fails=1 fail_timeout=2s;" }.joined(separator: "\n")
        let path = directory.path
        let config = """
            daemon off;
            worker_processes 1;
            pid \(path)/nginx.pid;
            error_log \(path)/error.log warn;
            events { worker_connections 256; }
            http {
              access_log off;
              client_body_temp_path \(path)/body;
              proxy_temp_path \(path)/proxy;
              fastcgi_temp_path \(path)/fastcgi;
              uwsgi_temp_path \(path)/uwsgi;
              scgi_temp_path \(path)/scgi;
              upstream kimera {
            \(servers)
              }
              server {
                listen 127.0.0.1:\(port);
                location / {
                  proxy_pass http://kimera;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                  proxy_connect_timeout 1s;
                  proxy_read_timeout 10s;
                }
              }
            }
            """
        try config.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-p", path, "-c", path + "/nginx.conf"]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
    }

    func start() async throws {
        try process.run()
        let ready = await eventually(timeout: .seconds(10)) {
            (try? await http(.GET, baseURL + "/health", timeout: .seconds(1)))?.status == 200
        }
        guard ready else { throw ServerStartError(message: "nginx did not answer on \(port)") }
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite("Three instances on one PostgreSQL vault behind nginx", .serialized)
struct MultiInstanceTests {
    @Test("a wrong password, an unreachable server or an unknown scheme: one clear line, no password, exit 1 or 64")
    func startupFailures() async throws {
        let postgres = try PostgresTestServer.shared()
        let wrong = try await runKimera([
            "serve", "--port", "0", "--data-dir", temporaryDirectory().path, "--vault",
            postgres.url(database: "postgres", password: "hunter2-wrong"),
        ])
        #expect(wrong.status == 1)
        let lines = wrong.stderr.split(separator: "\n").filter { !$0.isEmpty }
        #expect(lines.count == 1, "\(wrong.stderr)")
        #expect(wrong.stderr.contains("password authentication failed"))
        #expect(!wrong.stderr.contains("hunter2"))
        let port = try PostgresTestServer.freePort()
        let unreachable = try await runKimera(
            ["serve", "--port", "0", "--data-dir", temporaryDirectory().path],
            environment: ["KIMERA_VAULT_URL": "postgresql://kimera:s3cret@127.0.0.1:\(port)/kimera"])
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.split(separator: "\n").filter { !$0.isEmpty }.count == 1)
        #expect(unreachable.stderr.contains("127.0.0.1:\(port)/kimera") && unreachable.stderr.contains("refused"))
        #expect(!unreachable.stderr.contains("s3cret"))
        let scheme = try await runKimera([
            "serve", "--port", "0", "--data-dir", temporaryDirectory().path, "--vault", "mysql://root:pw@h/db",
        ])
        #expect(scheme.status == 64)
        #expect(scheme.stderr.contains("mysql://root:***@h/db") && scheme.stderr.contains("sqlite:PATH"))
    }

    static func createGeoid(_ base: String, _ text: String) async throws -> HTTPResult {
        try await http(.POST, base + "/kimera/geoids", json: #"{"content": "\#(text)"}"#, timeout: .seconds(10))
    }

    @Test("create through the balancer, read and search everywhere; delete drops cached copies; kill, outage, recovery")
    func threeInstances() async throws {
        let postgres = try PostgresTestServer(fast: true)
        defer { postgres.destroy() }
        try postgres.psql("CREATE DATABASE kimera")
        let url = postgres.url(database: "kimera")
        var servers: [ServerProcess] = []
        var balancer: Balancer?
        defer {
            balancer?.stop()
            for server in servers where server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) }
        }
        for index in 1...3 {
            servers.append(
                try await ServerProcess.start(["--vault", url, "--instance-id", "node-\(index)"]))
        }
        // The banner and /debug/info name the vault with its password masked.
        #expect(servers[0].stderr.contents.contains("postgres://postgres:***@127.0.0.1:\(postgres.port)/kimera"))
        #expect(!servers[0].stderr.contents.contains(postgres.password))
        let info = try await http(.GET, servers[0].baseURL + "/debug/info?include_logs=false")
        #expect(info.status == 200 && !info.text.contains(postgres.password))
        for (index, server) in servers.enumerated() {
            let health = try await http(.GET, server.baseURL + "/health")
            #expect(health.object["instance_id"] as? String == "node-\(index + 1)")
            let metrics = try await http(.GET, server.baseURL + "/metrics")
            #expect(metrics.text.contains("kimera_uptime_seconds{instance_id=\"node-\(index + 1)\"}"))
        }
        let proxy = try Balancer(backends: servers.map(\.port))
        balancer = proxy
        try await proxy.start()

        // Create through the balancer (round robin: each instance takes some), then read and search on each.
        var created: [String: String] = [:]
        for index in 0..<6 {
            let text = "shared vault thought number \(index) about \(["cats", "tides", "orbits"][index % 3])"
            let response = try await Self.createGeoid(proxy.baseURL, text)
            #expect(response.status == 201)
            if let id = response.object["geoid_id"] as? String { created[id] = text }
        }
        #expect(created.count == 6)
        var worstVisibility = Duration.zero
        for server in servers {
            for (id, text) in created {
                #expect(try await http(.GET, server.baseURL + "/kimera/geoids/\(id)").status == 200)
                let started = ContinuousClock.now
                let query = text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let found = await eventually(timeout: .seconds(1)) {
                    let search = try? await http(
                        .GET, server.baseURL + "/kimera/geoids/search?query=\(query)&limit=3&bypass_cache=true")
                    return search?.text.contains(id) == true
                }
                #expect(found, "\(id) not found by search on \(server.baseURL)")
                worstVisibility = max(worstVisibility, ContinuousClock.now - started)
            }
        }

        // Delete on node-1: node-2's and node-3's cached copies are gone within 1 s.
        let victim = try #require(created.keys.sorted().first)
        for server in servers[1...] {
            _ = try await http(.GET, server.baseURL + "/kimera/geoids/\(victim)")
            let cached = try await http(.GET, server.baseURL + "/kimera/geoids/\(victim)")
            #expect(cached.header("X-Cache") == "HIT")
        }
        let deleteStarted = ContinuousClock.now
        #expect(try await http(.DELETE, servers[0].baseURL + "/kimera/geoids/\(victim)").status == 204)
        for server in servers[1...] {
            let gone = await eventually(timeout: .seconds(1)) {
                (try? await http(.GET, server.baseURL + "/kimera/geoids/\(victim)"))?.status == 404
            }
            #expect(gone, "the deleted geoid is still served by \(server.baseURL)")
        }
        let deleteVisibility = ContinuousClock.now - deleteStarted

        // A contradiction job started through node-1 is readable through node-2.
        let trigger = try #require(created.keys.sorted().last)
        let job = try await http(
            .POST, servers[0].baseURL + "/kimera/contradiction/process/contradictions",
            json: #"{"trigger_geoid_id": "\#(trigger)", "search_limit": 5}"#)
        #expect(job.status == 202)
        let jobID = try #require(job.object["job_id"] as? String)
        let finished = await eventually(timeout: .seconds(10)) {
            let state = try? await http(.GET, servers[1].baseURL + "/kimera/contradiction/jobs/\(jobID)")
            return state?.status == 200 && (state?.object["status"] as? String) == "completed"
        }
        #expect(finished)

        // SIGKILL node-3 during a stream of writes through the balancer: every acknowledged write is there.
        let tally = WriteTally()
        let streamDeadline = ContinuousClock.now + .seconds(3)
        let balancerURL = proxy.baseURL
        let killed = servers[2]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    var sent = 0
                    while ContinuousClock.now < streamDeadline && sent < 150 {
                        sent += 1
                        if let response = try? await Self.createGeoid(balancerURL, "stream \(writer) write \(sent)"),
                            response.status == 201, let id = response.object["geoid_id"] as? String
                        {
                            tally.counts.withLock { $0.acknowledged.append(id) }
                        } else {
                            tally.counts.withLock { $0.failed += 1 }
                        }
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(1))
                await killed.stop(signal: SIGKILL)
            }
            try await group.waitForAll()
        }
        let (acked, failed) = tally.counts.withLock { ($0.acknowledged, $0.failed) }
        #expect(acked.count > 20)
        var missing = 0
        for id in acked
        where try await http(.GET, servers[0].baseURL + "/kimera/geoids/\(id)?bypass_cache=true").status != 200 {
            missing += 1
        }
        #expect(missing == 0, "\(missing) of \(acked.count) acknowledged writes are missing")
        let count = try await http(.GET, servers[1].baseURL + "/kimera/vault/geoids/count")
        #expect((count.object["count"] as? Int ?? 0) >= acked.count + 5)

        // PostgreSQL stops: every instance answers 503 and /ready says why.
        postgres.stop()
        let outageStarted = ContinuousClock.now
        for server in servers[..<2] {
            let notReady = await eventually(timeout: .seconds(5)) {
                (try? await http(.GET, server.baseURL + "/ready"))?.status == 503
            }
            #expect(notReady)
            let ready = try await http(.GET, server.baseURL + "/ready")
            #expect(ready.object["error"] as? String == "unavailable")
            let reason = ready.object["message"] as? String ?? ""
            #expect(reason.contains("PostgreSQL at 127.0.0.1:\(postgres.port)"), "/ready says: \(reason)")
            let writeStarted = ContinuousClock.now
            let write = try await Self.createGeoid(server.baseURL, "written while the database is away")
            #expect(write.status == 503 && write.object["error"] as? String == "unavailable")
            #expect(ContinuousClock.now - writeStarted < .seconds(5))
            let read = try await http(.GET, server.baseURL + "/kimera/geoids/\(trigger)?bypass_cache=true")
            #expect(read.status == 503 && read.object["error"] as? String == "unavailable")
            #expect(!(read.text.contains(postgres.password)))
        }
        let timeTo503 = ContinuousClock.now - outageStarted

        // PostgreSQL is back: writes succeed again without a restart.
        try postgres.start()
        let recoveryStarted = ContinuousClock.now
        for server in servers[..<2] {
            let recovered = await eventually(timeout: .seconds(30)) {
                (try? await Self.createGeoid(server.baseURL, "written after the database came back"))?.status == 201
            }
            #expect(recovered, "\(server.baseURL) did not recover")
            #expect(try await http(.GET, server.baseURL + "/ready").status == 200)
        }
        let recovery = ContinuousClock.now - recoveryStarted
        print(
            "multi-instance: search visibility worst \(worstVisibility), delete→404 on the others \(deleteVisibility), "
                + "writes during SIGKILL acked \(acked.count) failed \(failed) missing \(missing), "
                + "503 on both after \(timeTo503), recovery \(recovery)")
        for server in servers where server.process.isRunning { await server.stop() }
    }
}

/// The writes a stream got acknowledged (201 with an id) and the ones that failed.
final class WriteTally: Sendable {
    /// Protects both lists, appended to by concurrent writers.
    let counts = Mutex<(acknowledged: [String], failed: Int)>(([], 0))
}
