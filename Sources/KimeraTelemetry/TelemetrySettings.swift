#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraModels
import Logging

/// Whether, where and how Kimera exports OpenTelemetry, from the standard `OTEL_*` variables and Kimera's
/// own `--otlp-endpoint` / `telemetry.otlp.endpoint` (docs/OPERATIONS.md "OpenTelemetry export"). Export
/// is on when any endpoint is set and `OTEL_SDK_DISABLED` is not true. Every variable is read here, once,
/// at startup; a value Kimera cannot honour stops it with the variable named.
public struct TelemetrySettings: Sendable, Equatable {
    /// Where spans and log records are posted (OTLP/HTTP protobuf).
    public var tracesEndpoint: String
    public var logsEndpoint: String
    /// Kimera's endpoint (flag or file); nil when only the environment names one.
    public var configuredEndpoint: String?
    /// `OTEL_SERVICE_NAME`, else `service.name` of `OTEL_RESOURCE_ATTRIBUTES`, else `kimera`.
    public var serviceName: String
    /// `service.instance.id`: `OTEL_RESOURCE_ATTRIBUTES` wins over the default `host:port`.
    public var instanceID: String
    public var tracesEnabled: Bool
    public var logsEnabled: Bool
    /// Every resource attribute, in the order sent: Kimera's (`service.*`, `telemetry.sdk.*`), then those
    /// of `OTEL_RESOURCE_ATTRIBUTES`, which win.
    public var resourceAttributes: [(String, String)]
    /// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
    public var sampler: Sampler
    /// The lowest level of exported log records (`OTEL_SWIFT_LOG_LEVEL`, default info).
    public var logLevel: Logger.Level
    /// Sending and batching per signal: the `OTEL_EXPORTER_OTLP_[TRACES_|LOGS_]*` and `OTEL_BSP_*` /
    /// `OTEL_BLRP_*` variables.
    public var traces: SignalExportSettings
    public var logs: SignalExportSettings

