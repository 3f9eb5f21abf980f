import Foundation
import KimeraClient
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Whether the built binary is there: `scripts/test` builds it before `swift test`.
enum CLIBinary {
    static var path: String { kimeraBinary }
    static var exists: Bool { FileManager.default.isExecutableFile(atPath: kimeraBinary) }
}

/// The environment a CLI test starts from: PATH and HOME, TERM unset so output is plain, and a sanitized
/// run's options (`scripts/test --sanitize`), which a clean environment would otherwise lose.
func cleanEnvironment() -> [String: String] {
    var base = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
    for name in ["ASAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"] {
        base[name] = ProcessInfo.processInfo.environment[name]
    }
    return base
}

/// The `kimera` binary (or `executable`) running with arguments and environment, its output collected.
final class CLIProcess {
    let process = Process()
    let stdout = PipeCollector()
    let stderr = PipeCollector()

    /// Starts the binary. `environment` is added to a clean one (PATH, HOME, TERM unset so output is plain).
    init(_ arguments: [String], environment: [String: String] = [:], executable: String = CLIBinary.path) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var base = cleanEnvironment()
        base.merge(environment) { $1 }
        process.environment = base
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout.pipe
        process.standardError = stderr.pipe
        try process.run()
    }

    /// Polls until `condition` holds or `timeout` passes; returns whether it held.
    @discardableResult
    func waitUntil(timeout: Duration = .seconds(15), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Waits for the exit (killing the process after `timeout`) and for both pipes to close.
    func finish(timeout: Duration = .seconds(30)) async -> CLIResult {
        let exited = await waitUntil(timeout: timeout) { !process.isRunning }
        if !exited {
            signal(SIGKILL)
            await waitUntil(timeout: .seconds(5)) { !process.isRunning }
        }
        await waitUntil(timeout: .seconds(5)) { stdout.closed && stderr.closed }
        return CLIResult(
            stdout: stdout.contents, stderr: stderr.contents,
            status: process.isRunning ? -1 : process.terminationStatus,
            timedOut: !exited)
    }
}

/// What one run of the binary produced.
struct CLIResult {
    var stdout: String
    var stderr: String
    var status: Int32
    var timedOut: Bool

    /// stdout decoded as `T`.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(stdout.utf8))
    }

    /// Each non-empty stdout line decoded as `T`.
    func decodeLines<T: Decodable>(_ type: T.Type) throws -> [T] {
        try stdout.split(separator: "\n").map { try JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }

    var stderrLines: [Substring] { stderr.split(separator: "\n") }
}

/// Runs the binary to completion (at most `timeout`).
func runCLI(
    _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(30)
) async throws -> CLIResult {
    try await CLIProcess(arguments, environment: environment).finish(timeout: timeout)
}

/// Runs `executable` with `input` on its stdin (a pipe, closed once written), killing it after `timeout`, and
/// collects its output. `environment` nil: the test runner's own.
func runFeeding(
    _ input: String, to executable: String, _ arguments: [String], environment: [String: String]? = nil,
    timeout: Duration = .seconds(30)
) async throws -> CLIResult {
    let stdin = Pipe()
    let process = Process()
    let stdout = PipeCollector()
    let stderr = PipeCollector()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    process.standardInput = stdin
    process.standardOutput = stdout.pipe
    process.standardError = stderr.pipe
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    let closeDeadline = ContinuousClock.now + .seconds(5)
    while !(stdout.closed && stderr.closed) && ContinuousClock.now < closeDeadline {
        try await Task.sleep(for: .milliseconds(20))
    }
    return CLIResult(
        stdout: stdout.contents, stderr: stderr.contents, status: process.isRunning ? -1 : process.terminationStatus,
        timedOut: ContinuousClock.now >= deadline)
}

/// A `ServerProcess` with a typed client of it, for checking what the binary printed against what the
/// server holds.
final class CLIServer {
    let server: ServerProcess
    let transport = KimeraTransport()
    let client: KimeraClient
    var url: String { server.baseURL }

    /// Starts a server (on a free port unless `port` is given) in a fresh data directory.
    static func start(port: Int = 0, _ extraArguments: [String] = []) async throws -> CLIServer {
        try CLIServer(server: try await ServerProcess.start(["--port", String(port)] + extraArguments))
    }

