import ArgumentParser
import Configuration
import Foundation
import KimeraCore
import KimeraModels
import KimeraObservability
import KimeraServer
import KimeraVaultPostgres
import KimeraTelemetry
import KimeraVaultSQLite
import Logging
import ServiceLifecycle
import SystemPackage

/// `kimera serve`: runs the hybrid server.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the hybrid server.",
        discussion: """
            Modes (docs/API.md §2):
              kimera serve                          pure performance (default)
              kimera serve --debug                  performance + debug
              kimera serve --debug --no-performance full debug
              kimera serve --no-performance         basic

            Environment: KIMERA_DEBUG, KIMERA_PERFORMANCE (true/false/1/0/yes/no/on/off), KIMERA_HOST, \
            KIMERA_PORT, KIMERA_DATA_DIR, KIMERA_VAULT_URL, KIMERA_INSTANCE_ID, KIMERA_CONFIG, KIMERA_DRAIN, \
            KIMERA_SHUTDOWN_TIMEOUT. Precedence: flag > environment > config file > default.

            Several instances on one PostgreSQL vault:
              kimera serve --port 8001 \\
                --vault postgres://kimera:secret@127.0.0.1:5432/kimera
              kimera serve --port 8002 \\
                --vault 'postgresql://kimera@/kimera?host=/var/run/postgresql'

            Stopping (SIGTERM/SIGINT): /ready answers 503 at once; the server keeps serving for --drain \
            (responses carry Connection: close), then stops accepting and lets in-flight requests finish for \
            up to --shutdown-timeout, then closes what is left and exits 0. A second signal stops at once. \
            Behind a balancer that checks /ready every 300 ms (docs/OPERATIONS.md):
              kimera serve --drain 1s
            """).underKimera

    @Flag(inversion: .prefixedNo, help: "Debug mode: ring captures DEBUG, traces carry redacted headers.")
    var debug: Bool?

    @Flag(inversion: .prefixedNo, help: "Performance mode: asynchronous logging, response cache (default on).")
    var performance: Bool?

    @Option(help: "Address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (default 8001; 0 picks a free one).")
    var port: Int?

    @Option(help: "Event-loop threads (default: the number of cores).")
    var workers: Int?

    @Option(help: "A JSON configuration file.")
    var config: String?

    @Option(
        name: .customLong("data-dir"),
        help: "Where the SQLite vault lives (default ./kimera-data, created when missing).")
    var dataDir: String?

    @Option(
        help: ArgumentHelp(
            "Where the vault lives: sqlite:PATH, PATH the file, whose folder must exist (default <data-dir>/kimera.sqlite), or postgres://user:password@host:port/db.",
            valueName: "url"))
    var vault: String?

    @Option(name: .customLong("instance-id"), help: "This replica's name in /health, /debug/info, logs and /metrics (default host:port).")
    var instanceID: String?

    @Option(name: .customLong("log-file"), help: "Also write JSON-lines logs to this file (rotated by size).")
    var logFile: String?

    @Option(
        help: "After SIGTERM/SIGINT keep serving this long with /ready at 503, e.g. 5s (default 0s).",
        transform: Serve.duration)
    var drain: Duration?

    @Option(
        name: .customLong("shutdown-timeout"),
        help: "Then let in-flight requests finish for at most this long, e.g. 30s (default 10s).",
        transform: Serve.duration)
    var shutdownTimeout: Duration?

    @Option(
        name: .customLong("otlp-endpoint"),
        help: ArgumentHelp(
            "Export spans and logs over OTLP/HTTP to this base URL (e.g. http://127.0.0.1:4318).",
            discussion: "Also OTEL_EXPORTER_OTLP_ENDPOINT and the other OTEL_* variables; see docs/OPERATIONS.md."))
    var otlpEndpoint: String?

    @Flag(
        help:
            "Watch the config file and apply log levels, cache TTLs and the slow threshold without a restart (also on SIGHUP)."
    )
    var reload = false

    func run() async throws {
        var flags = ServeFlags()
        flags.debug = debug
        flags.performance = performance
        flags.host = host
        flags.port = port
        flags.workers = workers
        flags.configFile = config
        flags.dataDirectory = dataDir
        flags.logFile = logFile
        flags.reload = reload
        flags.drain = drain
        flags.shutdownTimeout = shutdownTimeout
        flags.vaultURL = vault
        flags.instanceID = instanceID
        flags.otlpEndpoint = otlpEndpoint
        let environment = ProcessInfo.processInfo.environment

        let configPath = ServerConfiguration.configFilePath(flags: flags, environment: environment)
        var file: (any ConfigProvider)?
        var reloading: ReloadingFileProvider<JSONSnapshot>?
        if let configPath {
            guard FileManager.default.fileExists(atPath: configPath) else {
                fail("config file \(configPath) does not exist", code: 64)
            }
            do {
                if reload {
                    let provider = try await ReloadingFileProvider<JSONSnapshot>(
                        filePath: FilePath(configPath), pollInterval: .seconds(1),
                        logger: Logger(label: "kimera.config"))
                    reloading = provider
                    file = provider
                } else {
                    file = try await FileProvider<JSONSnapshot>(filePath: FilePath(configPath))
                }
            } catch {
                // The same words the reloader uses, not Foundation's error domain and code.
                let problem = ConfigFileCheck.problem(path: configPath) ?? "cannot be read: \(error)"
                let detail = ((error as NSError).userInfo["NSDebugDescription"] as? String).map { " (\($0))" } ?? ""
                fail("config file \(configPath) \(problem)\(detail)", code: 64)
            }
        }

        var configuration: ServerConfiguration
        do {
            // One reader over flags, environment, file and defaults (ServerConfiguration.layeredSettings).
            configuration = try ServerConfiguration.resolve(flags: flags, environment: environment, file: file)
        } catch {
            fail("\(error)", code: 64)
        }
        if reload && configPath == nil {
            FileHandle.standardError.write(Data("kimera: --reload has no effect without --config FILE\n".utf8))
        }

        do {
            try FileManager.default.createDirectory(
                atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        } catch {
            fail("cannot create data directory \(configuration.dataDirectory): \(error.localizedDescription)", code: 1)
        }
        if configuration.mode == .fullDebug && configuration.logFile == nil {
            configuration.logFile = (configuration.dataDirectory as NSString).appendingPathComponent("kimera.log")
        }
        // A log file that cannot be written is a mistake to say now, not a counter in sinks[] later.
        if let logFile = configuration.logFile {
            let descriptor = open(logFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard descriptor >= 0 else {
                fail("cannot write the log file \(logFile): \(String(cString: strerror(errno)))", code: 1)
            }
            close(descriptor)
        }

        if configuration.needsAdminToken && configuration.security.adminToken == nil {
            do {
                try AdminToken.generate(into: &configuration)
            } catch {
                fail("cannot write the admin token into \(configuration.dataDirectory): \(error)", code: 1)
            }
        }
        if let token = configuration.security.adminToken { Redaction.register(secret: token) }
        if let password = configuration.vault.password { Redaction.register(secret: password) }
        let runtime = RuntimeConfiguration(
            debug: configuration.debug, performance: configuration.performance, live: configuration.live)
        let telemetry: TelemetryExport?
        do {
            // The replica's own id (docs/OPERATIONS.md) is the resource's `service.instance.id` unless
            // OTEL_RESOURCE_ATTRIBUTES names one.
            telemetry = try TelemetrySettings.resolve(
                environment: environment, endpoint: configuration.otlpEndpoint,
                defaultInstanceID: configuration.instanceID
            ).map(TelemetryExport.init(settings:))
        } catch {
            fail("\(error)", code: 64)
        }
        let engine = ObservabilityEngine(
            runtime: runtime, limits: configuration.limits, logFile: configuration.logFile,
            instanceID: configuration.instanceID, telemetry: telemetry?.hooks)
        LoggingSystem.bootstrap(engine.pipeline.makeHandler)
        let service: KimeraService
        var vaultServices: [any Service] = []
        switch configuration.vault {
        case .sqlite(let path):
            do {
                service = try KimeraService.open(vaultPath: path)
            } catch let error as VaultError {
                fail(error.message, code: 1)
            } catch {
                fail("cannot open the vault \(path): \(error)", code: 1)
            }
        case .postgres(let url):
            do {
                let embedder = FeatureHashingEmbedder(dimensions: FeatureHashingEmbedder.defaultDimensions)
                let store = try await PostgresVaultStore.open(
                    url: url, embedder: embedder, instanceID: configuration.instanceID,
                    logger: engine.logger("kimera.vault.postgres"))
                // Another instance's write makes this one's cached /kimera reads stale.
                let cache = engine.cache
                store.onRemoteChange { _ in cache.invalidate(prefix: "/kimera/") }
                vaultServices = store.services
                service = try KimeraService(store: store, embedder: embedder)
            } catch let error as VaultError {
                fail(error.message, code: 1)
            } catch {
                fail("cannot open the vault \(configuration.vault.masked): \(error)", code: 1)
            }
        }
        let app = KimeraApplication(
            configuration: configuration, engine: engine, service: service, vaultServices: vaultServices,
            telemetry: telemetry)
        let banner = Banner(configuration: configuration)
        do {
            // Until the server listens, a failure is reported by the one line below; the framework's
            // own error logs about it would only repeat it.
            let configuredHTTPLevel = runtime.configuredLevel(for: "kimera.http")
            runtime.setLevel(.critical, module: "kimera.http")
            try await app.run(reloadingConfig: reloading) { address, port in
                if let configuredHTTPLevel {
                    runtime.setLevel(configuredHTTPLevel, module: "kimera.http")
                } else {
                    runtime.clearLevel(module: "kimera.http")
                }
                banner.print(boundPort: port)
            }
            engine.logger("kimera.server").notice("server stopped")
            await engine.flushSinks()
        } catch {
            fail("cannot listen on \(configuration.host):\(configuration.port): \(Banner.describe(error))", code: 1)
        }
    }

    /// `--drain` / `--shutdown-timeout` text as a duration (`0s` allowed).
    static func duration(_ text: String) throws -> Duration {
        guard let duration = DurationText.parse(text, allowingZero: true) else {
            throw ValidationError("\"\(text)\" is not a duration; use e.g. 0s, 500ms, 5s, 2m (0s, or from 1ms to 1d)")
        }
        return duration
    }

    private func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("kimera: \(message)\n".utf8))
        Foundation.exit(code)
    }
}

