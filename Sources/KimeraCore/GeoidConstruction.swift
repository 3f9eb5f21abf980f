import Foundation
import KimeraModels

/// A geoid before it has an id and an embedding: what a create request asks for, validated.
public struct GeoidDraft: Sendable, Equatable {
    public var semanticState: [String: Double]
    public var symbolicState: [String: JSONValue]
    public var metadata: [String: JSONValue]
    /// The text the embedding is made from: the content (text form) or the feature text (feature form).
    /// Stored with the geoid so that a new embedder can re-embed it.
    public var embeddedText: String

    public init(
        semanticState: [String: Double], symbolicState: [String: JSONValue], metadata: [String: JSONValue],
        embeddedText: String
    ) {
        self.semanticState = semanticState
        self.symbolicState = symbolicState
        self.metadata = metadata
        self.embeddedText = embeddedText
    }
}

/// The two ways a geoid is built from a request (docs/DOMAIN.md "Geoid", "Embedding").
public enum GeoidConstruction {
    /// How many of the most frequent content tokens make a text-form semantic state.
    public static let textFeatureCount = 16
    /// The text-form feature that carries min(characters ÷ 100, 1). It overrides a token spelled the same.
    public static let complexityFeature = "complexity"
    /// Where a parsed `echoform_text` goes in `symbolic_state`.
    public static let echoformKey = "echoform"

    /// Validates a create request and builds its draft. The feature form is used when `semantic_features` is
    /// present, else the text form (`content`, or `echoform_text` when there is no `content`).
    /// `semanticFeatures` is kept as JSON so that a non-number is reported by the feature's name.
    public static func draft(
        content: String? = nil, echoformText: String? = nil, semanticFeatures: [String: JSONValue]? = nil,
        symbolicContent: [String: JSONValue]? = nil, metadata: [String: JSONValue]? = nil
    ) throws(DomainError) -> GeoidDraft {
        // Given text is never blank, whichever form wins.
        for (field, value) in [("content", content), ("echoform_text", echoformText)] {
            if let value, TextRules.isBlank(value) {
                throw .invalidInput(field: field, problem: "is empty: give the text the geoid is about")
            }
        }
        var symbolic = symbolicContent ?? [:]
        if let echoform = echoformText {
            symbolic[echoformKey] = try EchoformParser.parse(echoform)
        }
        let metadata = metadata ?? [:]

        if let features = semanticFeatures {
            let state = try numericFeatures(features)
            return GeoidDraft(
                semanticState: state, symbolicState: symbolic, metadata: metadata, embeddedText: featureText(state))
        }
        guard let text = content ?? echoformText else {
            throw .invalidInput(
                field: "content",
                problem:
                    "is missing: give 'content' or 'echoform_text' (text form), or 'semantic_features' (feature form)")
        }
        if TextRules.isBlank(text) {
            let field = content != nil ? "content" : "echoform_text"
            throw .invalidInput(field: field, problem: "is empty: give the text the geoid is about")
        }
        return GeoidDraft(
            semanticState: textSemanticState(text), symbolicState: symbolic, metadata: metadata, embeddedText: text)
    }

    /// The 16 most frequent non-stop-word tokens (ties: alphabetical), each weighted by its share of those
    /// tokens' occurrences, plus `complexity` = min(characters ÷ 100, 1).
    public static func textSemanticState(_ text: String) -> [String: Double] {
        // Counted by sorting the tokens (in text order) rather than through a dictionary, so that the work,
        // and the allocations an operator reads per create (issue 25), do not depend on a dictionary's order.
        let tokens = Tokenizer.contentTokens(text).sorted()
        var counts: [(key: String, value: Int)] = []
        for token in tokens {
            if counts.last?.key == token { counts[counts.count - 1].value += 1 } else { counts.append((token, 1)) }
        }
        let top = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(textFeatureCount)
        let total = Double(top.reduce(0) { $0 + $1.value })
        var state: [String: Double] = [:]
        for (token, count) in top { state[token] = Double(count) / total }
        state[complexityFeature] = min(Double(text.count) / 100, 1)
        return state
    }

    /// The feature form's text to embed: sorted `key:value` pairs, value to 2 decimals, joined by spaces.
    public static func featureText(_ state: [String: Double]) -> String {
        state.keys.sorted().map { "\($0):\(String(format: "%.2f", state[$0]!))" }.joined(separator: " ")
    }

    /// The most features one geoid may have (the OpenAPI schema says the same).
    public static let maximumFeatures = 1000

    /// The largest feature weight accepted, in magnitude (the OpenAPI schema says the same).
    public static let maximumFeatureMagnitude = 1e12

    /// Every feature must be a finite JSON number; the first offender (in key order) is named.
    static func numericFeatures(_ features: [String: JSONValue]) throws(DomainError) -> [String: Double] {
        guard features.count <= maximumFeatures else {
            throw .invalidInput(
                field: "semantic_features", problem: "has \(features.count) features; at most \(maximumFeatures)")
        }
        var state: [String: Double] = [:]
        for name in features.keys.sorted() {
            let value = features[name]!
            guard case .number(let number) = value, number.isFinite else {
                throw .invalidFeature(name: name, found: describe(value))
            }
            // Larger magnitudes overflow entropy and tension (squares of 1e300 are infinite), which JSON
            // cannot carry; no meaningful feature weight is near them.
            guard abs(number) <= maximumFeatureMagnitude else {
                throw .invalidInput(
                    field: "semantic_features.\(name)",
                    problem: "is \(number); a feature must be within ±\(Int(maximumFeatureMagnitude))")
            }
            state[name] = number
        }
        return state
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): "the boolean \(flag)"
        case .number(let number): "the non-finite number \(number)"
        case .string(let text): "the string \"\(text.prefix(40))\""
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Ids of the form `<prefix>_<32 lowercase hex>` from 128 random bits.
public enum KimeraID {
    public static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return prefix + "_" + hex(high) + hex(low)
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Whether `id` has the shape `<prefix>_<32 lowercase hex>`.
    public static func isWellFormed(_ id: String, prefix: String) -> Bool {
        guard id.hasPrefix(prefix + "_") else { return false }
        let hexPart = id.utf8.dropFirst(prefix.utf8.count + 1)
        return hexPart.count == 32
            && hexPart.allSatisfy {
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                    || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
            }
    }
}

/// SCAR timestamps: ISO-8601 UTC with microseconds, e.g. `2025-01-02T03:04:05.678901Z`.
public enum KimeraTimestamp {
    public static func iso8601(_ date: Date) -> String {
        let totalMicroseconds = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
        var seconds = totalMicroseconds / 1_000_000
        var micros = totalMicroseconds % 1_000_000
        if micros < 0 {
            micros += 1_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay % 3600 / 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(micros, 6))Z"
    }
}
