import Configuration
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraCore
import KimeraModels
import KimeraObservability
import KimeraTelemetry
import Logging

/// A setting that stops startup, with a message naming the variable, flag or key at fault.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Values given on the command line; nil means "not given", so that lower layers may decide.
public struct ServeFlags: Sendable {
    public var debug: Bool?
    public var performance: Bool?
    public var host: String?
    public var port: Int?
    public var workers: Int?
    public var configFile: String?
    public var dataDirectory: String?
    public var logFile: String?
    public var reload: Bool?
    /// `--vault URL`.
    public var vaultURL: String?
    /// `--instance-id`.
    public var instanceID: String?
    /// `--drain`, `--shutdown-timeout`.
    public var drain: Duration?
    public var shutdownTimeout: Duration?
    /// `--otlp-endpoint`: the OTLP/HTTP base URL (docs/OPERATIONS.md "OpenTelemetry export").
    public var otlpEndpoint: String?

    public init() {}
}

/// Everything `kimera serve` starts with, resolved by precedence: flag > environment > file > default
/// (`resolve`). The initial values are the defaults.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8001
    public var workers = ProcessInfo.processInfo.activeProcessorCount
    public var debug = false
    public var performance = true
    public var dataDirectory = "./kimera-data"
    public var logFile: String?
    public var configFile: String?
    public var reload = false
    /// `--vault URL` / `KIMERA_VAULT_URL` / `vault.url`; nil means the SQLite file in `dataDirectory`.
    public var vaultURL: String?
    /// `--instance-id` / `KIMERA_INSTANCE_ID` / `instance_id`; nil means `host:port`.
    public var configuredInstanceID: String?
    public var live = LiveSettings()
    public var limits = StoreLimits()
    public var security = SecuritySettings()
    public var shutdown = ShutdownSettings()
    /// Kimera's own OTLP/HTTP base URL (flag, else file `telemetry.otlp.endpoint`); the standard
    /// `OTEL_*` variables are read by `KimeraTelemetry`, not here.
    public var otlpEndpoint: String?
    /// `server.fast_path` (default on): `GET /health` and fresh cache hits answered on the event loop.
    public var fastPath = true
    /// Where each setting came from, for the banner and `/debug/info`.
    public var sources: [String: String] = [:]

    public init() {}

    public var mode: ServerMode { ServerMode(debug: debug, performance: performance) }

    /// Where the vault lives (validated by `resolve`).
    public var vault: VaultLocation {
        (try? vaultURL.map { try VaultLocation.parse($0, dataDirectory: dataDirectory) })
            ?? .sqlite(path: VaultLocation.defaultSQLitePath(dataDirectory: dataDirectory))
    }

    /// How this replica names itself in `/health`, `/debug/info`, log records and `/metrics`: the configured
    /// id, else `host:port` (with port 0, `host:0-<pid>`, since the bound port is known only later).
    public var instanceID: String {
        if let configuredInstanceID { return configuredInstanceID }
        if port == 0 { return "\(host):0-\(ProcessInfo.processInfo.processIdentifier)" }
        return "\(host):\(port)"
    }

    /// True when clients other than this machine's can connect.
    public var listensBeyondLoopback: Bool { !SecuritySettings.isLoopback(host: host) }

    /// True when some client will need the admin token.
    public var needsAdminToken: Bool { listensBeyondLoopback || !security.trustLoopback }

    /// The settings that flags, environment variables and the config file may give, highest first: adding
    /// one is a line here (and its flag in `Serve`, its property above). Each is read once, through one
    /// `ConfigReader` over the layers (`ConfigurationLayers`); the file-only keys follow in `readFileOnly`.
    static var layeredSettings: [LayeredSetting] {
        [
            // What the config file cannot give: its own path, and the admin token, which stays out of files.
            // (The banner names the file; `config.sources` never listed where its path came from.)
            .text(
                "config_file", flag: \.configFile, environment: "KIMERA_CONFIG", reportsSource: false, inFile: false
            ) { $0.configFile = $1 },
            .text("admin_token", environment: "KIMERA_ADMIN_TOKEN", inFile: false, secret: true) {
                $0.security.adminToken = $1
            },
            .boolean("reload", flag: \.reload, inFile: false) { $0.reload = $1 },
            // Everything else, also from the file.
            .boolean("debug", flag: \.debug, environment: "KIMERA_DEBUG") { $0.debug = $1 },
            .boolean("performance", flag: \.performance, environment: "KIMERA_PERFORMANCE") { $0.performance = $1 },
            .text("host", flag: \.host, environment: "KIMERA_HOST") { $0.host = $1 },
            .integer("port", flag: \.port, environment: "KIMERA_PORT", range: 0...65535, named: "a port number") {
                $0.port = $1
            },
            .integer("workers", flag: \.workers) { $0.workers = $1 },
            .text("data_dir", flag: \.dataDirectory, environment: "KIMERA_DATA_DIR") { $0.dataDirectory = $1 },
            .text("log_file", flag: \.logFile) { $0.logFile = $1 },
            .text("vault.url", flag: \.vaultURL, environment: "KIMERA_VAULT_URL", source: "vault") { $0.vaultURL = $1 },
            .text("instance_id", flag: \.instanceID, environment: "KIMERA_INSTANCE_ID") {
                $0.configuredInstanceID = $1
            },
            .duration("shutdown.drain", flag: \.drain, environment: "KIMERA_DRAIN") { $0.shutdown.drain = $1 },
            .duration("shutdown.timeout", flag: \.shutdownTimeout, environment: "KIMERA_SHUTDOWN_TIMEOUT") {
                $0.shutdown.timeout = $1
            },
            // Kimera's own OTLP endpoint; the OTEL_EXPORTER_OTLP_* variables are read by `TelemetrySettings`,
            // where they win over it as the OpenTelemetry specification says.
            .text("telemetry.otlp.endpoint", flag: \.otlpEndpoint, source: "otlp_endpoint") { $0.otlpEndpoint = $1 },
        ]
    }

    /// The config file to read: `--config`, else `KIMERA_CONFIG` (empty is unset); nil for none.
    public static func configFilePath(flags: ServeFlags, environment: [String: String]) -> String? {
        let settings = layeredSettings.filter { $0.key == "config_file" }
        var config = ServerConfiguration()
        // A text setting's environment check cannot fail, nor can reading a string that only strings give.
        guard
            let layers = try? ConfigurationLayers(settings: settings, flags: flags, environment: environment, file: nil)
        else { return nil }
        for setting in settings { try? setting.read(layers.reader(includingFile: false), &config) }
        return config.configFile
    }

    /// Resolves the configuration through the layers, by precedence: flag > environment > file > default.
    /// `environment` is the process environment (only the settings' variables are read); `file` is the
    /// provider of the JSON config file (`configFilePath`), if one was given. Throws a `ConfigurationError`
    /// naming the variable, flag or key at fault.
    public static func resolve(
        flags: ServeFlags, environment: [String: String], file: (any ConfigProvider)?
    ) throws -> ServerConfiguration {
        var config = ServerConfiguration()
        let settings = layeredSettings
        let layers = try ConfigurationLayers(settings: settings, flags: flags, environment: environment, file: file)
        let beyondFile = layers.reader(includingFile: false)
        for setting in settings where !setting.inFile { try setting.read(beyondFile, &config) }
        let reader = layers.reader(includingFile: true)
        for setting in settings where setting.inFile { try setting.read(reader, &config) }
        try config.readFileOnly(reader)
        config.sources = layers.sources(of: settings, filePath: config.configFile)

        if let url = config.vaultURL {
            do {
                _ = try VaultLocation.parse(url, dataDirectory: config.dataDirectory)
            } catch let error as VaultError {
                throw ConfigurationError(error.message)
            }
        }
        if let id = config.configuredInstanceID,
            id.isEmpty || id.count > 128 || id.contains(where: { $0.isWhitespace || $0 == "\"" || $0 == "\\" })
        {
            throw ConfigurationError(
                "--instance-id \"\(id)\" must be 1-128 characters without spaces, quotes or backslashes")
        }
        guard (1...256).contains(config.workers) else {
            throw ConfigurationError("--workers \(config.workers) is out of range (1-256)")
        }
        guard (0...65535).contains(config.port) else {
            throw ConfigurationError("port \(config.port) is out of range (0-65535)")
        }
        return config
    }

    /// The keys only the config file gives (no flag or variable has them, so the reader finds them there).
    mutating func readFileOnly(_ file: ConfigSnapshotReader) throws {
        if let value = file.int(forKey: "limits.max_body_bytes"), value > 0 { limits.maxBodyBytes = value }
        if let value = file.int(forKey: "logging.ring_capacity"), value > 0 { limits.logRecords = value }
        if let value = file.int(forKey: "logging.ring_bytes"), value > 0 { limits.logBytes = value }
        if let value = file.int(forKey: "tracing.series_limit"), value > 0 { limits.series = value }
        if let value = file.int(forKey: "tracing.trace_capacity"), value > 0 { limits.traces = value }
        if let value = file.int(forKey: "cache.max_entries"), value > 0 { limits.cacheEntries = value }
        if let value = file.int(forKey: "cache.max_bytes"), value > 0 { limits.cacheBytes = value }
        if let value = file.bool(forKey: "security.trust_loopback") { security.trustLoopback = value }
        if let value = file.stringArray(forKey: "security.allowed_origins") { security.allowedOrigins = value }
        if let value = file.int(forKey: "security.max_connections"), value > 0 { security.maxConnections = value }
        if let value = file.int(forKey: "security.idle_timeout_s"), value > 0 { security.idleTimeoutSeconds = value }
        if let value = file.bool(forKey: "server.fast_path") { fastPath = value }
        live = try Self.liveSettings(from: file)
    }

    /// The settings of the file that can change without a restart.
    public static func liveSettings(from file: ConfigSnapshotReader) throws -> LiveSettings {
        var live = LiveSettings()
        if let name = file.string(forKey: "logging.level") {
            guard let level = LogLevelName.parse(name) else {
                throw ConfigurationError(
                    "logging.level \"\(name)\" is not a level; use one of \(LogLevelName.allowed.joined(separator: ", "))"
                )
            }
            live.rootLevel = level
        }
        for entry in file.stringArray(forKey: "logging.modules") ?? [] {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, let level = LogLevelName.parse(parts[1]) else {
                throw ConfigurationError(
                    "logging.modules entry \"\(entry)\" must be MODULE=LEVEL with LEVEL one of \(LogLevelName.allowed.joined(separator: ", "))"
                )
            }
            live.moduleLevels[parts[0]] = level
        }
        if let value = file.double(forKey: "cache.ttl_s") {
            guard value >= 0, value <= 86400 else {
                throw ConfigurationError("cache.ttl_s \(value) is out of range (0-86400)")
            }
            live.cacheTTLSeconds = value
        }
        for entry in file.stringArray(forKey: "cache.routes") ?? [] {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let ttl = Double(parts[1]), ttl >= 0, ttl <= 86400 else {
                throw ConfigurationError("cache.routes entry \"\(entry)\" must be ROUTE=SECONDS")
            }
            live.routeTTLSeconds[parts[0]] = ttl
        }
        if let value = file.double(forKey: "tracing.slow_threshold_ms") {
            guard value > 0 else {
                throw ConfigurationError("tracing.slow_threshold_ms must be greater than 0")
            }
            live.slowThresholdMs = value
        }
        var adaptiveFloorMs = SlowAdaptive.defaultFloorMs
        if let value = file.double(forKey: "tracing.slow_adaptive_floor_ms") {
            guard value > 0 else {
                throw ConfigurationError("tracing.slow_adaptive_floor_ms must be greater than 0")
            }
            adaptiveFloorMs = value
        }
        if let text = file.string(forKey: "tracing.slow_adaptive"), text.lowercased() != "off" {
            guard let adaptive = SlowAdaptive.parse(text, floorMs: adaptiveFloorMs) else {
                throw ConfigurationError(
                    "tracing.slow_adaptive \"\(text)\" is not understood; use \(SlowAdaptive.grammar)")
            }
            live.slowAdaptive = adaptive
        }
        return live
    }

    /// The settings in `file` that differ from the running ones but only take effect on restart.
    public func restartOnlyChanges(in file: ConfigSnapshotReader) -> [String] {
        var changed: [String] = []
        if let value = file.string(forKey: "host"), value != host, sources["host"]?.hasPrefix("file") ?? true {
            changed.append("host")
        }
        if let value = file.int(forKey: "port"), value != port, sources["port"]?.hasPrefix("file") ?? true {
            changed.append("port")
        }
        if let value = file.string(forKey: "data_dir"), value != dataDirectory {
            changed.append("data_dir")
        }
        return changed
    }

    /// The effective configuration as `/debug/info` shows it.
    public func describe() -> [String: JSONValue] {
        var config: [String: JSONValue] = [
            "host": .string(host), "port": .number(Double(port)), "workers": .number(Double(workers)),
            "debug": .bool(debug), "performance": .bool(performance), "data_dir": .string(dataDirectory),
            "log_file": logFile.map(JSONValue.string) ?? .null,
            "config_file": configFile.map(JSONValue.string) ?? .null,
            "reload": .bool(reload), "mode": .string(mode.rawValue),
            "vault": .string(vault.masked), "instance_id": .string(instanceID), "fast_path": .bool(fastPath),
        ]
        config["sources"] = .object(sources.mapValues(JSONValue.string))
        config["shutdown"] = shutdown.describe()
        config["otlp_endpoint"] = otlpEndpoint.map { JSONValue.string(TelemetrySettings.displayed($0)) } ?? .null
        config["security"] = .object([
            "trust_loopback": .bool(security.trustLoopback),
            "admin_token": security.adminToken.map(JSONValue.string) ?? .null,
            "admin_token_file": security.adminTokenFile.map(JSONValue.string) ?? .null,
            "allowed_origins": .array(security.allowedOrigins.map(JSONValue.string)),
            "max_connections": .number(Double(security.maxConnections)),
            "token_required_off_loopback": .bool(needsAdminToken),
        ])
        config["limits"] = .object([
            "log_records": .number(Double(limits.logRecords)), "log_bytes": .number(Double(limits.logBytes)),
            "traces": .number(Double(limits.traces)), "trace_bytes": .number(Double(limits.traceBytes)),
            "series": .number(Double(limits.series)), "cache_entries": .number(Double(limits.cacheEntries)),
            "cache_bytes": .number(Double(limits.cacheBytes)), "max_body_bytes": .number(Double(limits.maxBodyBytes)),
        ])
        return config
    }
}
