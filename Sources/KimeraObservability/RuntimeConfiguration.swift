#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraModels
import Logging
import Synchronization

/// The one runtime configuration every component reads: mode flags, log levels, thresholds, cache TTLs.
///
/// The flags read on every request are atomics (one relaxed load each). Everything else sits behind
/// `state`, and every change bumps `generation` so that log handlers can cache their levels and
/// re-derive them only after a change.
public final class RuntimeConfiguration: Sendable {
    /// A change that reverts on its own.
    struct Expiry: Sendable {
        var at: Date
        var revertTo: Bool
    }

    struct ModuleOverride: Sendable {
        var level: Logger.Level
        var expiresAt: Date?
    }

    struct State: Sendable {
        var rootLevel: Logger.Level?
        var rootExpiresAt: Date?
        var modules: [String: ModuleOverride] = [:]
        var debugExpiry: Expiry?
        var profilingExpiry: Expiry?
        var cacheTTLSeconds: Double
        var routeTTLSeconds: [String: Double]
        /// Log taps of stream subscribers (`addTap`), by id; at most `tapLimit`.
        var taps: [UInt64: LogTap] = [:]
        var nextTapID: UInt64 = 1
    }

    /// One stream subscriber's wish to see `module`'s records from `level` up, whatever the levels are
    /// (docs/OPERATIONS.md "Log taps"). Changes no level: only the subscriber gets what it lets through.
    package struct LogTap: Sendable {
        /// Nil taps every module.
        var module: String?
        var level: Logger.Level
    }

    /// Taps open at once, process-wide.
    package static let tapLimit = 8

    private let debugFlag: Atomic<Bool>
    private let performanceFlag: Atomic<Bool>
    private let profilingFlag: Atomic<Bool>
    private let slowThresholdNanos: Atomic<Int64>
    /// `tracing.slow_adaptive`; read once per request only when on (`slowAdaptiveOn`).
    private let adaptive: Mutex<SlowAdaptive?>
    private let adaptiveOn: Atomic<Bool>
    /// Bumped on every change; log handlers compare it to their cached copy.
    let generation = Atomic<UInt64>(1)
    /// Protects levels, expiries and cache TTLs.
    private let state: Mutex<State>

    public init(debug: Bool, performance: Bool, live: LiveSettings = LiveSettings()) {
        debugFlag = Atomic(debug)
        performanceFlag = Atomic(performance)
        profilingFlag = Atomic(false)
        slowThresholdNanos = Atomic(Int64(live.slowThresholdMs * 1_000_000))
        adaptive = Mutex(live.slowAdaptive)
        adaptiveOn = Atomic(live.slowAdaptive != nil)
        state = Mutex(
            State(
                rootLevel: live.rootLevel,
                modules: live.moduleLevels.mapValues { ModuleOverride(level: $0, expiresAt: nil) },
                cacheTTLSeconds: live.cacheTTLSeconds, routeTTLSeconds: live.routeTTLSeconds))
    }

    // MARK: Flags (hot path)

    public var debug: Bool { debugFlag.load(ordering: .relaxed) }
    public var performance: Bool { performanceFlag.load(ordering: .relaxed) }
    public var profiling: Bool { profilingFlag.load(ordering: .relaxed) }
    public var mode: ServerMode { ServerMode(debug: debug, performance: performance) }
    public var slowThresholdNs: Int64 { slowThresholdNanos.load(ordering: .relaxed) }
    public var slowThresholdMs: Double { Double(slowThresholdNs) / 1_000_000 }
    /// One relaxed load: whether adaptive slow detection is on.
    public var slowAdaptiveOn: Bool { adaptiveOn.load(ordering: .relaxed) }
    public var slowAdaptive: SlowAdaptive? { adaptive.locked { $0 } }

    /// The runtime switches that can be flipped with a ttl.
    public enum Switch: String, Sendable {
        case debug, profiling
    }

    /// Turns debug mode on or off; with a ttl it reverts to the previous value when the ttl ends.
    /// Returns when the change expires.
    @discardableResult
    public func setDebug(_ enabled: Bool, ttl: Duration? = nil, now: Date = Date()) -> Date? {
        set(.debug, enabled, ttl: ttl, now: now)
    }

    @discardableResult
    public func setProfiling(_ enabled: Bool, ttl: Duration? = nil, now: Date = Date()) -> Date? {
        set(.profiling, enabled, ttl: ttl, now: now)
    }

