import AsyncHTTPClient
import Foundation
import KimeraModels
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// The package root, from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The built `kimera` binary (`scripts/test` builds it before running the tests); `KIMERA_TEST_BINARY`
/// names another (the sanitized build of `scripts/test --sanitize`).
let kimeraBinary =
    ProcessInfo.processInfo.environment["KIMERA_TEST_BINARY"]
    ?? packageRoot.appendingPathComponent(".build/debug/kimera").path

/// A fresh temporary directory, removed by the caller.
/// Time a sanitized binary needs on top of an upper time bound (its code runs several times slower and a
/// ThreadSanitizer process takes seconds to exit): `scripts/test --sanitize` sets KIMERA_TEST_SLACK_SECONDS.
/// Only upper bounds add it; the lower ones (a grace period kept) stay exact.
let sanitizerSlack: Duration = .seconds(
    Double(ProcessInfo.processInfo.environment["KIMERA_TEST_SLACK_SECONDS"] ?? "") ?? 0)

func temporaryDirectory(_ name: String = "kimera-test") -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Collects a pipe's output on a background thread, so the child never blocks on a full pipe.
final class PipeCollector: Sendable {
    final class Storage: Sendable {
        /// Protects the bytes read so far (decoded only when read: a chunk may end inside a character).
        let bytes = Mutex<Data>(Data())
        /// Set once the writer closed the pipe (end of file).
        let closed = Atomic<Bool>(false)
    }
    let storage = Storage()
    let pipe = Pipe()

    init() {
        let handle = pipe.fileHandleForReading
        let storage = self.storage
        Thread.detachNewThread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                storage.bytes.withLock { $0.append(data) }
            }
            storage.closed.store(true, ordering: .releasing)
        }
    }

    var contents: String { storage.bytes.withLock { String(decoding: $0, as: UTF8.self) } }
    /// Whether everything the writer will ever write has been read.
    var closed: Bool { storage.closed.load(ordering: .acquiring) }
}

/// `kimera serve` as a child process on a free loopback port.
final class ServerProcess: @unchecked Sendable {
    // Mutated only by the test task that owns this object.
    let process = Process()
    let stderr = PipeCollector()
    let stdout = PipeCollector()
    let dataDirectory: URL
    private(set) var port = 0
    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(arguments: [String] = [], environment: [String: String] = [:], dataDirectory: URL? = nil) {
        self.dataDirectory = dataDirectory ?? temporaryDirectory()
        process.executableURL = URL(fileURLWithPath: kimeraBinary)
        var args = ["serve"]
        if !arguments.contains("--port") { args += ["--port", "0"] }
        if !arguments.contains("--data-dir") { args += ["--data-dir", self.dataDirectory.path] }
        process.arguments = args + arguments
        // Neither KIMERA_ nor OTEL_ settings of the test runner reach the server: each test says its own.
        var env = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("KIMERA_") && !$0.key.hasPrefix("OTEL_")
        }
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardError = stderr.pipe
        process.standardOutput = stdout.pipe
    }

    /// Starts the server and waits (at most 20 s) for its `listening:` line.
    static func start(
        _ arguments: [String] = [], environment: [String: String] = [:], dataDirectory: URL? = nil
    ) async throws -> ServerProcess {
        let server = ServerProcess(arguments: arguments, environment: environment, dataDirectory: dataDirectory)
        try server.process.run()
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let line = server.stderr.contents.split(separator: "\n").first(where: {
                $0.contains("listening: http://")
            }),
                let port = line.split(separator: ":").last.flatMap({ Int($0) })
            {
                server.port = port
                return server
            }
            if !server.process.isRunning {
                throw ServerStartError(
                    message: "server exited \(server.process.terminationStatus): \(server.stderr.contents)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        server.process.terminate()
        throw ServerStartError(message: "server did not start: \(server.stderr.contents)")
    }

    /// Sends `signal` and waits (at most 15 s) for the exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = ContinuousClock.now + .seconds(15)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

struct ServerStartError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A response as a test looks at it.
struct HTTPResult: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: Data

    func header(_ name: String) -> String? { headers.first(name: name) }
    var text: String { String(decoding: body, as: UTF8.self) }
    var object: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONDecoder().decode(T.self, from: body) }
}

/// One request with AsyncHTTPClient, loopback only.
func http(
    _ method: HTTPMethod = .GET, _ url: String, headers: [(String, String)] = [], json: String? = nil,
    timeout: TimeAmount = .seconds(30)
) async throws -> HTTPResult {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let json {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
    }
    let response = try await HTTPClient.shared.execute(request, timeout: timeout)
    let body = try await response.body.collect(upTo: 64 << 20)
    return HTTPResult(status: Int(response.status.code), headers: response.headers, body: Data(body.readableBytesView))
}

/// Runs the binary to completion (at most `timeout`) and returns its exit code and output.
func runKimera(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(30))
    async throws -> (status: Int32, stdout: String, stderr: String)
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: kimeraBinary)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KIMERA_") }
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let out = PipeCollector()
    let err = PipeCollector()
    process.standardOutput = out.pipe
    process.standardError = err.pipe
    try process.run()
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
    }
    process.waitUntilExit()
    try await Task.sleep(for: .milliseconds(50))
    return (process.terminationStatus, out.contents, err.contents)
}

/// Polls `condition` up to `timeout`.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
