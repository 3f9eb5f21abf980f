#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import Hummingbird
import KimeraAPI
import KimeraCore
import KimeraModels
import KimeraObservability
import Logging
import NIOCore
import ServiceLifecycle

/// The debug API of docs/API.md §3: `/debug/*` and `/performance/stats`.
enum DebugRoutes {
    static let maxLogLimit = 5000
    static let maxTraceLimit = 5000
    static let maxProfileLimit = 1000

    static func register<Context: RequestContext>(
        on routes: RouteTable<Context>, engine: ObservabilityEngine, configuration: ServerConfiguration,
        kimeraStatus: @escaping @Sendable () -> PerformanceStats.KimeraStatusPayload,
        extraBuffers: @escaping @Sendable () -> [String: BufferFill] = { [:] }
    ) {
        let runtime = engine.runtime

        routes.get("/debug/info") { request, _ in
            let query = QueryReader(request)
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
                requestTraces: includeTraces ? traces(engine, TraceFilter(), limit: 50) : nil,
                requestStatistics: engine.tracer.statistics(),
                performanceProfiles: includeProfiles ? engine.profiler.profiles(limit: 20) : nil,
                logging: engine.loggingMetrics, cache: engine.cache.stats,
                buffers: .init(engine.buffers.merging(extraBuffers()) { current, _ in current }),
                version: KimeraVersion.current, uptimeS: engine.uptimeSeconds, telemetry: engine.telemetryStatus)
            return JSONBody.response(info)
        }

        for (path, toggle, label) in [
            ("/debug/mode", RuntimeConfiguration.Switch.debug, "Debug mode"),
            ("/debug/profiling", .profiling, "Profiling"),
        ] {
            routes.post(path) { request, _ in
                let query = QueryReader(request)
                let enabled = try query.requiredBool("enabled")
                let ttl = try query.ttl()
                let expiresAt = runtime.set(toggle, enabled, ttl: ttl)
                let status = "\(label) \(enabled ? "enabled" : "disabled")"
                engine.audit.notice(
                    "\(status.lowercased())",
                    metadata: auditMetadata(setting: toggle.rawValue, value: String(enabled), expiresAt: expiresAt))
                let said: ModeChangeResponse.StatusPayload =
                    switch toggle {
                    case .debug: enabled ? .debugModeEnabled : .debugModeDisabled
                    case .profiling: enabled ? .profilingEnabled : .profilingDisabled
                    }
                return JSONBody.response(
                    ModeChangeResponse(
                        status: said, debug: toggle == .debug ? enabled : nil,
                        profiling: toggle == .profiling ? enabled : nil, expiresAt: expiresAt.map(iso)))
            }
        }

        routes.get("/debug/logs") { request, _ in
            let query = QueryReader(request)
            let limit = try query.limit(default: 100, maximum: maxLogLimit)
            let filter = try query.logFilter()
            let logs = engine.ring.records(matching: filter, limit: limit)
            let fill = engine.ring.fill
            return JSONBody.response(
                LogsResponse(
                    count: logs.count, logs: logs, bufferCapacity: engine.ring.capacity,
                    dropped: Int(clamping: fill.dropped), nextSeq: Int(clamping: fill.nextSeq)))
        }

        routes.get("/debug/logs/stream") { request, context in
            try LogStream.open(request, channel: (context as? KimeraRequestContext)?.channel, engine: engine)
        }

        routes.get("/debug/log-level") { _, _ in
            JSONBody.response(levels(engine))
        }

