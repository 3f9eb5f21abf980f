#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraAPI
import KimeraModels
import KimeraObservability

/// The debug API of docs/API.md §3 (`/debug/*`, `/performance/stats`) and `/ready`, as generated
/// operations. The log stream, pprof and `/metrics` keep routes of their own (`DebugRoutes`).
extension KimeraAPIService {
    func getReady(_ input: Operations.GetReady.Input) async throws -> Operations.GetReady.Output {
        try await OperationTiming.measured {
            if let problem = readiness.problem { throw APIError.unavailable(problem) }
            return .ok(.init(body: .json(ReadyResponse(status: .ready))))
        }
    }

    func getDebugInfo(_ input: Operations.GetDebugInfo.Input) async throws -> Operations.GetDebugInfo.Output {
        try await OperationTiming.measured {
            let runtime = engine.runtime
            let query = QueryReader([
                "include_logs": input.query.includeLogs, "include_traces": input.query.includeTraces,
                "include_profiles": input.query.includeProfiles,
            ])
            let includeLogs = try query.bool("include_logs") ?? true
            let includeTraces = try query.bool("include_traces") ?? true
            let includeProfiles = try query.bool("include_profiles") ?? true
            let mode = runtime.mode
            var config = configuration.describe()
            config["debug"] = .bool(mode.debug)
            config["performance"] = .bool(mode.performance)
            config["mode"] = .string(mode.rawValue)
            config["slow_threshold_ms"] = .number(runtime.slowThresholdMs)
            config["slow_adaptive"] = .string(runtime.slowAdaptive?.text ?? "off")
            config["slow_adaptive_floor_ms"] = runtime.slowAdaptive.map { .number($0.floorMs) } ?? .null
            config["cache_ttl_s"] = .number(runtime.defaultCacheTTL)
            let info = DebugInfo(
                mode: ModeFlags(
                    debug: mode.debug, performance: mode.performance, profiling: runtime.profiling, name: mode),
                config: .init(ConfigRedaction.mask(config)),
                recentLogs: includeLogs ? engine.ring.records(matching: LogFilter(), limit: 50) : nil,
                requestTraces: includeTraces ? DebugRoutes.traces(engine, TraceFilter(), limit: 50) : nil,
                requestStatistics: engine.tracer.statistics(),
                performanceProfiles: includeProfiles ? engine.profiler.profiles(limit: 20) : nil,
                logging: engine.loggingMetrics, cache: engine.cache.stats,
                buffers: .init(engine.buffers.merging(extraBuffers()) { current, _ in current }),
                version: KimeraVersion.current, uptimeS: engine.uptimeSeconds, telemetry: engine.telemetryStatus)
            return .ok(.init(body: .json(info)))
        }
    }

    func setDebugMode(_ input: Operations.SetDebugMode.Input) async throws -> Operations.SetDebugMode.Output {
        try await OperationTiming.measured {
            .ok(.init(body: .json(try toggle(.debug, enabled: input.query.enabled, ttl: input.query.ttl))))
        }
    }

    func setProfiling(_ input: Operations.SetProfiling.Input) async throws -> Operations.SetProfiling.Output {
        try await OperationTiming.measured {
            .ok(.init(body: .json(try toggle(.profiling, enabled: input.query.enabled, ttl: input.query.ttl))))
        }
    }

    /// `POST /debug/mode` and `POST /debug/profiling`: one switch, for a while or for good.
    private func toggle(_ toggle: RuntimeConfiguration.Switch, enabled: String?, ttl: String?) throws
        -> ModeChangeResponse
    {
        let query = QueryReader(["enabled": enabled, "ttl": ttl])
        let enabled = try query.requiredBool("enabled")
        let ttl = try query.ttl()
        let expiresAt = engine.runtime.set(toggle, enabled, ttl: ttl)
        let label = toggle == .debug ? "Debug mode" : "Profiling"
        let status = "\(label) \(enabled ? "enabled" : "disabled")"
        engine.audit.notice(
            "\(status.lowercased())",
            metadata: DebugRoutes.auditMetadata(setting: toggle.rawValue, value: String(enabled), expiresAt: expiresAt))
        let said: ModeChangeResponse.StatusPayload =
            switch toggle {
            case .debug: enabled ? .debugModeEnabled : .debugModeDisabled
            case .profiling: enabled ? .profilingEnabled : .profilingDisabled
            }
        return ModeChangeResponse(
            status: said, debug: toggle == .debug ? enabled : nil, profiling: toggle == .profiling ? enabled : nil,
            expiresAt: expiresAt.map(DebugRoutes.iso))
    }