    /// Sets a switch. A ttl change reverts to the value before the first pending ttl change, so
    /// stacked temporary changes still end where the operator started.
    @discardableResult
    public func set(_ toggle: Switch, _ enabled: Bool, ttl: Duration? = nil, now: Date = Date()) -> Date? {
        // The flag and its expiry change together under the lock, so two changes (or a change and a
        // reversion) cannot interleave between them; readers still see the flag with one atomic load.
        let expiresAt: Date? = state.locked { state in
            let previous =
                switch toggle {
                case .debug: debugFlag.exchange(enabled, ordering: .relaxed)
                case .profiling: profilingFlag.exchange(enabled, ordering: .relaxed)
                }
            let expiry = ttl.map { Expiry(at: now.addingTimeInterval($0.seconds), revertTo: previous) }
            let pending = toggle == .debug ? state.debugExpiry : state.profilingExpiry
            var next = expiry
            if let pending, let expiry { next = Expiry(at: expiry.at, revertTo: pending.revertTo) }
            if toggle == .debug { state.debugExpiry = next } else { state.profilingExpiry = next }
            return expiry?.at
        }
        bump()
        return expiresAt
    }

    public var debugExpiresAt: Date? { state.locked { $0.debugExpiry?.at } }
    public var profilingExpiresAt: Date? { state.locked { $0.profilingExpiry?.at } }

    // MARK: Levels

    /// The console/root level: the one set explicitly, else the mode's default.
    public var rootLevel: Logger.Level {
        state.locked { $0.rootLevel } ?? mode.defaultConsoleLevel
    }

    /// Sets the root level (module nil) or a module's level. Returns the level in force before.
    @discardableResult
    public func setLevel(
        _ level: Logger.Level, module: String?, ttl: Duration? = nil, now: Date = Date()
    ) -> (previous: Logger.Level, expiresAt: Date?) {
        let expiresAt = ttl.map { now.addingTimeInterval($0.seconds) }
        let mode = self.mode
        let previous: Logger.Level = state.locked { state in
            if let module {
                let previous =
                    Self.override(for: module, in: state.modules)?.level ?? state.rootLevel
                    ?? mode.defaultConsoleLevel
                state.modules[module] = ModuleOverride(level: level, expiresAt: expiresAt)
                return previous
            } else {
                let previous = state.rootLevel ?? mode.defaultConsoleLevel
                state.rootLevel = level
                state.rootExpiresAt = expiresAt
                return previous
            }
        }
        bump()
        return (previous, expiresAt)
    }

    /// Removes a module's own level, so it inherits again.
    public func clearLevel(module: String) {
        state.locked { _ = $0.modules.removeValue(forKey: module) }
        bump()
    }

    /// Removes the root level set at runtime: the mode's default applies again.
    public func clearRootLevel() {
        state.locked { state in
            state.rootLevel = nil
            state.rootExpiresAt = nil
        }
        bump()
    }

    /// Replaces the levels and thresholds with those of a reloaded config file.
    public func apply(_ live: LiveSettings) {
        slowThresholdNanos.store(Int64(live.slowThresholdMs * 1_000_000), ordering: .relaxed)
        adaptive.locked { $0 = live.slowAdaptive }
        adaptiveOn.store(live.slowAdaptive != nil, ordering: .relaxed)
        state.locked { state in
            state.rootLevel = live.rootLevel
            state.rootExpiresAt = nil
            state.modules = live.moduleLevels.mapValues { ModuleOverride(level: $0, expiresAt: nil) }
            state.cacheTTLSeconds = live.cacheTTLSeconds
            state.routeTTLSeconds = live.routeTTLSeconds
        }
        bump()
    }

    public func setSlowThreshold(ms: Double) {
        slowThresholdNanos.store(Int64(ms * 1_000_000), ordering: .relaxed)
        bump()
    }

    /// The thresholds a record of `module` must meet to reach the console/file sinks and the ring.
    /// A module override applies to both; without one, the console uses the root level and the ring
    /// captures at the lower of the root level and the mode's ring level.
    /// The audit trail (`kimera.audit`, NOTICE) is written to both whatever the levels are: the change it
    /// records (`level=CRITICAL&module=kimera`) cannot silence it.
    func thresholds(for module: String) -> (console: Logger.Level, ring: Logger.Level) {
        let levels = configuredThresholds(for: module)
        guard module == Self.auditModule || module.hasPrefix(Self.auditModule + ".") else { return levels }
        return (min(levels.console, .notice), min(levels.ring, .notice))
    }

    /// The level from which `module`'s records reach the ring (`""`: a module with no override).
    package func ringLevel(for module: String) -> Logger.Level { thresholds(for: module).ring }