        routes.post("/debug/log-level") { request, _ in
            let query = QueryReader(request)
            guard let level = try query.level() else {
                throw APIError.invalidParameter("level", "level is required.", allowed: LogLevelName.allowed)
            }
            let module = query.string("module")
            if let module,
                module.utf8.count > 200 || !module.utf8.allSatisfy(Self.isLabelByte)
            {
                throw APIError.invalidParameter(
                    "module",
                    "module must be a dotted logger label of ASCII letters, digits, '.', '_' or '-' (at most 200 characters)."
                )
            }
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
                metadata: auditMetadata(
                    setting: "log_level.\(target ?? "root")", value: LogLevelName.name(level),
                    expiresAt: change.expiresAt))
            return JSONBody.response(
                LogLevelChangeResponse(
                    status: .success, level: LogLevel(level), module: target ?? "root",
                    previous: LogLevel(change.previous), expiresAt: change.expiresAt.map(iso)))
        }

        // Clears a level set at runtime: the module inherits again, the root returns to the mode's default.
        routes.delete("/debug/log-level") { request, _ in
            let module = QueryReader(request).string("module")
            if let module, module.utf8.count > 200 || !module.utf8.allSatisfy(Self.isLabelByte) {
                throw APIError.invalidParameter(
                    "module",
                    "module must be a dotted logger label of ASCII letters, digits, '.', '_' or '-' (at most 200 characters)."
                )
            }
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
                metadata: auditMetadata(
                    setting: "log_level.\(target ?? "root")", value: "unset", expiresAt: nil))
            return JSONBody.response(
                LogLevelChangeResponse(
                    status: .success, level: LogLevel(now), module: target ?? "root",
                    previous: LogLevel(previous), expiresAt: nil))
        }

        // Mergeable per-series histograms: a client of several servers adds them instead of averaging percentiles.
        routes.get("/debug/histograms") { _, _ in
            JSONBody.response(engine.tracer.histograms())
        }

        routes.get("/debug/traces") { request, _ in
            let query = QueryReader(request)
            let limit = try query.limit(default: 50, maximum: maxTraceLimit)
            var filter = TraceFilter()
            filter.pathContains = query.string("path_filter")
            filter.method = try query.method()
            filter.status = try query.status()
            filter.minDurationMs = try query.nonNegativeDouble("min_duration_ms")
            filter.requestID = query.string("request_id")
            filter.slowOnly = try query.bool("slow") ?? false
            let found = traces(engine, filter, limit: limit)
            return JSONBody.response(
                TracesResponse(count: found.count, traces: found, statistics: engine.tracer.statistics()))
        }

        // Incidents (docs/OPERATIONS.md "Incidents"): requests kept because they ended badly.
        routes.get("/debug/incidents") { request, _ in
            let query = QueryReader(request)
            let limit = try query.limit(default: 50, maximum: 1000)
            var filter = IncidentFilter(route: query.string("route"))
            filter.cause = try query.option("cause", of: "a cause of incidents")
            if let since = try query.since() {
                filter.sinceNanos = Timestamp.wallNanos() - since.nanoseconds
            }
            let found = engine.incidents.list(filter, limit: limit)
            return JSONBody.response(
                IncidentList(incidents: found.incidents, total: found.total, buffer: engine.incidents.fill))
        }
        routes.get("/debug/incidents/{id}") { _, context in
            let id = try context.parameters.require("id")
            guard let incident = engine.incidents.incident(id: id) else {
                throw APIError.notFound(
                    "No incident '\(id)': incidents are kept while they fit (\(engine.incidents.capacity) entries); "
                        + "GET /debug/incidents lists them.")
            }
            return JSONBody.response(incident)
        }

        routes.get("/debug/profiles") { request, _ in
            let query = QueryReader(request)
            let limit = try query.limit(default: 20, maximum: maxProfileLimit)
            let profiles = engine.profiler.profiles(named: query.string("name"), limit: limit)
            return JSONBody.response(
                ProfilesResponse(
                    count: profiles.count, profiles: profiles, functions: .init(engine.profiler.functions()),
                    allocations: .init(engine.profiler.allocations()), enabled: runtime.profiling))
        }

        PprofRoutes.register(on: routes, engine: engine)

        routes.get("/performance/stats") { _, _ in
            let cache = engine.cache.stats
            return JSONBody.response(
                PerformanceStats(
                    requestStatistics: engine.tracer.statistics(), responseCacheSize: cache.entries, cacheStats: cache,
                    loggingMetrics: engine.loggingMetrics, kimeraStatus: kimeraStatus(),
                    process: ProcessStats(
                        rssBytes: ProcessMetrics.residentBytes(), cpuSeconds: ProcessMetrics.cpuSeconds(),
                        threads: ProcessMetrics.threadCount(), uptimeS: engine.uptimeSeconds),
                    operationAllocations: .init(engine.profiler.allocations())))
        }

        // Text 0.0.4, or OpenMetrics with exemplars when Accept asks for it (docs/API.md "/metrics").
        routes.get("/metrics") { request, _ in
            let format = PrometheusExposition.Format.negotiated(
                accept: request.headers[values: .accept].joined(separator: ","))
            let text = PrometheusExposition.render(engine: engine, format: format)
            return Response(
                status: .ok, headers: [.contentType: format.contentType, .vary: "Accept"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
    }

    static func traces(_ engine: ObservabilityEngine, _ filter: TraceFilter, limit: Int) -> [Trace] {
        let compact = engine.tracer.traces(matching: filter, limit: limit)
        let counts = engine.ring.logCounts(for: Set(compact.map { $0.requestID }))
        return compact.map { $0.trace(logCount: counts[$0.requestID] ?? 0) }
    }

    static func levels(_ engine: ObservabilityEngine) -> LogLevelsResponse {
        let runtime = engine.runtime
        var modules: [String: ModuleLevel] = [:]
        for module in engine.pipeline.knownModules {
            modules[module] = ModuleLevel(
                module: module, configured: runtime.configuredLevel(for: module).map(LogLevel.init),
                effective: LogLevel(runtime.effectiveLevel(for: module)), expiresAt: nil)
        }
        for configured in runtime.moduleLevels() {
            modules[configured.module] = ModuleLevel(
                module: configured.module, configured: LogLevel(configured.level),
                effective: LogLevel(configured.level), expiresAt: configured.expiresAt.map(iso))
        }
        return LogLevelsResponse(
            levels: LogLevel.allCases, root: LogLevel(runtime.rootLevel),
            modules: modules.values.sorted { $0.module < $1.module })
    }

    static func auditMetadata(setting: String, value: String, expiresAt: Date?) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["setting": .string(setting), "value": .string(value)]
        if let expiresAt { metadata["expires_at"] = .string(iso(expiresAt)) }
        return metadata
    }

    /// The bytes of a logger label: ASCII letters, digits, `.`, `_`, `-` (the OpenAPI pattern says the same).
    static func isLabelByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default: return false
        }
    }

    static func iso(_ date: Date) -> String {
        Timestamp.iso8601(secondsSince1970: date.timeIntervalSince1970)
    }
}