    func getLogs(_ input: Operations.GetLogs.Input) async throws -> Operations.GetLogs.Output {
        try await OperationTiming.measured {
            let query = QueryReader([
                "limit": input.query.limit, "level": input.query.level, "module": input.query.module,
                "request_id": input.query.requestID, "since_seq": input.query.sinceSeq, "exact": input.query.exact,
            ])
            let limit = try query.limit(default: 100, maximum: DebugRoutes.maxLogLimit)
            let filter = try query.logFilter()
            let logs = engine.ring.records(matching: filter, limit: limit)
            let fill = engine.ring.fill
            return .ok(
                .init(
                    body: .json(
                        LogsResponse(
                            count: logs.count, logs: logs, bufferCapacity: engine.ring.capacity,
                            dropped: Int(clamping: fill.dropped), nextSeq: Int(clamping: fill.nextSeq)))))
        }
    }

    func getLogLevels(_ input: Operations.GetLogLevels.Input) async throws -> Operations.GetLogLevels.Output {
        try await OperationTiming.measured { .ok(.init(body: .json(DebugRoutes.levels(engine)))) }
    }

    func setLogLevel(_ input: Operations.SetLogLevel.Input) async throws -> Operations.SetLogLevel.Output {
        try await OperationTiming.measured {
            let runtime = engine.runtime
            let query = QueryReader(["level": input.query.level, "module": input.query.module, "ttl": input.query.ttl])
            guard let level = try query.level() else {
                throw APIError.invalidParameter("level", "level is required.", allowed: LogLevelName.allowed)
            }
            let module = try Self.moduleParameter(query)
            if let module, module != "root", runtime.moduleLevels().count >= 256,
                runtime.configuredLevel(for: module) == nil
            {
                throw APIError.invalidParameter(
                    "module",
                    "Too many module levels are set (256); clear one first (DELETE /debug/log-level?module=NAME, kimera debug log-level --unset --module NAME)."
                )
            }
            let ttl = try query.ttl()
            let target = module == "root" ? nil : module
            let change = runtime.setLevel(level, module: target, ttl: ttl)
            engine.audit.notice(
                "log level of \(target ?? "root") set to \(LogLevelName.name(level))",
                metadata: DebugRoutes.auditMetadata(
                    setting: "log_level.\(target ?? "root")", value: LogLevelName.name(level),
                    expiresAt: change.expiresAt))
            return .ok(
                .init(
                    body: .json(
                        LogLevelChangeResponse(
                            status: .success, level: LogLevel(level), module: target ?? "root",
                            previous: LogLevel(change.previous), expiresAt: change.expiresAt.map(DebugRoutes.iso)))))
        }
    }

    /// Clears a level set at runtime: the module inherits again, the root returns to the mode's default.
    func unsetLogLevel(_ input: Operations.UnsetLogLevel.Input) async throws -> Operations.UnsetLogLevel.Output {
        try await OperationTiming.measured {
            let runtime = engine.runtime
            let module = try Self.moduleParameter(QueryReader(["module": input.query.module]))
            let target = module == "root" ? nil : module
            let previous = target.map(runtime.effectiveLevel(for:)) ?? runtime.rootLevel
            if let target {
                runtime.clearLevel(module: target)
            } else {
                runtime.clearRootLevel()
            }
            let now = target.map(runtime.effectiveLevel(for:)) ?? runtime.rootLevel
            engine.audit.notice(
                "log level of \(target ?? "root") cleared (now \(LogLevelName.name(now)))",
                metadata: DebugRoutes.auditMetadata(
                    setting: "log_level.\(target ?? "root")", value: "unset", expiresAt: nil))
            return .ok(
                .init(
                    body: .json(
                        LogLevelChangeResponse(
                            status: .success, level: LogLevel(now), module: target ?? "root",
                            previous: LogLevel(previous), expiresAt: nil))))
        }
    }

    /// `module`, a dotted logger label, when given.
    private static func moduleParameter(_ query: QueryReader) throws -> String? {
        let module = query.string("module")
        if let module, module.utf8.count > 200 || !module.utf8.allSatisfy(DebugRoutes.isLabelByte) {
            throw APIError.invalidParameter(
                "module",
                "module must be a dotted logger label of ASCII letters, digits, '.', '_' or '-' (at most 200 characters)."
            )
        }
        return module
    }

