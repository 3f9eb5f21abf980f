import Configuration
import Foundation
import KimeraModels
import Logging
import SystemPackage
import Testing

import KimeraObservability
@testable import KimeraServer

/// `ServerConfiguration.resolve`: flag > environment > config file > default, setting by setting, with
/// `config.sources` saying which layer gave each value and every bad value naming where it came from.
@Suite("Configuration layers")
struct ConfigurationTests {
    /// A JSON config file on disk, read by the same provider `kimera serve` uses.
    struct ConfigFile {
        let path: String
        let provider: FileProvider<JSONSnapshot>

        init(_ json: String) async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "kimera-config-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            path = directory.appendingPathComponent("kimera.json").path
            try json.write(toFile: path, atomically: true, encoding: .utf8)
            provider = try await FileProvider<JSONSnapshot>(filePath: FilePath(path))
        }
    }

    static let fileJSON = #"""
        {"debug": true, "host": "10.0.0.3", "port": 8003, "shutdown": {"drain": "3s", "timeout": 20}}
        """#

    /// Resolves with `--config PATH` as `kimera serve` does when the file is given.
    static func resolve(
        _ flags: ServeFlags = ServeFlags(), environment: [String: String] = [:], file: ConfigFile? = nil
    ) throws -> ServerConfiguration {
        var flags = flags
        if let file { flags.configFile = file.path }
        return try ServerConfiguration.resolve(flags: flags, environment: environment, file: file?.provider)
    }

    static func problem(
        _ flags: ServeFlags = ServeFlags(), environment: [String: String] = [:], file: ConfigFile? = nil
    ) -> String? {
        do {
            _ = try resolve(flags, environment: environment, file: file)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("the OTLP endpoint: flag over file, its source reported; OTEL_* variables are not this layer's")
    func otlpEndpoint() async throws {
        let file = try await ConfigFile(#"{"telemetry": {"otlp": {"endpoint": "http://127.0.0.1:4318"}}}"#)
        let fromFile = try Self.resolve(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://10.0.0.9:4318"], file: file)
        #expect(fromFile.otlpEndpoint == "http://127.0.0.1:4318")
        #expect(fromFile.sources["otlp_endpoint"] == "file \(file.path)")
        var flags = ServeFlags()
        flags.otlpEndpoint = "http://127.0.0.1:14318"
        let fromFlag = try Self.resolve(flags, file: file)
        #expect(fromFlag.otlpEndpoint == "http://127.0.0.1:14318" && fromFlag.sources["otlp_endpoint"] == "flag")
        #expect(try Self.resolve().otlpEndpoint == nil)
    }

    @Test("nothing given: the defaults, and no sources")
    func defaults() throws {
        let config = try Self.resolve()
        #expect(config.host == "127.0.0.1" && config.port == 8001 && !config.debug && config.performance)
        #expect(config.shutdown == ShutdownSettings(drain: .zero, timeout: .seconds(10)))
        #expect(config.dataDirectory == "./kimera-data" && config.configFile == nil && config.reload == false)
        #expect(config.sources.isEmpty)
    }

    @Test("the file beats the defaults: a string, an integer, a boolean, a duration as text and as a number")
    func fileOverDefaults() async throws {
        let file = try await ConfigFile(Self.fileJSON)
        let config = try Self.resolve(file: file)
        #expect(config.debug && config.host == "10.0.0.3" && config.port == 8003)
        #expect(config.shutdown == ShutdownSettings(drain: .seconds(3), timeout: .seconds(20)))
        let fromFile = "file \(file.path)"
        #expect(
            config.sources == [
                "debug": fromFile, "host": fromFile, "port": fromFile, "shutdown.drain": fromFile,
                "shutdown.timeout": fromFile,
            ])
    }

    @Test("the environment beats the file, and its boolean words are Kimera's (on/off, any case)")
    func environmentOverFile() async throws {
        let file = try await ConfigFile(Self.fileJSON)
        let config = try Self.resolve(
            environment: [
                "KIMERA_DEBUG": "OFF", "KIMERA_HOST": "10.0.0.4", "KIMERA_PORT": "8004", "KIMERA_DRAIN": "250ms",
            ], file: file)
        #expect(!config.debug && config.host == "10.0.0.4" && config.port == 8004)
        #expect(config.shutdown == ShutdownSettings(drain: .milliseconds(250), timeout: .seconds(20)))
        #expect(config.sources["debug"] == "env KIMERA_DEBUG")
        #expect(config.sources["host"] == "env KIMERA_HOST")
        #expect(config.sources["port"] == "env KIMERA_PORT")
        #expect(config.sources["shutdown.drain"] == "env KIMERA_DRAIN")
        #expect(config.sources["shutdown.timeout"] == "file \(file.path)")
    }

    @Test("a flag beats the environment and the file")
    func flagOverAll() async throws {
        let file = try await ConfigFile(Self.fileJSON)
        var flags = ServeFlags()
        flags.debug = false
        flags.host = "10.0.0.5"
        flags.port = 8005
        flags.drain = .milliseconds(1500)
        let config = try Self.resolve(
            flags,
            environment: [
                "KIMERA_DEBUG": "yes", "KIMERA_HOST": "10.0.0.4", "KIMERA_PORT": "8004", "KIMERA_DRAIN": "250ms",
                "KIMERA_SHUTDOWN_TIMEOUT": "7s",
            ], file: file)
        #expect(!config.debug && config.host == "10.0.0.5" && config.port == 8005)
        #expect(config.shutdown == ShutdownSettings(drain: .milliseconds(1500), timeout: .seconds(7)))
        #expect(config.sources["debug"] == "flag" && config.sources["host"] == "flag")
        #expect(config.sources["port"] == "flag" && config.sources["shutdown.drain"] == "flag")
        #expect(config.sources["shutdown.timeout"] == "env KIMERA_SHUTDOWN_TIMEOUT")
    }

    @Test("empty environment values are unset; variables that are not a setting's are never read")
    func environmentScope() async throws {
        let file = try await ConfigFile(#"{"performance": false, "workers": 3, "log_file": "/tmp/k.log"}"#)
        let config = try Self.resolve(
            environment: [
                "KIMERA_PERFORMANCE": " ", "KIMERA_HOST": "", "KIMERA_DRAIN": "", "KIMERA_WORKERS": "9",
                "KIMERA_LOG_FILE": "/elsewhere.log", "KIMERA_LOGGING_LEVEL": "LOUD", "WORKERS": "9", "PORT": "1",
            ], file: file)
        #expect(!config.performance && config.workers == 3 && config.logFile == "/tmp/k.log")
        #expect(config.host == "127.0.0.1" && config.port == 8001 && config.shutdown.drain == .zero)
        #expect(config.sources == ["performance": "file \(file.path)"])
    }

    @Test("the admin token and the config file's path come from flags and environment only, never the file")
    func beyondTheFile() async throws {
        let file = try await ConfigFile(#"{"admin_token": "from-the-file", "config_file": "/other.json"}"#)
        #expect(try Self.resolve(file: file).security.adminToken == nil)
        let config = try Self.resolve(environment: ["KIMERA_ADMIN_TOKEN": "from-the-environment"], file: file)
        #expect(config.security.adminToken == "from-the-environment")
        #expect(config.configFile == file.path)
        #expect(config.sources == ["admin_token": "env KIMERA_ADMIN_TOKEN"])

        var flags = ServeFlags()
        flags.configFile = "/flag.json"
        #expect(
            ServerConfiguration.configFilePath(flags: flags, environment: ["KIMERA_CONFIG": "/env.json"])
                == "/flag.json")
        #expect(
            ServerConfiguration.configFilePath(flags: ServeFlags(), environment: ["KIMERA_CONFIG": "/env.json"])
                == "/env.json")
        #expect(ServerConfiguration.configFilePath(flags: ServeFlags(), environment: ["KIMERA_CONFIG": ""]) == nil)
    }

    @Test("a bad environment value names the variable and the allowed values, even under a flag")
    func badEnvironmentValues() throws {
        var debugFlag = ServeFlags()
        debugFlag.debug = true
        #expect(
            Self.problem(debugFlag, environment: ["KIMERA_DEBUG": "maybe"])
                == "KIMERA_DEBUG=maybe is not a boolean; use one of true, false, 1, 0, yes, no, on, off")
        #expect(
            Self.problem(environment: ["KIMERA_PORT": "eighty"]) == "KIMERA_PORT=eighty is not a port number (0-65535)")
        #expect(
            Self.problem(environment: ["KIMERA_PORT": "70000"]) == "KIMERA_PORT=70000 is not a port number (0-65535)")
        #expect(
            Self.problem(environment: ["KIMERA_SHUTDOWN_TIMEOUT": "soon"])
                == "KIMERA_SHUTDOWN_TIMEOUT=soon is not a duration; use e.g. 0s, 500ms, 5s, 2m (0s, or from 1ms to 1d)")
    }

    @Test("a bad file value names the key; a bad flag value names the flag")
    func badFileAndFlagValues() async throws {
        let badDrain = try await ConfigFile(#"{"shutdown": {"drain": "soon"}}"#)
        #expect(
            Self.problem(file: badDrain)
                == #"shutdown.drain "soon" is not a duration; use e.g. 0s, 500ms, 5s, 2m (0s, or from 1ms to 1d)"#)
        let negative = try await ConfigFile(#"{"shutdown": {"timeout": -1}}"#)
        #expect(Self.problem(file: negative)?.hasPrefix(#"shutdown.timeout "-1.0" is not a duration"#) == true)
        let badLevel = try await ConfigFile(#"{"logging": {"level": "LOUD"}}"#)
        #expect(Self.problem(file: badLevel)?.hasPrefix(#"logging.level "LOUD" is not a level"#) == true)
        let badPort = try await ConfigFile(#"{"port": 70000}"#)
        #expect(Self.problem(file: badPort) == "port 70000 is out of range (0-65535)")

        var workers = ServeFlags()
        workers.workers = 0
        #expect(Self.problem(workers) == "--workers 0 is out of range (1-256)")
        var instance = ServeFlags()
        instance.instanceID = "two words"
        #expect(Self.problem(instance)?.hasPrefix(#"--instance-id "two words" must be"#) == true)
        // A higher layer that gives the value hides a bad one below it.
        var drain = ServeFlags()
        drain.drain = .seconds(1)
        #expect(try Self.resolve(drain, file: badDrain).shutdown.drain == .seconds(1))
    }

    @Test("a setting's variable may be any name, such as a standard one without the KIMERA_ prefix")
    func variableWithoutPrefix() async throws {
        // As `telemetry.otlp.endpoint` will be added: one table line (written into log_file for the test).
        let settings: [LayeredSetting] = [
            .text("telemetry.otlp.endpoint", environment: "OTEL_EXPORTER_OTLP_ENDPOINT", source: "otlp_endpoint") {
                $0.logFile = $1
            }
        ]
        let file = try await ConfigFile(#"{"telemetry": {"otlp": {"endpoint": "http://file:4318"}}}"#)
        for (environment, expected, source) in [
            (["OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318"], "http://env:4318", "env OTEL_EXPORTER_OTLP_ENDPOINT"),
            (["KIMERA_TELEMETRY_OTLP_ENDPOINT": "http://other:4318"], "http://file:4318", "file \(file.path)"),
        ] {
            let layers = try ConfigurationLayers(
                settings: settings, flags: ServeFlags(), environment: environment, file: file.provider)
            var config = ServerConfiguration()
            try settings[0].read(layers.reader(includingFile: true), &config)
            #expect(config.logFile == expected)
            #expect(layers.sources(of: settings, filePath: file.path) == ["otlp_endpoint": source])
        }
    }

    @Test("file-only keys and live settings are read from the file")
    func fileOnlyKeys() async throws {
        let file = try await ConfigFile(
            #"{"limits": {"max_body_bytes": 2048}, "security": {"trust_loopback": false}, "logging": {"level": "DEBUG"}, "tracing": {"slow_threshold_ms": 250}}"#
        )
        let config = try Self.resolve(environment: ["KIMERA_LIMITS_MAX_BODY_BYTES": "1"], file: file)
        #expect(config.limits.maxBodyBytes == 2048 && !config.security.trustLoopback)
        #expect(config.live.rootLevel == .debug && config.live.slowThresholdMs == 250)
        #expect(config.sources.isEmpty)
    }

    @Test("tracing.slow_adaptive: 3x-p99 with its floor, off, and a refusal that gives the grammar")
    func slowAdaptive() async throws {
        let on = try await ConfigFile(#"{"tracing": {"slow_adaptive": "3x-p99", "slow_adaptive_floor_ms": 2.5}}"#)
        #expect(try Self.resolve(file: on).live.slowAdaptive == SlowAdaptive(factor: 3, floorMs: 2.5))
        let off = try await ConfigFile(#"{"tracing": {"slow_adaptive": "off"}}"#)
        #expect(try Self.resolve(file: off).live.slowAdaptive == nil)
        let defaultFloor = try await ConfigFile(#"{"tracing": {"slow_adaptive": "1.5X-P99"}}"#)
        #expect(try Self.resolve(file: defaultFloor).live.slowAdaptive == SlowAdaptive(factor: 1.5, floorMs: 10))
        for bad in ["3x", "0.5x-p99", "200x-p99", "p99", "fast"] {
            let file = try await ConfigFile(#"{"tracing": {"slow_adaptive": "\#(bad)"}}"#)
            do {
                _ = try Self.resolve(file: file)
                Issue.record("\(bad) was accepted")
            } catch {
                #expect("\(error)".contains("tracing.slow_adaptive") && "\(error)".contains("3x-p99"), "\(error)")
            }
        }
    }
}