/// The admin token generated at start when none was given.
enum AdminToken {
    static func generate(into configuration: inout ServerConfiguration) throws {
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let path = (configuration.dataDirectory as NSString).appendingPathComponent("admin.token")
        _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        try Data((token + "\n").utf8).write(to: URL(fileURLWithPath: path))
        configuration.security.adminToken = token
        configuration.security.adminTokenFile = path
    }
}

/// The startup banner on stderr.
struct Banner: Sendable {
    let configuration: ServerConfiguration

    func print(boundPort: Int) {
        let mode = configuration.mode
        let directory = URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL.path
        var source = "defaults"
        if let file = configuration.configFile {
            source = "file \(file)" + (configuration.reload ? " (reloading on change and SIGHUP)" : "")
        }
        let environment = configuration.sources.values.filter { $0.hasPrefix("env") }.sorted()
        if !environment.isEmpty { source += "; " + environment.joined(separator: ", ") }
        let base =
            "http://\(configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host):\(boundPort)"
        var lines = [
            "Kimera \(KimeraVersion.current) hybrid server",
            "  mode:      \(mode.rawValue) — \(Self.summary(mode, rootLevel: configuration.live.rootLevel))",
            "  listening: \(base)",
            "  data dir:  \(directory)",
            "  vault:     \(configuration.vault.masked)",
            "  instance:  \(configuration.instanceID)",
            "  config:    \(source)",
        ]
        if let logFile = configuration.logFile { lines.append("  log file:  \(logFile)") }
        let shutdown = configuration.shutdown
        lines.append(
            "  shutdown:  drain \(ShutdownSettings.text(shutdown.drain)), then up to \(ShutdownSettings.text(shutdown.timeout)) for in-flight requests; a second signal stops at once"
        )
        if configuration.needsAdminToken {
            let source =
                configuration.security.adminTokenFile.map { "token in \($0) (mode 0600)" }
                ?? "token from KIMERA_ADMIN_TOKEN"
            lines.append("  access:    debug API, /metrics and writes need Authorization: Bearer <token>; \(source)")
        } else {
            lines.append("  access:    loopback only; no token needed")
        }
        lines.append("  debug API: \(base)/debug/info  /debug/logs  /debug/traces  /performance/stats  /metrics")
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// The mode's summary with the console level actually configured (`logging.level`), not the mode's default.
    static func summary(_ mode: ServerMode, rootLevel: Logger.Level?) -> String {
        guard let rootLevel, rootLevel != mode.defaultConsoleLevel else { return mode.summary }
        let configured = "console \(LogLevelName.name(rootLevel)) (logging.level)"
        return mode.summary.replacingOccurrences(
            of: "console \(LogLevelName.name(mode.defaultConsoleLevel))", with: configured)
    }

    /// An error from binding, said in one line.
    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("Address already in use") || text.contains("errno: 98") { return "address already in use" }
        if text.contains("Cannot assign requested address") || text.contains("errno: 99") {
            return "address not available on this machine"
        }
        if let range = text.range(of: "): ") { return String(text[range.upperBound...]) }
        return text.replacingOccurrences(of: "\n", with: " ")
    }
}
