#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraModels

/// A SCAR before the vault has placed it: its figures, plus its vector and creation time. Its figures read
/// as its own properties (`draft.scarID`).
@dynamicMemberLookup
public struct ScarDraft: Sendable, Equatable {
    public var figures: ScarFigures
    /// Seconds since 1970; what "created in the last hour" is measured against.
    public var createdAt: Double
    /// The text its vector embeds: "<decision> contradiction between '<keys of a>' and '<keys of b>'".
    public var embeddedText: String
    public var embedding: [Float]

    public init(_ figures: ScarFigures, createdAt: Double, embeddedText: String, embedding: [Float]) {
        self.figures = figures
        self.createdAt = createdAt
        self.embeddedText = embeddedText
        self.embedding = embedding
    }

    public subscript<Value>(dynamicMember figure: KeyPath<ScarFigures, Value>) -> Value { figures[keyPath: figure] }

    /// The stored SCAR once the vault has chosen where it goes.
    public func placed(in vault: VaultID) -> Scar { Scar(figures, vaultID: vault) }
}

/// Who resolved a tension: the contradiction engine (processing a trigger) or the cognitive cycle.
public enum ScarProvenance: Sendable, Equatable {
    case contradictionEngine
    case cognitiveCycle

    func reason(_ decision: ContradictionDecision) -> String {
        switch self {
        case .contradictionEngine: "\(decision.pastTense) '\(TensionScore.type)' tension."
        case .cognitiveCycle: "auto-cycle"
        }
    }

    func resolvedBy(_ decision: ContradictionDecision) -> String {
        switch self {
        case .contradictionEngine: "ContradictionEngine:\(decision.resolverName)"
        case .cognitiveCycle: "KimeraCognitiveCycle"
        }
    }
}

/// Builds SCARs (docs/DOMAIN.md "Decision and SCAR").
public enum ScarConstruction {
    /// pre = H(a) + H(b); post = pre + Δ; cls_angle = score × 180 ÷ π; semantic_polarity = mean(values of a)
    /// − mean(values of b); mutation_frequency = score; weight 1.
    public static func draft(
        a: TensionOperand, b: TensionOperand, score: Double, decision: ContradictionDecision,
        provenance: ScarProvenance, embedder: any Embedder, now: Date
    ) -> ScarDraft {
        let pre = SemanticEntropy.entropy(a.semanticState) + SemanticEntropy.entropy(b.semanticState)
        let delta = decision.entropyDelta
        let text = vectorText(decision: decision, a: a.semanticState, b: b.semanticState)
        let figures = ScarFigures(
            scarID: KimeraID.make("scar"), geoids: [a.geoidID, b.geoidID], reason: provenance.reason(decision),
            timestamp: KimeraTimestamp.iso8601(now), resolvedBy: provenance.resolvedBy(decision),
            preEntropy: pre, postEntropy: pre + delta, deltaEntropy: delta, clsAngle: score * 180 / Double.pi,
            semanticPolarity: mean(a.semanticState) - mean(b.semanticState), mutationFrequency: score, weight: 1)
        return ScarDraft(
            figures, createdAt: now.timeIntervalSince1970, embeddedText: text, embedding: embedder.embed(text))
    }

    /// The mean of a state's values (summed in key order); 0 for an empty state.
    public static func mean(_ state: [String: Double]) -> Double {
        guard !state.isEmpty else { return 0 }
        return state.keys.sorted().reduce(0) { $0 + state[$1]! } / Double(state.count)
    }

    /// At most this many keys of each geoid are named in a SCAR's text: a geoid with thousands of features
    /// would otherwise make every SCAR of it (text, embedding input, row) that large.
    public static let listedKeys = 32

    /// The sorted keys, comma-separated; past `listedKeys`, the rest is counted: `a, b, … (+N more)`.
    static func listed(_ keys: Dictionary<String, Double>.Keys) -> String {
        let sorted = keys.sorted()
        guard sorted.count > listedKeys else { return sorted.joined(separator: ", ") }
        return sorted.prefix(listedKeys).joined(separator: ", ") + ", … (+\(sorted.count - listedKeys) more)"
    }

    /// "<decision> contradiction between '<keys of a>' and '<keys of b>'", keys sorted and comma-separated
    /// (at most `listedKeys` of each).
    public static func vectorText(decision: ContradictionDecision, a: [String: Double], b: [String: Double]) -> String {
        let keysA = listed(a.keys)
        let keysB = listed(b.keys)
        return "\(decision.rawValue) contradiction between '\(keysA)' and '\(keysB)'"
    }
}
