import KimeraModels
import Logging
import Synchronization

/// The request a task is serving; every log line written inside it carries this id.
public enum RequestScope {
    @TaskLocal public static var requestID: String?
    /// The trace id of the request's span while OpenTelemetry export is on (nil when off): a request
    /// that brings neither `X-Request-ID` nor `traceparent` takes it as its request id.
    @TaskLocal public static var traceID: String?
    /// The request's own log records, every level, until it ends (docs/OPERATIONS.md "Incidents"):
    /// while a request runs, its DEBUG records are made even where the ring and the console keep INFO.
    @TaskLocal public static var tail: RequestLogTail?
    /// Set while a request escalated with `X-Kimera-Debug` is served: its profiled operations are timed
    /// into it for the `Server-Timing` header (read only while `RequestEscalation.anyActive`).
    @TaskLocal public static var escalation: RequestEscalation?
    /// Set while a log stream writes to its subscriber: records made then are not fed to taps, so a tap
    /// cannot feed on its own output (docs/OPERATIONS.md "Log taps").
    @TaskLocal public static var writingLogStream = false
}

/// Where log records go: the ring (at its own level) and the console/file sinks (at the module's level).
public final class LogPipeline: Sendable {
    public let runtime: RuntimeConfiguration
    public let ring: LogRing
    let sinks: SinkSet
    /// Labels loggers were made with, for `GET /debug/log-level` and shell completion; bounded.
    private let labels = Mutex<Set<String>>([])
    static let labelLimit = 512
    /// Metadata every record of this process carries (the instance id).
    let processMetadata: [String: String]
    /// The OpenTelemetry export: records kept here also go to its handler, with the trace context.
    let telemetry: TelemetryHooks?

    init(
        runtime: RuntimeConfiguration, ring: LogRing, sinks: SinkSet, processMetadata: [String: String] = [:],
        telemetry: TelemetryHooks? = nil
    ) {
        self.runtime = runtime
        self.ring = ring
        self.sinks = sinks
        self.processMetadata = processMetadata
        self.telemetry = telemetry
    }

    /// A handler for `label`; use as `LoggingSystem.bootstrap(pipeline.makeHandler)`. The label joins the
    /// modules `/debug/log-level` lists, except swift-log's unnamed task-local default (`Logger(label: "")`):
    /// no level can be set for it, and its records follow the root level.
    public func makeHandler(label: String) -> any LogHandler {
        if !label.isEmpty {
            labels.locked { labels in
                if labels.count < Self.labelLimit { labels.insert(label) }
            }
        }
        var handler = KimeraLogHandler(label: label, pipeline: self)
        handler.exporter = telemetry?.exportHandler(label)
        return handler
    }

    public var knownModules: [String] { labels.locked { $0.sorted() } }

    /// A logger for `label` wired to this pipeline, whatever the process-wide bootstrap is (tests).
    public func logger(_ label: String) -> Logger {
        Logger(label: label, factory: makeHandler)
    }
}

/// The swift-log handler behind every Kimera logger. Its `logLevel` is the lower of the two thresholds
/// (console, ring) for its label, so that a call that neither keeps is filtered out by `Logger` itself,
/// before its message autoclosure runs. The thresholds are cached and re-read only after a change.
///
/// As swift-log's `LogHandler` contract asks, `logLevel` and `metadata` are real values of this handler:
/// setting `logger.logLevel` pins that logger value to the level (ring and sinks alike), overriding the
/// runtime module levels, and metadata set on a logger is kept, Hummingbird's `hb.request.id` included
/// (its `RequestContext.id` reads it back). That key is left out of records only because every record
/// already carries Kimera's request id.
struct KimeraLogHandler: LogHandler {
    let label: String
    let pipeline: LogPipeline
    private let cache = LevelCache()
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    /// A level set on this logger value; nil follows the runtime configuration.
    private var pinnedLevel: Logger.Level?
    /// The OpenTelemetry exporting handler; nil when export is off.
    var exporter: (any LogHandler)?

    init(label: String, pipeline: LogPipeline) {
        self.label = label
        self.pipeline = pipeline
    }

