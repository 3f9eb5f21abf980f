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

/// What the debug API's generated operations (`DebugOperations.swift`) share, and the three debug routes
/// served by hand (`KimeraAPIService.handServed` says why): the log stream, pprof and `/metrics`.
enum DebugRoutes {
    static let maxLogLimit = 5000
    static let maxTraceLimit = 5000
    static let maxProfileLimit = 1000

    static func register<Context: RequestContext>(on routes: RouteTable<Context>, engine: ObservabilityEngine) {
        routes.get("/debug/logs/stream") { request, context in
            try LogStream.open(request, channel: (context as? KimeraRequestContext)?.channel, engine: engine)
        }

        PprofRoutes.register(on: routes, engine: engine)

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