    /// Mergeable per-series histograms: a client of several servers adds them instead of averaging percentiles.
    func getHistograms(_ input: Operations.GetHistograms.Input) async throws -> Operations.GetHistograms.Output {
        try await OperationTiming.measured { .ok(.init(body: .json(engine.tracer.histograms()))) }
    }

    func getTraces(_ input: Operations.GetTraces.Input) async throws -> Operations.GetTraces.Output {
        try await OperationTiming.measured {
            let query = QueryReader([
                "limit": input.query.limit, "path_filter": input.query.pathFilter, "method": input.query.method,
                "status": input.query.status, "min_duration_ms": input.query.minDurationMs,
                "request_id": input.query.requestID, "slow": input.query.slow,
            ])
            let limit = try query.limit(default: 50, maximum: DebugRoutes.maxTraceLimit)
            var filter = TraceFilter()
            filter.pathContains = query.string("path_filter")
            filter.method = try query.method()
            filter.status = try query.status()
            filter.minDurationMs = try query.nonNegativeDouble("min_duration_ms")
            filter.requestID = query.string("request_id")
            filter.slowOnly = try query.bool("slow") ?? false
            let found = DebugRoutes.traces(engine, filter, limit: limit)
            return .ok(
                .init(body: .json(TracesResponse(count: found.count, traces: found, statistics: engine.tracer.statistics()))))
        }
    }

    // Incidents (docs/OPERATIONS.md "Incidents"): requests kept because they ended badly.
    func listIncidents(_ input: Operations.ListIncidents.Input) async throws -> Operations.ListIncidents.Output {
        try await OperationTiming.measured {
            let query = QueryReader([
                "limit": input.query.limit, "route": input.query.route, "cause": input.query.cause,
                "since": input.query.since,
            ])
            let limit = try query.limit(default: 50, maximum: 1000)
            var filter = IncidentFilter(route: query.string("route"))
            filter.cause = try query.option("cause", of: "a cause of incidents")
            if let since = try query.since() {
                filter.sinceNanos = Timestamp.wallNanos() - since.nanoseconds
            }
            let found = engine.incidents.list(filter, limit: limit)
            return .ok(
                .init(body: .json(IncidentList(incidents: found.incidents, total: found.total, buffer: engine.incidents.fill))))
        }
    }

    func getIncident(_ input: Operations.GetIncident.Input) async throws -> Operations.GetIncident.Output {
        try await OperationTiming.measured {
            let id = input.path.id
            guard let incident = engine.incidents.incident(id: id) else {
                throw APIError.notFound(
                    "No incident '\(id)': incidents are kept while they fit (\(engine.incidents.capacity) entries); "
                        + "GET /debug/incidents lists them.")
            }
            return .ok(.init(body: .json(incident)))
        }
    }

    func getProfiles(_ input: Operations.GetProfiles.Input) async throws -> Operations.GetProfiles.Output {
        try await OperationTiming.measured {
            let query = QueryReader(["limit": input.query.limit, "name": input.query.name])
            let limit = try query.limit(default: 20, maximum: DebugRoutes.maxProfileLimit)
            let profiles = engine.profiler.profiles(named: query.string("name"), limit: limit)
            return .ok(
                .init(
                    body: .json(
                        ProfilesResponse(
                            count: profiles.count, profiles: profiles, functions: .init(engine.profiler.functions()),
                            allocations: .init(engine.profiler.allocations()), enabled: engine.runtime.profiling))))
        }
    }

    func getPerformanceStats(
        _ input: Operations.GetPerformanceStats.Input
    ) async throws -> Operations.GetPerformanceStats.Output {
        try await OperationTiming.measured {
            let cache = engine.cache.stats
            return .ok(
                .init(
                    body: .json(
                        PerformanceStats(
                            requestStatistics: engine.tracer.statistics(), responseCacheSize: cache.entries,
                            cacheStats: cache, loggingMetrics: engine.loggingMetrics, kimeraStatus: kimeraStatus(),
                            process: ProcessStats(
                                rssBytes: ProcessMetrics.residentBytes(), cpuSeconds: ProcessMetrics.cpuSeconds(),
                                threads: ProcessMetrics.threadCount(), uptimeS: engine.uptimeSeconds),
                            operationAllocations: .init(engine.profiler.allocations())))))
        }
    }
}
