/// A `Duration` as a number of one unit: the one conversion every target uses (seconds for JSON fields and
/// rates, whole milliseconds for log text and OTLP timeouts, whole nanoseconds for pprof and time windows).
extension Duration {
    /// In seconds, as a floating-point number.
    public var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    /// In whole milliseconds, truncated.
    public var milliseconds: Int64 {
        let parts = components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }

    /// In whole nanoseconds, truncated.
    public var nanoseconds: Int64 {
        let parts = components
        return parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000
    }
}
