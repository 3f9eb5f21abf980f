/// Durations as people type them: `500ms`, `30s`, `15m`, `2h`, `1d` (units in any case), or a plain number of
/// seconds. The grammar is exactly `DurationText.pattern`, which the OpenAPI document publishes for `ttl`.
/// Zero is not a duration (unless a caller allows it), and neither is anything longer than `maximum` (1 d) or
/// shorter than `minimum` (1 ms): such a value is refused with the limits named, never cut silently.
public enum DurationText {
    public static let examples = ["30s", "15m", "2h", "500ms", "1d"]
    /// The longest ttl accepted anywhere: a forgotten debug switch still reverts within a day.
    public static let maximum = Duration.seconds(86_400)
    /// The shortest: durations are kept in whole milliseconds.
    public static let minimum = Duration.milliseconds(1)
    /// The limits as the refusals name them.
    public static let range = "from 1ms to 24h"
    /// The accepted text as a regular expression (ECMA-262, as OpenAPI's `pattern`): a positive decimal
    /// number and an optional unit.
    public static let pattern =
        "^([0-9]*[1-9][0-9]*(\\.[0-9]+)?|[0-9]+\\.[0-9]*[1-9][0-9]*)([mM][sS]|[sSmMhHdD])?$"

    /// The duration `text` says, or nil: nil too when it is out of `range` (1 ms to 1 d). Zero is refused
    /// unless `allowingZero` (e.g. `--drain 0s`: none).
    public static func parse(_ text: some StringProtocol, allowingZero: Bool = false) -> Duration? {
        guard let seconds = seconds(text, allowingZero: allowingZero) else { return nil }
        if seconds == 0 { return .zero }
        let milliseconds = (seconds * 1000).rounded()
        guard milliseconds >= 1, milliseconds <= 86_400_000 else { return nil }
        return .milliseconds(Int64(milliseconds))
    }

    /// The seconds `text` says, whatever their size, when it is of the grammar (`pattern`); 0 only with
    /// `allowingZero`. A positive text too small for a Double is the smallest positive one, never zero.
    public static func seconds(_ text: some StringProtocol, allowingZero: Bool = false) -> Double? {
        let lowered = text.lowercased()
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
        // Digits with at most one inner point: no signs, exponents, spaces or hex, which Double() would take.
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        // Positive is a digit other than 0 (as the pattern says), not `value > 0`: 0.000…1 underflows to 0.
        let positive = number.contains(where: { $0 != "0" && $0 != "." })
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }),
            let value = Double(number), positive || allowingZero
        else { return nil }
        if !positive { return 0 }
        return Swift.max(value * scale, .leastNonzeroMagnitude)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