    /// The lowest level a tap asks of `module`, if any tap covers it.
    func tapLevel(for module: String) -> Logger.Level? {
        state.locked { state in
            state.taps.values.filter { tap in tap.module.map { ModulePath.covers($0, module) } ?? true }
                .map(\.level).min()
        }
    }

    /// Opens a tap; nil when `tapLimit` are open. Loggers re-read their levels (the generation changes).
    package func addTap(module: String?, level: Logger.Level) -> UInt64? {
        let id = state.locked { state -> UInt64? in
            guard state.taps.count < Self.tapLimit else { return nil }
            let id = state.nextTapID
            state.nextTapID += 1
            state.taps[id] = LogTap(module: module, level: level)
            return id
        }
        if id != nil { bump() }
        return id
    }

    package func removeTap(_ id: UInt64) {
        let removed = state.locked { $0.taps.removeValue(forKey: id) != nil }
        if removed { bump() }
    }

    package var openTaps: Int { state.locked { $0.taps.count } }

    /// The module of the audit trail.
    package static let auditModule = "kimera.audit"

    private func configuredThresholds(for module: String) -> (console: Logger.Level, ring: Logger.Level) {
        let mode = self.mode
        return state.locked { state in
            if let override = Self.override(for: module, in: state.modules) {
                return (override.level, override.level)
            }
            let root = state.rootLevel ?? mode.defaultConsoleLevel
            return (root, min(root, mode.ringLevel))
        }
    }

    /// The configured module levels, for `GET /debug/log-level`.
    package func moduleLevels() -> [(module: String, level: Logger.Level, expiresAt: Date?)] {
        state.locked { state in
            state.modules.map { ($0.key, $0.value.level, $0.value.expiresAt) }.sorted { $0.0 < $1.0 }
        }
    }

    /// The level in force for `module` after inheritance.
    package func effectiveLevel(for module: String) -> Logger.Level {
        thresholds(for: module).console
    }

    public func configuredLevel(for module: String) -> Logger.Level? {
        state.locked { $0.modules[module]?.level }
    }

    var rootExpiresAt: Date? { state.locked { $0.rootExpiresAt } }

    /// Longest module prefix on a label boundary: `kimera.core` covers `kimera.core.vault`.
    static func override(for module: String, in modules: [String: ModuleOverride]) -> ModuleOverride? {
        if modules.isEmpty { return nil }
        var candidate = Substring(module)
        while true {
            if let found = modules[String(candidate)] { return found }
            guard let dot = candidate.lastIndex(of: ".") else { return nil }
            candidate = candidate[..<dot]
        }
    }

    // MARK: Cache TTL

    public func cacheTTL(for route: String) -> Double {
        state.locked { $0.routeTTLSeconds[route] ?? $0.cacheTTLSeconds }
    }

    public var defaultCacheTTL: Double { state.locked { $0.cacheTTLSeconds } }

    // MARK: Expiry

    /// A change that reverted because its ttl ended.
    public struct Reversion: Sendable, Equatable {
        public var setting: String
        public var value: String
    }

    /// Reverts every change whose ttl has ended; returns what reverted, for the audit log.
    @discardableResult
    public func expireDue(now: Date = Date()) -> [Reversion] {
        var reverted: [Reversion] = []
        var debugRevert: Bool?
        var profilingRevert: Bool?
        state.locked { state in
            if let expiry = state.debugExpiry, expiry.at <= now {
                debugRevert = expiry.revertTo
                debugFlag.store(expiry.revertTo, ordering: .relaxed)
                state.debugExpiry = nil
            }
            if let expiry = state.profilingExpiry, expiry.at <= now {
                profilingRevert = expiry.revertTo
                profilingFlag.store(expiry.revertTo, ordering: .relaxed)
                state.profilingExpiry = nil
            }
            if let at = state.rootExpiresAt, at <= now {
                state.rootLevel = nil
                state.rootExpiresAt = nil
                reverted.append(Reversion(setting: "log_level.root", value: "mode default"))
            }
            for (module, override) in state.modules {
                if let at = override.expiresAt, at <= now {
                    state.modules[module] = nil
                    reverted.append(Reversion(setting: "log_level.\(module)", value: "inherited"))
                }
            }
        }
        if let value = debugRevert {
            reverted.append(Reversion(setting: "debug", value: String(value)))
        }
        if let value = profilingRevert {
            reverted.append(Reversion(setting: "profiling", value: String(value)))
        }
        if !reverted.isEmpty { bump() }
        return reverted
    }

    private func bump() {
        generation.add(1, ordering: .releasing)
    }
}
