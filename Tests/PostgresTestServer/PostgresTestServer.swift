import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A throw-away PostgreSQL 15 for tests: `initdb` in a temporary folder (as the `postgres` user when run as
/// root, which `initdb` requires), started with `pg_ctl` on a free loopback port and a Unix socket in that
/// folder, password authentication on both. Stopped by `stop()`, and the shared one at process exit.
public final class PostgresTestServer: Sendable {
    public let root: String
    public let port: Int
    public static let superuserPassword = "kimera-test-secret"
    public var password: String { Self.superuserPassword }
    public var socketDirectory: String { root }
    var dataDirectory: String { root + "/data" }

    /// The server every test of this process shares; started on first use, stopped at exit.
    public static func shared() throws -> PostgresTestServer {
        try sharedServer.withLock { server in
            if let server { return server }
            let started = try PostgresTestServer(fast: true)
            server = started
            atexit { PostgresTestServer.stopShared() }
            return started
        }
    }

    /// Protects the shared server, started at most once per process.
    private static let sharedServer = Mutex<PostgresTestServer?>(nil)
    /// Protects the database name counter.
    private static let counter = Mutex(0)

    static func stopShared() {
        sharedServer.withLock { $0?.destroy() }
    }

    /// - Parameter fast: no fsync (tests); false keeps PostgreSQL's durable defaults (benchmarks).
    public init(fast: Bool = true) throws {
        let bin = try Self.binDirectory()
        root = NSTemporaryDirectory() + "kimera-pg-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try "\(Self.superuserPassword)\n".write(toFile: root + "/pwfile", atomically: true, encoding: .utf8)
        if getuid() == 0 { try Self.run("/bin/chown", ["-R", "postgres:postgres", root]) }
        let port = try Self.freePort()
        self.port = port
        var settings = "-k \(root) -p \(port) -c listen_addresses=127.0.0.1 -c max_connections=200"
        if fast { settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off" }
        self.settings = settings
        self.bin = bin
        try Self.asOwner(
            bin + "/initdb",
            [
                "-D", root + "/data", "-U", "postgres", "--auth=scram-sha-256", "--pwfile=\(root)/pwfile", "-E", "UTF8",
                "--no-sync", "--no-instructions",
            ])
        try start()
    }

    let settings: String
    let bin: String

    /// Starts (again) and waits until it accepts connections (at most 30 s).
    public func start() throws {
        try asOwner(
            bin + "/pg_ctl", ["-D", dataDirectory, "-l", root + "/log", "-o", settings, "-w", "-t", "30", "start"])
    }

    /// Stops it (fast shutdown: open connections are closed), waiting at most 30 s.
    public func stop() {
        try? asOwner(bin + "/pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "-t", "30", "stop"])
    }

    /// Stops it and removes its folder.
    public func destroy() {
        stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// `postgres://postgres:PASSWORD@127.0.0.1:PORT/DATABASE`.
    public func url(database: String, password: String? = nil) -> String {
        "postgres://postgres:\(password ?? self.password)@127.0.0.1:\(port)/\(database)"
    }

    /// The same database through the Unix socket.
    public func socketURL(database: String) -> String {
        "postgresql://postgres:\(password)@/\(database)?host=\(socketDirectory)&port=\(port)"
    }

    /// Creates an empty database with a fresh name and returns the name.
    public func createDatabase(prefix: String = "kimera_test") throws -> String {
        let number = Self.counter.withLock { value in
            value += 1
            return value
        }
        let name = "\(prefix)_\(getpid())_\(number)"
        try psql("CREATE DATABASE \(name)")
        return name
    }

    /// Runs one SQL command as the superuser.
    public func psql(_ sql: String, database: String = "postgres") throws {
        try Self.run(
            bin + "/psql",
            [
                "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", socketDirectory, "-p", "\(port)", "-U", "postgres", "-d",
                database,
                "-c", sql,
            ],
            environment: ["PGPASSWORD": password])
    }

    private func asOwner(_ executable: String, _ arguments: [String]) throws {
        try Self.asOwner(executable, arguments)
    }

    private static func asOwner(_ executable: String, _ arguments: [String]) throws {
        if getuid() == 0 {
            try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments)
        } else {
            try Self.run(executable, arguments)
        }
    }

    static func binDirectory() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["KIMERA_PG_BIN"] { return configured }
        for version in ["15", "16", "17", "14"] {
            let path = "/usr/lib/postgresql/\(version)/bin"
            if FileManager.default.fileExists(atPath: path + "/initdb") { return path }
        }
        throw PostgresTestServerError(
            message:
                "no PostgreSQL binaries in /usr/lib/postgresql/*/bin; run scripts/setup (apt-get install postgresql-15)"
        )
    }

    /// Runs a command to completion (at most 60 s), throwing with its output when it fails. posix_spawn and
    /// waitpid rather than Foundation's Process: pg_ctl leaves a daemon behind, and Process on Linux then
    /// may never report the exit of the command itself.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let output = NSTemporaryDirectory() + "pg-cmd-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw PostgresTestServerError(message: "cannot run \(executable): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(60)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                break
            }
            usleep(5_000)
        }
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited, code == 0 else {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw PostgresTestServerError(
                message:
                    "\((executable as NSString).lastPathComponent) \(arguments.joined(separator: " ")) failed (status \(status)): \(text)"
            )
        }
    }

    /// A loopback port nobody listens on now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PostgresTestServerError(message: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw PostgresTestServerError(message: "bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public struct PostgresTestServerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
