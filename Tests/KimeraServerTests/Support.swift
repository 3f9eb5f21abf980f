import Foundation
import Hummingbird
import HummingbirdTesting
import KimeraCore
import KimeraModels
import KimeraTelemetry
import Logging
import Synchronization
import Testing

@testable import KimeraObservability
@testable import KimeraServer

/// A sink that keeps what it was given, to see what the console would have printed.
final class RecordingSink: LogSink, Sendable {
    let name = "console"
    var path: String? { nil }
    let lines = Mutex<[String]>([])
    func write(_ line: String) throws { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

/// A server assembled in-process, as `kimera serve` assembles it.
struct TestServer {
    let engine: ObservabilityEngine
    let app: KimeraApplication
    let console: RecordingSink

    init(
        debug: Bool = false, performance: Bool = true, limits: StoreLimits = StoreLimits(),
        live: LiveSettings = LiveSettings(),
        withVault: Bool = false, security: SecuritySettings = SecuritySettings(), host: String = "127.0.0.1",
        fastPath: Bool = true, telemetry: TelemetryExport? = nil
    ) {
        let runtime = RuntimeConfiguration(debug: debug, performance: performance, live: live)
        console = RecordingSink()
        engine = ObservabilityEngine(runtime: runtime, limits: limits, sinks: [console], telemetry: telemetry?.hooks)
        var configuration = ServerConfiguration()
        configuration.debug = debug
        configuration.performance = performance
        configuration.limits = limits
        configuration.security = security
        configuration.host = host
        configuration.fastPath = fastPath
        var service: KimeraService?
        if withVault {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "kimera-unit-\(UUID().uuidString)")
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            service = try? KimeraService.open(dataDirectory: directory.path)
        }
        app = KimeraApplication(configuration: configuration, engine: engine, service: service, telemetry: telemetry)
        app.readiness.setVaultOpen(true)
    }

    func application(extraRoutes: ((Router<KimeraRequestContext>) -> Void)? = nil) -> some ApplicationProtocol {
        let (router, _) = app.makeRouter()
        extraRoutes?(router)
        // The server `kimera serve` runs (connection tracking, the fast path), so `.live` tests see it.
        return Application(
            router: CanonicalTargetRouter(router: router), server: app.makeServer(), logger: engine.logger("kimera.http"))
    }

    /// Runs `body` with a client of the in-process router.
    func test(
        _ setup: TestingSetup = .router, extraRoutes: ((Router<KimeraRequestContext>) -> Void)? = nil,
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await application(extraRoutes: extraRoutes).test(setup, body)
    }
}

extension TestResponse {
    func json<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }

    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }

    var text: String { String(buffer: body) }
}

/// Polls `condition` up to `timeout`; for behaviour that happens on another thread or timer.
func eventually(timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

func capturedLog(
    _ message: String, level: Logger.Level = .info, module: String = "kimera.test", requestID: String? = nil
) -> CapturedLog {
    CapturedLog(
        seq: 0, timeNanos: Timestamp.wallNanos(), level: level, module: module, message: message, requestID: requestID,
        metadata: [:], file: #fileID, function: #function, line: #line)
}
