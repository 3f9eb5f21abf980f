import Configuration
import Foundation
import Hummingbird
import KimeraCore
import KimeraModels
import KimeraObservability
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Applies live-changeable settings when the config file changes (polling, or SIGHUP), logs each
/// change, and warns about settings that need a restart.
struct ConfigReloader: Service {
    let provider: ReloadingFileProvider<JSONSnapshot>
    let configuration: ServerConfiguration
    let engine: ObservabilityEngine

    func run() async throws {
        let logger = engine.logger("kimera.config")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await watch(logger: logger) }
            if let path = configuration.configFile {
                group.addTask { await ConfigFileCheck(path: path, logger: logger).run() }
            }
            // Both end with the graceful shutdown; the first to end ends the other.
            try await group.next()
            group.cancelAll()
        }
    }

    private func watch(logger: Logger) async throws {
        let reader = ConfigReader(provider: provider)
        var current = configuration.live
        try await reader.watchSnapshot { snapshots in
            for await snapshot in snapshots.cancelOnGracefulShutdown() {
                do {
                    let live = try ServerConfiguration.liveSettings(from: snapshot)
                    for change in LiveSettingsDiff.changes(from: current, to: live) {
                        logger.notice(
                            "config reloaded: \(change)", metadata: ["source": .string(configuration.configFile ?? "")])
                    }
                    for key in configuration.restartOnlyChanges(in: snapshot) {
                        logger.warning("config file changes \(key); restart the server to apply it")
                    }
                    if live != current {
                        engine.runtime.apply(live)
                        current = live
                    }
                } catch {
                    logger.error("config file rejected, keeping the running settings: \(error)")
                }
            }
        }
    }
}

/// The reloading provider keeps its last snapshot, silently, when the file turns unreadable: deleted,
/// emptied, not JSON, or not a JSON object. This check reads the file on the same one-second beat and says
/// so: one ERROR naming the file and the problem when it appears (not one a second), one NOTICE when the
/// file is good again. The last good configuration stays in force meanwhile.
public struct ConfigFileCheck {
    let path: String
    let logger: Logger

    func run() async {
        var reported: String?
        let ticks = AsyncStream<Void> { continuation in
            let task = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    continuation.yield()
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        for await _ in ticks.cancelOnGracefulShutdown() {
            let problem = Self.problem(path: path)
            if let problem, problem != reported {
                logger.error("config file \(path) \(problem); keeping the last good configuration")
            } else if problem == nil, reported != nil {
                logger.notice("config file \(path) is valid again")
            }
            reported = problem
        }
    }

    /// What is wrong with the file as a configuration file, nil when it is a JSON object.
    public static func problem(path: String) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return "was deleted" }
        guard let data = FileManager.default.contents(atPath: path) else { return "cannot be read" }
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return "is empty" }
        guard let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            return "is not valid JSON"
        }
        guard value is [String: Any] else { return "is not a JSON object (the settings are an object's keys)" }
        return nil
    }
}

/// Human-readable differences between two sets of live settings.
enum LiveSettingsDiff {
    static func changes(from old: LiveSettings, to new: LiveSettings) -> [String] {
        var changes: [String] = []
        func name(_ level: Logger.Level?) -> String { level.map(LogLevelName.name) ?? "mode default" }
        if old.rootLevel != new.rootLevel {
            changes.append("logging.level \(name(old.rootLevel)) -> \(name(new.rootLevel))")
        }
        for module in Set(old.moduleLevels.keys).union(new.moduleLevels.keys).sorted()
        where old.moduleLevels[module] != new.moduleLevels[module] {
            changes.append(
                "logging.modules \(module) \(name(old.moduleLevels[module])) -> \(name(new.moduleLevels[module]))")
        }
        if old.cacheTTLSeconds != new.cacheTTLSeconds {
            changes.append("cache.ttl_s \(old.cacheTTLSeconds) -> \(new.cacheTTLSeconds)")
        }
        if old.routeTTLSeconds != new.routeTTLSeconds { changes.append("cache.routes changed") }
        if old.slowThresholdMs != new.slowThresholdMs {
            changes.append("tracing.slow_threshold_ms \(old.slowThresholdMs) -> \(new.slowThresholdMs)")
        }
        if old.slowAdaptive != new.slowAdaptive {
            func text(_ adaptive: SlowAdaptive?) -> String {
                adaptive.map { "\($0.text) (floor \($0.floorMs) ms)" } ?? "off"
            }
            changes.append("tracing.slow_adaptive \(text(old.slowAdaptive)) -> \(text(new.slowAdaptive))")
        }
        return changes
    }
}
