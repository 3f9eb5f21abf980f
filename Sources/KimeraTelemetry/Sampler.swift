/// Which new spans are recorded and exported: the specification's samplers, chosen by
/// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (docs/OPERATIONS.md "OpenTelemetry export").
/// An unsampled span still has ids and is propagated (`traceparent` flags `00`), it is just not kept.
public enum Sampler: Sendable, Equatable {
    case alwaysOn
    case alwaysOff
    /// Samples a trace when its id's low 64 bits fall under `ratio` of their range.
    case traceIDRatio(Double)
    /// The caller's decision when there is a parent, else `root`'s.
    indirect case parentBased(root: Sampler)

    public static let `default` = Sampler.parentBased(root: .alwaysOn)

    /// From the variables; nil name means the default. Unknown names and bad ratios stop startup.
    public static func resolve(name: String?, argument: String?) throws -> Sampler {
        func ratio() throws -> Double {
            guard let argument else { return 1 }
            guard let value = Double(argument), value >= 0, value <= 1 else {
                throw TelemetryConfigurationError("OTEL_TRACES_SAMPLER_ARG=\(argument) must be a ratio from 0 to 1")
            }
            return value
        }
        switch name?.lowercased() {
        case nil, "parentbased_always_on": return .default
        case "always_on": return .alwaysOn
        case "always_off": return .alwaysOff
        case "traceidratio": return .traceIDRatio(try ratio())
        case "parentbased_always_off": return .parentBased(root: .alwaysOff)
        case "parentbased_traceidratio": return .parentBased(root: .traceIDRatio(try ratio()))
        case let other?:
            throw TelemetryConfigurationError(
                "OTEL_TRACES_SAMPLER=\(other) is not one of always_on, always_off, traceidratio, "
                    + "parentbased_always_on, parentbased_always_off, parentbased_traceidratio")
        }
    }

    /// Whether a new span of trace `traceIDLow` under `parent` is sampled.
    func shouldSample(traceIDLow: UInt64, parent: SpanContext?) -> Bool {
        switch self {
        case .alwaysOn: return true
        case .alwaysOff: return false
        case .traceIDRatio(let ratio):
            if ratio >= 1 { return true }
            // The low 63 bits against the ratio's share of them, as the Go and Java SDKs compare.
            return Double(traceIDLow & 0x7FFF_FFFF_FFFF_FFFF) < ratio * 0x1p63
        case .parentBased(let root):
            if let parent { return parent.sampled }
            return root.shouldSample(traceIDLow: traceIDLow, parent: nil)
        }
    }
}
