import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PostgresTestServer
import Synchronization
import Testing

/// Three `kimera serve` instances behind HAProxy (Debian's `haproxy`, `scripts/setup` installs it), restarted
/// one after the other under a steady load: with a drain longer than HAProxy's check interval no request
/// fails and no acknowledged write is lost (docs/OPERATIONS.md "Rolling restarts").
///
/// The three instances share one PostgreSQL vault (a throw-away server the test starts, as in
/// `MultiInstanceTests`); after the restarts every acknowledged write is looked up on every instance directly
/// and must be on each of them: a write that one replica acknowledged is in the shared vault.
@Suite("rolling restart behind HAProxy", .serialized)
struct RollingRestartTests {
    static let haproxy = ["/usr/sbin/haproxy", "/usr/bin/haproxy"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    @Test(
        "three instances restarted one by one with --drain 1s under mixed load: 0 failed requests, 0 lost writes",
        .enabled(if: haproxy != nil, "haproxy is not installed (scripts/setup installs it)"))
    func rollingRestart() async throws {
        let ports = try (0..<3).map { _ in try freeLoopbackPort() }
        let frontend = try freeLoopbackPort()
        let statsPort = try freeLoopbackPort()
        let postgres = try PostgresTestServer(fast: true)
        defer { postgres.destroy() }
        try postgres.psql("CREATE DATABASE kimera")
        let vault = postgres.url(database: "kimera")
        let arguments = { (index: Int) in
            [
                "--port", "\(ports[index])", "--vault", vault, "--instance-id", "k\(index)", "--drain", "1s",
                "--shutdown-timeout", "10s",
            ]
        }
        var servers: [ServerProcess] = []
        defer {
            for server in servers where server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) }
        }
        for index in 0..<3 {
            servers.append(try await ServerProcess.start(arguments(index)))
        }
        let balancer = try HAProxyProcess(
            binary: Self.haproxy!, frontend: frontend, stats: statsPort, servers: ports,
            directory: temporaryDirectory("kimera-haproxy"))
        defer { balancer.stop() }
        let allUp = await eventually(timeout: .seconds(15)) {
            let states = (try? await balancer.serverStates()) ?? [:]
            return states.count == 3 && states.values.allSatisfy { $0 == "UP" }
        }
        try #require(allUp, "haproxy did not see the three instances up: \(balancer.output.contents)")

        let load = MixedLoad(baseURL: "http://127.0.0.1:\(frontend)")
        let workers = Task { await load.run(workers: 6, limit: .seconds(120)) }
        try await Task.sleep(for: .seconds(1))

        var restarts: [String] = []
        for index in 0..<3 {
            let started = ContinuousClock.now
            let status = await servers[index].stop()
            let stopped = ContinuousClock.now - started
            #expect(status == 0, "instance \(index) exited \(status): \(servers[index].stderr.contents)")
            servers[index] = try await ServerProcess.start(arguments(index))
            let up = await eventually(timeout: .seconds(15)) {
                (try? await balancer.serverStates())?["k\(index)"] == "UP"
            }
            #expect(up, "haproxy did not see instance \(index) back")
            restarts.append("k\(index): stopped in \(stopped), back up after \(ContinuousClock.now - started)")
            try await Task.sleep(for: .milliseconds(500))
        }
        load.stop()
        await workers.value
        let result = load.result

        print(
            "rolling restart: \(result.requests) requests (\(result.writes) acknowledged writes), \(result.failures.count) failed, longest \(result.longest); \(restarts.joined(separator: "; "))"
        )
        #expect(result.failures.isEmpty, "\(result.failures.prefix(20))")
        #expect(result.requests > 300, "too little load to mean anything: \(result.requests)")

        // Every acknowledged write is in the shared vault: each instance finds it, and the count agrees.
        var lost: [String] = []
        for id in result.acknowledged {
            for server in servers {
                if try await http(.GET, "\(server.baseURL)/kimera/geoids/\(id)").status != 200 {
                    lost.append("\(id) on \(server.port)")
                }
            }
        }
        #expect(
            lost.isEmpty, "\(lost.count) of \(result.acknowledged.count) acknowledged writes lost: \(lost.prefix(10))")
        for server in servers {
            let count = try await http(.GET, "\(server.baseURL)/kimera/vault/geoids/count")
            let total = count.object["count"] as? Int ?? -1
            #expect(total == result.acknowledged.count, "\(server.port): \(count.text)")
        }

        for server in servers { #expect(await server.stop() == 0) }
    }
}

