import Foundation

/// Whether and where Kimera exports OpenTelemetry, from the standard `OTEL_*` variables and Kimera's own
/// `--otlp-endpoint` / `telemetry.otlp.endpoint`. Export is on when any endpoint is set and
/// `OTEL_SDK_DISABLED` is not true. swift-otel reads the other standard variables itself (sampler,
/// headers, timeouts, resource attributes, batch sizes); this type only decides on/off, the endpoints
/// Kimera shows, and the defaults Kimera adds (service name `kimera`, `service.instance.id`).
public struct TelemetrySettings: Sendable, Equatable {
    /// Where spans and log records are posted (OTLP/HTTP protobuf).
    public var tracesEndpoint: String
    public var logsEndpoint: String
    /// Kimera's endpoint (flag or file), applied in code; nil when only the environment names one.
    public var configuredEndpoint: String?
    /// `OTEL_SERVICE_NAME`, else `service.name` of `OTEL_RESOURCE_ATTRIBUTES`, else `kimera`.
    public var serviceName: String
    /// True when the environment names the service, so that swift-otel's own precedence applies.
    public var serviceNameFromEnvironment: Bool
    /// `service.instance.id`: `OTEL_RESOURCE_ATTRIBUTES` wins over the default `host:port`.
    public var instanceID: String
    public var tracesEnabled: Bool
    public var logsEnabled: Bool

    public static let defaultServiceName = "kimera"

    /// Nil when export is off. `endpoint` is Kimera's own setting (flag, else file); the signal-specific
    /// and generic `OTEL_EXPORTER_OTLP_*ENDPOINT` variables win over it, as swift-otel applies them last.
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
        if let protocolName = value("OTEL_EXPORTER_OTLP_PROTOCOL") ?? value("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            ?? value("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"), protocolName == "grpc"
        {
            throw TelemetryConfigurationError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not built into Kimera; use http/protobuf (the default)")
        }
        // The spec's OTLP/HTTP rule: a base URL gets the signal's path; a per-signal URL is used as is.
        let base = generic ?? configured ?? ""
        func signalURL(_ path: String) -> String { base.hasSuffix("/") ? base + path : base + "/" + path }
        let tracesEndpoint = tracesSpecific ?? signalURL("v1/traces")
        let logsEndpoint = logsSpecific ?? signalURL("v1/logs")

        let resource = parseResourceAttributes(environment["OTEL_RESOURCE_ATTRIBUTES"] ?? "")
        let serviceName = value("OTEL_SERVICE_NAME") ?? resource["service.name"] ?? defaultServiceName
        return TelemetrySettings(
            tracesEndpoint: tracesEndpoint, logsEndpoint: logsEndpoint, configuredEndpoint: configured,
            serviceName: serviceName,
            serviceNameFromEnvironment: value("OTEL_SERVICE_NAME") != nil || resource["service.name"] != nil,
            instanceID: resource["service.instance.id"] ?? defaultInstanceID,
            tracesEnabled: value("OTEL_TRACES_EXPORTER")?.lowercased() != "none",
            logsEnabled: value("OTEL_LOGS_EXPORTER")?.lowercased() != "none")
    }

    /// `key=value,key=value` with percent-encoded values (the W3C Baggage octet rules the spec names).
    static func parseResourceAttributes(_ text: String) -> [String: String] {
        var attributes: [String: String] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            let raw = parts[1].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty else { continue }
            attributes[key] = raw.removingPercentEncoding ?? raw
        }
        return attributes
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