extension JSONValue {
    /// A string, or an array (of strings, say): what may hold a secret.
    fileprivate var isText: Bool {
        switch self {
        case .string, .array: true
        default: false
        }
    }
}

/// Configuration as `/debug/info` shows it: secret values masked. A value is secret when it is text under
/// a secret-looking key (`*token*`, `*secret*`, `*password*`, `*key*`); booleans, numbers and nulls under
/// such keys (`token_required_off_loopback`) and the paths of files that hold secrets (`*_file`) say
/// nothing secret and are shown as they are.
enum ConfigRedaction {
    static func mask(_ config: [String: JSONValue]) -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        for (key, value) in config {
            if case .object(let nested) = value {
                result[key] = .object(mask(nested))
            } else if value.isText, Redaction.isSecretName(key), !key.hasSuffix("_file") {
                result[key] = .string(Redaction.mask)
            } else {
                result[key] = value
            }
        }
        return result
    }
}

/// `GET /debug/logs/stream`: NDJSON, one record a line, a gap line where records were lost, and a
/// heartbeat line after 15 s of silence (which is also how a vanished client is noticed).
enum LogStream {
    static let heartbeatNanos: Int64 = 15_000_000_000

    /// Subscribes the request's client, with a log tap when it asks for a level below the ring's.
    static func open(_ request: Request, channel: (any Channel)?, engine: ObservabilityEngine) throws -> Response {
        let runtime = engine.runtime
        let filter = try QueryReader(request).logFilter()
        // A level below what the ring keeps of the module opens a log tap (docs/OPERATIONS.md "Log
        // taps"): this subscriber alone gets those records; no level, the ring or the console changes.
        var tapID: UInt64?
        let ringLevel = runtime.ringLevel(for: filter.module ?? "")
        if let level = filter.level, level < ringLevel {
            tapID = runtime.addTap(module: filter.module, level: level)
            guard tapID != nil else {
                throw APIError.unavailable(
                    "Too many log taps are open (limit \(RuntimeConfiguration.tapLimit)); a stream below the ring's level (\(LogLevelName.name(ringLevel))) needs one: close one and retry, or stream from \(LogLevelName.name(ringLevel))."
                )
            }
        }
        var onClose: (@Sendable () -> Void)?
        if let tapID { onClose = { runtime.removeTap(tapID) } }
        guard
            let subscription = engine.ring.subscribe(
                filter: filter, tap: tapID != nil, ownRequestID: RequestScope.requestID, onClose: onClose)
        else {
            onClose?()
            throw APIError.unavailable(
                "Too many log streams are open (limit \(engine.ring.subscriptions.limit)); close one and retry.")
        }
        // A subscriber that goes away frees its slot at once, not at the next heartbeat's failed write.
        channel?.closeFuture.whenComplete { _ in subscription.close() }
        return response(subscription)
    }

    static func response(_ subscription: LogSubscription) -> Response {
        let body = ResponseBody { writer in
            // Records made while this stream writes are not fed to taps (no feedback, `RequestScope`).
            try await RequestScope.$writingLogStream.withValue(true) { try await write(subscription, to: &writer) }
        }
        return Response(
            status: .ok, headers: [.contentType: "application/x-ndjson", .cacheControl: "no-store"], body: body)
    }

    private static func write(_ subscription: LogSubscription, to writer: inout any ResponseBodyWriter) async throws {
        do {
            defer { subscription.close() }
            var lastWrite = Timestamp.monotonicNanos()
            // A stream never ends by itself: end it when the server drains or the task is cancelled.
            try await withGracefulShutdownHandler {
                try await withTaskCancellationHandler {
                    while let batch = await subscription.next() {
                        var buffer = ByteBuffer()
                        for item in batch {
                            switch item {
                            case .record(let log):
                                buffer.writeBytes(try JSONBody.encoder.encode(log.record))
                            case .gap(let range):
                                buffer.writeBytes(try JSONBody.encoder.encode(StreamGap(gap: range)))
                            }
                            buffer.writeString("\n")
                        }
                        let now = Timestamp.monotonicNanos()
                        if buffer.readableBytes == 0 {
                            guard now - lastWrite >= heartbeatNanos else { continue }
                            buffer.writeString("{\"heartbeat\":true}\n")
                        }
                        try await writer.write(buffer)
                        lastWrite = now
                    }
                } onCancel: {
                    subscription.close()
                }
            } onGracefulShutdown: {
                subscription.close()
            }
            try await writer.finish(nil)
        }
    }
}