    public static let defaultServiceName = "kimera"

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.tracesEndpoint == rhs.tracesEndpoint && lhs.logsEndpoint == rhs.logsEndpoint
            && lhs.configuredEndpoint == rhs.configuredEndpoint && lhs.serviceName == rhs.serviceName
            && lhs.instanceID == rhs.instanceID && lhs.tracesEnabled == rhs.tracesEnabled
            && lhs.logsEnabled == rhs.logsEnabled
            && lhs.resourceAttributes.elementsEqual(rhs.resourceAttributes, by: ==)
            && lhs.sampler == rhs.sampler && lhs.logLevel == rhs.logLevel && lhs.traces == rhs.traces
            && lhs.logs == rhs.logs
    }

    /// Nil when export is off. `endpoint` is Kimera's own setting (flag, else file); the signal-specific
    /// and generic `OTEL_EXPORTER_OTLP_*ENDPOINT` variables win over it, as they did with swift-otel.
    public static func resolve(
        environment: [String: String], endpoint: String?, defaultInstanceID: String
    ) throws -> TelemetrySettings? {
        func value(_ name: String) -> String? {
            guard let raw = environment[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        if let disabled = value("OTEL_SDK_DISABLED") {
            switch disabled.lowercased() {
            case "true": return nil
            case "false": break
            default:
                throw TelemetryConfigurationError("OTEL_SDK_DISABLED=\(disabled) must be true or false")
            }
        }
        let configured = endpoint.flatMap { $0.isEmpty ? nil : $0 }
        let generic = value("OTEL_EXPORTER_OTLP_ENDPOINT")
        let tracesSpecific = value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        let logsSpecific = value("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
        guard configured != nil || generic != nil || tracesSpecific != nil || logsSpecific != nil else { return nil }
        for (name, url) in [
            ("--otlp-endpoint / telemetry.otlp.endpoint", configured), ("OTEL_EXPORTER_OTLP_ENDPOINT", generic),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", tracesSpecific), ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logsSpecific),
        ] {
            guard let url else { continue }
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw TelemetryConfigurationError("\(name) \(url) must be an http:// or https:// URL")
            }
        }
        for name in [
            "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
        ] {
            guard let protocolName = value(name), protocolName != "http/protobuf" else { continue }
            throw TelemetryConfigurationError(
                "\(name)=\(protocolName) is not built into Kimera; use http/protobuf (the default)")
        }
        // The spec's OTLP/HTTP rule: a base URL gets the signal's path; a per-signal URL is used as is.
        let base = generic ?? configured ?? ""
        func signalURL(_ path: String) -> String { base.hasSuffix("/") ? base + path : base + "/" + path }
        let tracesEndpoint = tracesSpecific ?? signalURL("v1/traces")
        let logsEndpoint = logsSpecific ?? signalURL("v1/logs")

        let resource = parseResourceAttributes(environment["OTEL_RESOURCE_ATTRIBUTES"] ?? "")
        let serviceName = value("OTEL_SERVICE_NAME") ?? resource["service.name"] ?? defaultServiceName
        let instanceID = resource["service.instance.id"] ?? defaultInstanceID
        var attributes: [(String, String)] = [
            ("service.name", serviceName), ("service.instance.id", instanceID),
            ("service.version", KimeraVersion.current), ("telemetry.sdk.name", "kimera"),
            ("telemetry.sdk.language", "swift"), ("telemetry.sdk.version", KimeraVersion.current),
        ]
        let ours = Set(attributes.map(\.0))
        for key in resource.keys.sorted() where !ours.contains(key) { attributes.append((key, resource[key]!)) }
        for (index, (key, _)) in attributes.enumerated() where key != "service.name" {
            if let override = resource[key] { attributes[index].1 = override }
        }

        let logLevel: Logger.Level
        if let name = value("OTEL_SWIFT_LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: name.lowercased()) else {
                throw TelemetryConfigurationError(
                    "OTEL_SWIFT_LOG_LEVEL=\(name) is not a level (trace, debug, info, notice, warning, error, critical)"
                )
            }
            logLevel = level
        } else {
            logLevel = .info
        }
        return TelemetrySettings(
            tracesEndpoint: tracesEndpoint, logsEndpoint: logsEndpoint, configuredEndpoint: configured,
            serviceName: serviceName, instanceID: instanceID,
            tracesEnabled: value("OTEL_TRACES_EXPORTER")?.lowercased() != "none",
            logsEnabled: value("OTEL_LOGS_EXPORTER")?.lowercased() != "none", resourceAttributes: attributes,
            sampler: try Sampler.resolve(
                name: value("OTEL_TRACES_SAMPLER"), argument: value("OTEL_TRACES_SAMPLER_ARG")),
            logLevel: logLevel,
            traces: try signal("TRACES", batching: "BSP", endpoint: tracesEndpoint, value),
            logs: try signal("LOGS", batching: "BLRP", endpoint: logsEndpoint, value))
    }

    /// One signal's sending and batching: `OTEL_EXPORTER_OTLP_<SIGNAL>_*` over `OTEL_EXPORTER_OTLP_*`, and
    /// `OTEL_<BSP|BLRP>_*`.
    static func signal(
        _ signal: String, batching: String, endpoint: String, _ value: (String) -> String?
    ) throws -> SignalExportSettings {
        func exporter(_ suffix: String) -> (name: String, value: String)? {
            for name in ["OTEL_EXPORTER_OTLP_\(signal)_\(suffix)", "OTEL_EXPORTER_OTLP_\(suffix)"] {
                if let found = value(name) { return (name, found) }
            }
            return nil
        }
        func number(_ name: String, default fallback: Int, minimum: Int) throws -> Int {
            guard let text = value(name) else { return fallback }
            guard let number = Int(text), number >= minimum else {
                throw TelemetryConfigurationError("\(name)=\(text) must be a whole number of at least \(minimum)")
            }
            return number
        }
        var timeout = Duration.seconds(10)
        if let (name, text) = exporter("TIMEOUT") {
            guard let milliseconds = Int(text), milliseconds > 0 else {
                throw TelemetryConfigurationError("\(name)=\(text) must be a number of milliseconds above 0")
            }
            timeout = .milliseconds(milliseconds)
        }
        var gzip = false
        if let (name, text) = exporter("COMPRESSION") {
            switch text.lowercased() {
            case "gzip": gzip = true
            case "none": gzip = false
            default: throw TelemetryConfigurationError("\(name)=\(text) must be gzip or none")
            }
        }
        // Generic headers first; a signal's own header of the same name replaces it.
        var headers: [(String, String)] = []
        for name in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_\(signal)_HEADERS"] {
            for (key, text) in parseHeaders(value(name) ?? "") {
                headers.removeAll { $0.0.lowercased() == key.lowercased() }
                headers.append((key, text))
            }
        }
        let queue = try number("OTEL_\(batching)_MAX_QUEUE_SIZE", default: 2048, minimum: 1)
        let batch = try number("OTEL_\(batching)_MAX_EXPORT_BATCH_SIZE", default: 512, minimum: 1)
        let delay = try number("OTEL_\(batching)_SCHEDULE_DELAY", default: 1000, minimum: 1)
        return SignalExportSettings(
            endpoint: endpoint, headers: headers, gzip: gzip, timeout: timeout, scheduleDelay: .milliseconds(delay),
            maxQueueSize: queue, maxBatchSize: min(batch, queue))
    }

    /// `key=value,…` with percent-encoded values, as the specification writes `OTEL_EXPORTER_OTLP_HEADERS`.
    static func parseHeaders(_ text: String) -> [(String, String)] {
        text.split(separator: ",").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            let raw = parts[1].trimmingCharacters(in: .whitespaces)
            return key.isEmpty ? nil : (key, raw.removingPercentEncoding ?? raw)
        }
    }

    /// `key=value,key=value` with percent-encoded values (the W3C Baggage octet rules the spec names); a
    /// key given twice keeps its last value.
    static func parseResourceAttributes(_ text: String) -> [String: String] {
        Dictionary(parseHeaders(text), uniquingKeysWith: { $1 })
    }

    /// An endpoint as Kimera shows it: scheme, host, port and path; no user info, no query.
    public static func displayed(_ endpoint: String) -> String {
        guard var components = URLComponents(string: endpoint) else { return "<invalid>" }
        components.user = nil
        components.password = nil
        components.query = nil
        components.fragment = nil
        return components.string ?? "<invalid>"
    }
}

/// A telemetry setting that stops startup, naming the variable or flag at fault.
public struct TelemetryConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