    private init(server: ServerProcess) throws {
        self.server = server
        client = try KimeraClient(url: server.baseURL, timeout: .seconds(10), transport: transport)
    }

    /// Runs the binary against this server (`--url` is added).
    func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(30)) async throws
        -> CLIResult
    {
        try await runCLI(arguments + ["--url", url], environment: environment, timeout: timeout)
    }

    /// Stops the server (SIGTERM, bounded wait) and removes its data directory.
    func stop() async {
        await transport.shutdown()
        await server.stop()
        try? FileManager.default.removeItem(at: server.dataDirectory)
    }
}

/// Runs `body` with a fresh server and always stops it.
func withCLIServer(_ extraArguments: [String] = [], _ body: (CLIServer) async throws -> Void) async throws {
    let server = try await CLIServer.start(extraArguments)
    do {
        try await body(server)
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
}

struct CLITestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A loopback HTTP server with canned answers, or none: for what a healthy Kimera server does not
/// produce on demand (5xx, a timeout, a log stream with gap and heartbeat lines).
final class StubHTTPServer: Sendable {
    let port: Int
    private let listener: Int32
    /// Protects the accepted connections (kept open when not answered) and the request count.
    private let state = Mutex<(connections: [Int32], requests: Int)>(([], 0))

    /// Answers every request with `response` (a whole HTTP/1.1 response), or never when nil.
    convenience init(response: String?) throws {
        try self.init { _ in response }
    }

    /// `respond` gets the request head (`GET /path HTTP/1.1 …`) and returns the whole response, or nil
    /// to hold the connection open without answering. Each connection is closed after its answer.
    init(respond: @escaping @Sendable (String) -> String?) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw CLITestError("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw CLITestError("bind/listen failed")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        self.listener = listener
        let thread = Thread { [self] in
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                self.state.withLock { $0.requests += 1 }
                var received = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 4096)
                while received.count < 65536 {
                    let count = read(connection, &buffer, buffer.count)
                    if count <= 0 { break }
                    received += buffer.prefix(count)
                    if String(decoding: received, as: UTF8.self).contains("\r\n\r\n") { break }
                }
                guard let response = respond(String(decoding: received, as: UTF8.self)) else {
                    self.state.withLock { $0.connections.append(connection) }
                    continue
                }
                let bytes = Array(response.utf8)
                _ = bytes.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                close(connection)
            }
        }
        thread.start()
    }

    /// How many connections were accepted.
    var requests: Int { state.withLock { $0.requests } }

    /// A response with a JSON body; without `length` the body ends when the connection closes.
    static func json(_ status: String, _ body: String, length: Bool = true) -> String {
        "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\n"
            + (length ? "Content-Length: \(body.utf8.count)\r\n" : "") + "Connection: close\r\n\r\n" + body
    }

    /// A 200 with a JSON body and the headers openapi.json says every Kimera response carries (the client
    /// generated from it requires them).
    static func kimeraJSON(_ body: String) -> String {
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            + "X-Request-ID: stub-1\r\nX-Process-Time-Microseconds: 12\r\nX-Debug-Mode: false\r\n"
            + "X-Performance-Mode: true\r\nConnection: close\r\n\r\n" + body
    }

    /// A 500 with a Kimera error body.
    static func internalError(message: String) -> String {
        json("500 Internal Server Error", #"{"error":"internal","message":"\#(message)","request_id":"stub-1"}"#)
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for connection in state.withLock({ $0.connections }) { close(connection) }
    }
}

/// A loopback port nothing listens on: bound once to learn a free number, then closed. (Not through a
/// `StubHTTPServer`: its accepting thread could run after the close, on a descriptor number by then reused
/// by another test's socket, and take that test's connection.)
func unusedLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw CLITestError("socket failed") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
        }
    }
    guard bound else { throw CLITestError("bind failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

extension String {
    var containsEscapeCodes: Bool { contains("\u{1B}") }
}

/// Every end-to-end suite of the command line, run one test at a time: each test starts a server and
/// several processes, and all at once they starve timing-sensitive tests elsewhere on two cores.
@Suite(.serialized, .enabled(if: CLIBinary.exists, "build the kimera product first (scripts/test does)"))
struct CLITests {}
