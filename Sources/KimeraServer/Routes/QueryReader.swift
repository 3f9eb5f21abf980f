import Hummingbird
import KimeraCore
import KimeraModels
import KimeraObservability
import Logging

/// Typed access to query parameters. Unknown parameters are ignored; a known one with a bad value is
/// a 400 naming it and, where there is a list, the allowed values (docs/API.md §1). It reads the request's
/// one `ParsedQuery` — the reading the response cache keys on — and the first of a repeated name.
struct QueryReader {
    let parameters: ParsedQuery

    init(_ request: Request) {
        parameters = ParsedQuery(request.uri.query)
    }

    init(parsed: ParsedQuery) {
        parameters = parsed
    }

    func string(_ name: String) -> String? {
        parameters.first(name).flatMap { $0.isEmpty ? nil : $0 }
    }

    func bool(_ name: String) throws -> Bool? {
        guard let text = parameters.first(name) else { return nil }
        guard let value = BooleanValue.parse(text) else {
            throw APIError.invalidParameter(
                name, "\(name)=\(text) is not a boolean.", allowed: BooleanValue.allowed)
        }
        return value
    }

    func requiredBool(_ name: String) throws -> Bool {
        guard let value = try bool(name) else {
            throw APIError.invalidParameter(name, "\(name) is required.", allowed: BooleanValue.allowed)
        }
        return value
    }

    /// A positive count, clamped to `maximum`; zero, negative or non-integer is a 400.
    func limit(_ name: String = "limit", default defaultValue: Int, maximum: Int) throws -> Int {
        guard let text = parameters.first(name) else { return defaultValue }
        // Digits only (no sign, no spaces); a number too large for Int is still just "large": clamped.
        guard let value = QueryLimit.parse(text, maximum: maximum) else {
            throw APIError.invalidParameter(
                name, "\(name)=\(text) must be a positive integer (at most \(maximum); larger values are clamped).")
        }
        return value
    }

    func level(_ name: String = "level") throws -> Logger.Level? {
        guard let text = parameters.first(name) else { return nil }
        guard let level = LogLevelName.parse(text) else {
            throw APIError.invalidParameter(name, "\(name)=\(text) is not a log level.", allowed: LogLevelName.allowed)
        }
        return level
    }

    func ttl(_ name: String = "ttl") throws -> Duration? { try duration(name, example: "30s, 15m, 2h") }

    /// How far back to look (`since=10m`).
    func since(_ name: String = "since") throws -> Duration? { try duration(name, example: "10m, 1h") }

    /// A duration from 1 ms to 24 h: a positive number and a unit.
    private func duration(_ name: String, example: String) throws -> Duration? {
        guard let text = parameters.first(name) else { return nil }
        guard let value = DurationText.parse(text) else {
            throw APIError.invalidParameter(
                name,
                "\(name)=\(text) is not a duration from 1ms to 24h: a positive number and a unit (ms, s, m, h, d), e.g. \(example).",
                allowed: DurationText.examples)
        }
        return value
    }

    /// An integer within `range`, `defaultValue` when absent; anything else is a 400 naming the range.
    func integer(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = parameters.first(name) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw APIError.invalidParameter(
                name, "\(name)=\(text) must be an integer from \(range.lowerBound) to \(range.upperBound).")
        }
        return value
    }

    /// One of `allowed`, `defaultValue` when absent.
    func choice(_ name: String, default defaultValue: String, allowed: [String]) throws -> String {
        guard let text = parameters.first(name) else { return defaultValue }
        guard allowed.contains(text) else {
            throw APIError.invalidParameter(name, "\(name)=\(text) is not one of the formats.", allowed: allowed)
        }
        return text
    }

    /// A case of `T` by its raw value, nil when absent; an unknown value — the empty one included — is a
    /// 400 listing the cases (`?cause=` filters nothing, it names no cause).
    func option<T: RawRepresentable & CaseIterable>(_ name: String, of what: String) throws -> T?
    where T.RawValue == String {
        guard let text = parameters.first(name) else { return nil }
        guard let value = T(rawValue: text) else {
            throw APIError.invalidParameter(
                name, "\(name)=\(text) is not \(what).", allowed: T.allCases.map(\.rawValue))
        }
        return value
    }

    func nonNegativeDouble(_ name: String) throws -> Double? {
        guard let text = parameters.first(name) else { return nil }
        guard let value = Double(text), value.isFinite, value >= 0 else {
            throw APIError.invalidParameter(name, "\(name)=\(text) must be a number of 0 or more.")
        }
        return value
    }

    func sequence(_ name: String) throws -> UInt64? {
        guard let text = parameters.first(name) else { return nil }
        // Digits only; a number past UInt64 is past every record, as UInt64.max is.
        guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }) else {
            throw APIError.invalidParameter(name, "\(name)=\(text) must be a non-negative integer.")
        }
        return UInt64(text) ?? .max
    }

    func status(_ name: String = "status") throws -> Int? {
        guard let text = parameters.first(name) else { return nil }
        guard let value = Int(text), (100...599).contains(value) else {
            throw APIError.invalidParameter(name, "\(name)=\(text) must be an HTTP status code (100-599).")
        }
        return value
    }

    func method(_ name: String = "method") throws -> String? {
        guard let text = parameters.first(name) else { return nil }
        let upper = text.uppercased()
        let allowed = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
        guard allowed.contains(upper) else {
            throw APIError.invalidParameter(name, "\(name)=\(text) is not an HTTP method.", allowed: allowed)
        }
        return upper
    }

    /// The log filter parameters shared by `/debug/logs` and its stream.
    func logFilter() throws -> LogFilter {
        LogFilter(
            level: try level(), exact: try bool("exact") ?? false, module: string("module"),
            requestID: string("request_id"), sinceSeq: try sequence("since_seq"))
    }
}
