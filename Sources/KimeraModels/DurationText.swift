import Foundation

/// Durations as people type them: `500ms`, `30s`, `15m`, `2h`, `1d`, or a plain number of seconds.
public enum DurationText {
    public static let examples = ["30s", "15m", "2h", "500ms", "1d"]
    /// The longest ttl accepted anywhere: a forgotten debug switch still reverts within a day.
    public static let maximum = Duration.seconds(86_400)

    public static func parse(_ text: some StringProtocol) -> Duration? {
        let lowered = text.lowercased().trimmingCharacters(in: .whitespaces)
        let units: [(suffix: String, seconds: Double)] = [
            ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400),
        ]
        var number = Substring(lowered)
        var scale = 1.0
        for unit in units where lowered.hasSuffix(unit.suffix) {
            number = lowered.dropLast(unit.suffix.count)
            scale = unit.seconds
            break
        }
        guard let value = Double(number), value.isFinite, value > 0 else { return nil }
        let seconds = value * scale
        guard seconds <= 86_400 else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}
