import KimeraModels

/// Query values: `BooleanValue.parse`, `DurationText.parse`, `QueryLimit.parse`, `LogLevel(parsing:)`, each
/// against an independent reference of its documented grammar (ASCII case only, the published ttl pattern).
let booleans: [String: Bool] = [
    "true": true, "1": true, "yes": true, "on": true, "false": false, "0": false, "no": false, "off": false,
]
let levels: [String: LogLevel] = Dictionary(
    uniqueKeysWithValues: LogLevel.allCases.map { (asciiLowercased($0.rawValue), $0) } + [("warn", .warning)])
/// The OpenAPI `pattern` of ttl, matched scalar by scalar as ECMA-262 would (no grapheme clustering).
nonisolated(unsafe) let durationPattern = try! Regex(DurationText.pattern).matchingSemantics(.unicodeScalar)

/// Digits only, not all zeros; the value saturates at `maximum` however many digits follow.
func referenceLimit(_ text: String, maximum: Int) -> Int? {
    guard !text.utf8.isEmpty else { return nil }
    var value = 0
    var over = false
    var nonZero = false
    for byte in text.utf8 {
        guard (48...57).contains(byte) else { return nil }
        nonZero = nonZero || byte != 48
        guard !over else { continue }
        let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times.addingReportingOverflow(Int(byte - 48))
        if overflow1 || overflow2 || sum > maximum { over = true } else { value = sum }
    }
    return nonZero ? (over ? maximum : value) : nil
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let value = text(data, size)
    let lowered = asciiLowercased(value)

    let boolean = BooleanValue.parse(value)
    check(boolean == (isASCII(value) ? booleans[lowered] : nil), "BooleanValue.parse(\(value.debugDescription)) = \(String(describing: boolean))")

    let level = LogLevel(parsing: value)
    check(level == (isASCII(value) ? levels[lowered] : nil), "LogLevel(parsing: \(value.debugDescription)) = \(String(describing: level))")
    if let level { check(LogLevel(parsing: level.rawValue) == level, "level round trip \(level)") }

    for maximum in [1, 100, 1000, Int.max] {
        let limit = QueryLimit.parse(value, maximum: maximum)
        check(limit == referenceLimit(value, maximum: maximum), "QueryLimit.parse(\(value.debugDescription), maximum: \(maximum)) = \(String(describing: limit))")
        if let limit { check((1...maximum).contains(limit), "limit \(limit) outside 1...\(maximum)") }
    }

    let seconds = DurationText.seconds(value)
    let matches = (try? durationPattern.wholeMatch(in: value)) != nil
    check((seconds != nil) == matches, "DurationText.seconds(\(value.debugDescription)) = \(String(describing: seconds)) but the pattern \(matches ? "matches" : "does not match")")
    if let seconds { check(seconds > 0, "DurationText.seconds(\(value.debugDescription)) = \(seconds), not positive") }
    let duration = DurationText.parse(value)
    let inRange = seconds.map { (1...86_400_000).contains(($0 * 1000).rounded()) } ?? false
    check((duration != nil) == inRange, "DurationText.parse(\(value.debugDescription)) = \(String(describing: duration)), in range: \(inRange)")
    if let duration {
        check(duration >= DurationText.minimum && duration <= DurationText.maximum, "DurationText.parse(\(value.debugDescription)) = \(duration), outside [1ms, 24h]")
    }
    return 0
}