/// A bounded client loop through the balancer: each worker writes a geoid, reads the count, searches.
final class MixedLoad: Sendable {
    struct Result: Sendable {
        var requests = 0
        var writes: Int { acknowledged.count }
        var acknowledged: [String] = []
        var failures: [String] = []
        var longest = Duration.zero
    }

    let baseURL: String
    /// Protects the counts, the acknowledged geoid ids and the failures.
    private let state = Mutex(Result())
    private let stopping = Atomic<Bool>(false)

    init(baseURL: String) { self.baseURL = baseURL }

    var result: Result { state.withLock { $0 } }
    func stop() { stopping.store(true, ordering: .relaxed) }

    /// Runs until `stop()` or `limit`, whichever comes first.
    func run(workers: Int, limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var round = 0
                    while !self.stopping.load(ordering: .relaxed) && ContinuousClock.now < deadline {
                        round += 1
                        await self.request(
                            .POST, "/kimera/geoids",
                            json: #"{"content": "worker \#(worker) round \#(round) of a rolling restart"}"#, expect: 201
                        )
                        await self.request(.GET, "/kimera/vault/geoids/count", expect: 200)
                        await self.request(.GET, "/kimera/geoids/search?query=rolling%20restart&limit=3", expect: 200)
                    }
                }
            }
        }
    }

    private func request(_ method: HTTPMethod, _ path: String, json: String? = nil, expect: Int) async {
        let started = ContinuousClock.now
        var failure: String?
        var geoid: String?
        do {
            let response = try await http(method, baseURL + path, json: json, timeout: .seconds(15))
            if response.status != expect {
                failure = "\(method) \(path): \(response.status) \(response.text.prefix(200))"
            } else if method == .POST {
                geoid = response.object["geoid_id"] as? String
                if geoid == nil { failure = "\(method) \(path): no geoid_id in \(response.text.prefix(200))" }
            }
        } catch {
            failure = "\(method) \(path): \(error)"
        }
        let elapsed = ContinuousClock.now - started
        state.withLock { state in
            state.requests += 1
            state.longest = max(state.longest, elapsed)
            if let failure { state.failures.append(failure) }
            if let geoid { state.acknowledged.append(geoid) }
        }
    }
}

/// `haproxy -db -f FILE` on loopback: a frontend over the instances, with `/ready` checks as
/// docs/OPERATIONS.md recommends, and a stats page the test reads the servers' states from.
final class HAProxyProcess: @unchecked Sendable {
    // Mutated only by the test task that owns this object.
    let process = Process()
    let output = PipeCollector()
    let statsURL: String

    init(binary: String, frontend: Int, stats: Int, servers: [Int], directory: URL) throws {
        let lines = servers.enumerated().map { "    server k\($0.offset) 127.0.0.1:\($0.element) check" }
        let config = """
            global
                maxconn 1000
            defaults
                mode http
                retries 0
                timeout connect 1s
                timeout client 30s
                timeout server 30s
                timeout check 1s
            frontend kimera
                bind 127.0.0.1:\(frontend)
                default_backend instances
            frontend stats
                bind 127.0.0.1:\(stats)
                stats enable
                stats uri /stats
            backend instances
                balance roundrobin
                option httpchk GET /ready
                default-server inter 300ms fall 1 rise 2
            \(lines.joined(separator: "\n"))

            """
        let file = directory.appendingPathComponent("haproxy.cfg")
        try config.write(to: file, atomically: true, encoding: .utf8)
        statsURL = "http://127.0.0.1:\(stats)/stats;csv"
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-db", "-f", file.path]
        process.standardOutput = output.pipe
        process.standardError = output.pipe
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// Each server's status column (`UP`, `DOWN`, …) from the stats CSV.
    func serverStates() async throws -> [String: String] {
        let csv = try await http(.GET, statsURL, timeout: .seconds(2)).text
        let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        guard let header = rows.first, let status = header.firstIndex(of: "status") else { return [:] }
        var states: [String: String] = [:]
        for row in rows.dropFirst() where row.count > status && row[0] == "instances" && row[1].hasPrefix("k") {
            states[String(row[1])] = String(row[status])
        }
        return states
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// A loopback port free at the time of asking.
func freeLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
    }
    guard bound else { throw ServerStartError(message: "no free port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
