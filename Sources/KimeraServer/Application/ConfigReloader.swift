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
        return changes
    }
}