    /// Inside a request (a tail in scope), DEBUG too, for the request's tail.
    var logLevel: Logger.Level {
        get {
            if let pinnedLevel { return pinnedLevel }
            let lowest = thresholds().lowest
            return lowest > .debug && RequestScope.tail != nil ? .debug : lowest
        }
        set { pinnedLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Hummingbird's own per-request id key; records carry Kimera's `request_id` instead.
    static let hummingbirdRequestIDKey = "hb.request.id"

    @inline(__always)
    private func thresholds() -> LevelCache.Levels {
        let generation = pipeline.runtime.generation.load(ordering: .acquiring)
        if let cached = cache.levels(at: generation) { return cached }
        let fresh = pipeline.runtime.thresholds(for: label)
        let levels = LevelCache.Levels(
            console: fresh.console, ring: fresh.ring, tap: pipeline.runtime.tapLevel(for: label))
        cache.store(levels, at: generation)
        return levels
    }

    func log(event: LogEvent) {
        let levels = pinnedLevel.map { LevelCache.Levels(console: $0, ring: $0) } ?? thresholds()
        let toRing = event.level >= levels.ring
        let toSinks = event.level >= levels.console
        let tail = event.level >= .debug ? RequestScope.tail : nil
        // A tap's record (below the ring's level): not while a log stream writes (no feedback).
        let toTap = !toRing && levels.tap.map { event.level >= $0 } == true && !RequestScope.writingLogStream
        guard toRing || toSinks || tail != nil || toTap else { return }

        var merged = pipeline.processMetadata
        // Four sources in order, later ones winning; merged one after the other (no array of them built
        // per record); the trace context only when OpenTelemetry export is on.
        func merge(_ source: Logger.Metadata) {
            for (key, value) in source where key != Self.hummingbirdRequestIDKey {
                merged[key] = Redaction.value(forKey: key, "\(value)")
            }
        }
        merge(metadata)
        if let provided = metadataProvider?.get() { merge(provided) }
        if let metadata = event.metadata { merge(metadata) }
        if let telemetry = pipeline.telemetry { merge(telemetry.contextMetadata.get()) }
        var requestID = RequestScope.requestID
        if let explicit = merged.removeValue(forKey: "request_id") { requestID = requestID ?? explicit }
        if let error = event.error { merged["error"] = "\(error)" }

        var log = CapturedLog(
            seq: 0, timeNanos: Timestamp.wallNanos(), level: event.level, module: label,
            message: Redaction.message(event.message.description), requestID: requestID, metadata: merged,
            file: event.file, function: event.function, line: event.line)
        if toRing {
            log.seq = pipeline.ring.append(log)
        } else if toTap {
            pipeline.ring.tap(log)
        }
        tail?.append(log)
        guard toRing || toSinks else { return }
        if toSinks { pipeline.sinks.write(log) }
        if let exporter, event.level >= exporter.logLevel { export(log, event: event, to: exporter) }
    }

    /// The record as the ring has it (redacted message and metadata, request id) to the exporter.
    private func export(_ log: CapturedLog, event: LogEvent, to exporter: any LogHandler) {
        var metadata: Logger.Metadata = [:]
        for (key, value) in log.metadata { metadata[key] = .string(value) }
        if let requestID = log.requestID { metadata["request_id"] = .string(requestID) }
        exporter.log(
            event: LogEvent(
                level: event.level, message: "\(log.message)", metadata: metadata, source: event.source,
                file: event.file, function: event.function, line: event.line))
    }
}

/// A handler's cached thresholds, tagged with the configuration generation they were derived at.
/// Generation and levels share one atomic word, so a reader never sees one without the other.
final class LevelCache: Sendable {
    struct Levels {
        var console: Logger.Level
        var ring: Logger.Level
        /// The lowest level a log tap asks of this label, if any.
        var tap: Logger.Level? = nil
        var lowest: Logger.Level { min(console, ring, tap ?? .critical) }
    }

    private let word = Atomic<UInt64>(0)

    func levels(at generation: UInt64) -> Levels? {
        let value = word.load(ordering: .relaxed)
        guard value >> 24 == generation & 0xFF_FFFF_FFFF else { return nil }
        let all = Logger.Level.allCases
        let tap = Int((value >> 16) & 0xFF)
        return Levels(
            console: all[Int((value >> 8) & 0xFF)], ring: all[Int(value & 0xFF)],
            tap: tap < all.count ? all[tap] : nil)
    }

    package func store(_ levels: Levels, at generation: UInt64) {
        let value =
            (generation & 0xFF_FFFF_FFFF) << 24 | UInt64(levels.tap?.index ?? 0xFF) << 16
            | UInt64(levels.console.index) << 8 | UInt64(levels.ring.index)
        word.store(value, ordering: .relaxed)
    }
}
