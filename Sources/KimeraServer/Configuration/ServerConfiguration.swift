import Configuration
import Foundation
import KimeraCore
import KimeraModels
import KimeraObservability
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
    public var reload: Bool = false
    /// `--vault URL`.
    public var vaultURL: String?
    /// `--instance-id`.
    public var instanceID: String?
    /// `--drain`, `--shutdown-timeout`.
    public var drain: Duration?
    public var shutdownTimeout: Duration?

    public init() {}
}

/// Everything `kimera serve` starts with, resolved by precedence: flag > environment > file > default.
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
    /// `server.fast_path` (default on): `GET /health` and fresh cache hits answered on the event loop.
    public var fastPath = true
    /// Where each setting came from, for the banner and `/debug/info`.
    public var sources: [String: String] = [:]

    public init() {}

    public var mode: ServerMode { ServerMode(debug: debug, performance: performance) }

    /// Where the vault lives (validated by `resolve`).
    public var vault: VaultLocation {
        (try? vaultURL.map { try VaultLocation.parse($0, dataDirectory: dataDirectory) })
            ?? .sqlite(directory: dataDirectory)
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

    /// Resolves the configuration. `environment` is the process environment (only `KIMERA_*` is read);
    /// `file` is a snapshot of the JSON config file, if one was given.
    public static func resolve(
        flags: ServeFlags, environment: [String: String], file: ConfigSnapshotReader?
    ) throws -> ServerConfiguration {
        var config = ServerConfiguration()
        config.configFile = flags.configFile ?? environment["KIMERA_CONFIG"]
        config.reload = flags.reload

        // File layer.
        if let file {
            try config.applyFile(file)
        }
        // Environment layer.
        if let value = try environmentBool("KIMERA_DEBUG", environment) {
            config.debug = value
            config.sources["debug"] = "env KIMERA_DEBUG"
        }
        if let value = try environmentBool("KIMERA_PERFORMANCE", environment) {
            config.performance = value
            config.sources["performance"] = "env KIMERA_PERFORMANCE"
        }
        if let value = environment["KIMERA_HOST"], !value.isEmpty {
            config.host = value
            config.sources["host"] = "env KIMERA_HOST"
        }
        if let value = environment["KIMERA_PORT"], !value.isEmpty {
            guard let port = Int(value), (0...65535).contains(port) else {
                throw ConfigurationError("KIMERA_PORT=\(value) is not a port number (0-65535)")
            }
            config.port = port
            config.sources["port"] = "env KIMERA_PORT"
        }
        if let value = environment["KIMERA_ADMIN_TOKEN"], !value.isEmpty {
            config.security.adminToken = value
            config.sources["admin_token"] = "env KIMERA_ADMIN_TOKEN"
        }
        if let value = environment["KIMERA_DATA_DIR"], !value.isEmpty {
            config.dataDirectory = value
            config.sources["data_dir"] = "env KIMERA_DATA_DIR"
        }
        if let value = environment["KIMERA_VAULT_URL"], !value.isEmpty {
            config.vaultURL = value
            config.sources["vault"] = "env KIMERA_VAULT_URL"
        }
        if let value = environment["KIMERA_INSTANCE_ID"], !value.isEmpty {
            config.configuredInstanceID = value
            config.sources["instance_id"] = "env KIMERA_INSTANCE_ID"
        }
        // Flag layer.
        if let value = flags.debug {
            config.debug = value
            config.sources["debug"] = "flag"
        }
        if let value = flags.performance {
            config.performance = value
            config.sources["performance"] = "flag"
        }
        if let value = flags.host {
            config.host = value
            config.sources["host"] = "flag"
        }
        if let value = flags.port {
            config.port = value
            config.sources["port"] = "flag"
        }
        if let value = flags.workers { config.workers = value }
        if let value = flags.dataDirectory {
            config.dataDirectory = value
            config.sources["data_dir"] = "flag"
        }
        if let value = flags.logFile { config.logFile = value }
        if let value = flags.vaultURL {
            config.vaultURL = value
            config.sources["vault"] = "flag"
        }
        if let value = flags.instanceID {
            config.configuredInstanceID = value
            config.sources["instance_id"] = "flag"
        }
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
        try config.resolveShutdown(
            drainFlag: flags.drain, timeoutFlag: flags.shutdownTimeout, environment: environment, file: file)
        guard (1...256).contains(config.workers) else {
            throw ConfigurationError("--workers \(config.workers) is out of range (1-256)")
        }
        guard (0...65535).contains(config.port) else {
            throw ConfigurationError("port \(config.port) is out of range (0-65535)")
        }
        return config
    }

    static func environmentBool(_ name: String, _ environment: [String: String]) throws -> Bool? {
        guard let raw = environment[name] else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return nil }
        guard let value = BooleanValue.parse(trimmed) else {
            throw ConfigurationError(
                "\(name)=\(raw) is not a boolean; use one of \(BooleanValue.allowed.joined(separator: ", "))")
        }
        return value
    }

    mutating func applyFile(_ file: ConfigSnapshotReader) throws {
        let source = "file \(configFile ?? "")"
        if let value = file.bool(forKey: "debug") {
            debug = value
            sources["debug"] = source
        }
        if let value = file.bool(forKey: "performance") {
            performance = value
            sources["performance"] = source
        }
        if let value = file.string(forKey: "host") {
            host = value
            sources["host"] = source
        }
        if let value = file.int(forKey: "port") {
            port = value
            sources["port"] = source
        }
        if let value = file.int(forKey: "workers") { workers = value }
        if let value = file.string(forKey: "data_dir") {
            dataDirectory = value
            sources["data_dir"] = source
        }
        if let value = file.string(forKey: "log_file") { logFile = value }
        if let value = file.string(forKey: "vault.url") {
            vaultURL = value
            sources["vault"] = source
        }
        if let value = file.string(forKey: "instance_id") {
            configuredInstanceID = value
            sources["instance_id"] = source
        }
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
