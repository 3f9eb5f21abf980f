import KimeraModels

/// The tension between two geoids (docs/DOMAIN.md "Tension"): three components and their weighted score.
/// One formula for every caller and every size: single pairs, detection, processing and the cycle all go
/// through `TensionOperand` and `TensionScore.between`.
public struct TensionScore: Sendable, Equatable {
    public static let embeddingWeight = 0.4
    public static let layerWeight = 0.3
    public static let symbolicWeight = 0.3
    /// The type every tension reports, and SCAR reasons quote.
    public static let type = "pairwise_composite"

    /// E: embedding misalignment.
    public var embeddingMisalignment: Double
    /// L: layer conflict.
    public var layerConflict: Double
    /// S: symbolic opposition.
    public var symbolicOpposition: Double
    /// 0.4·E + 0.3·L + 0.3·S.
    public var score: Double

    public init(embeddingMisalignment: Double, layerConflict: Double, symbolicOpposition: Double) {
        self.embeddingMisalignment = embeddingMisalignment
        self.layerConflict = layerConflict
        self.symbolicOpposition = symbolicOpposition
        self.score =
            Self.embeddingWeight * embeddingMisalignment + Self.layerWeight * layerConflict
            + Self.symbolicWeight * symbolicOpposition
    }

    /// Scores a pair of prepared geoids.
    public static func between(_ a: TensionOperand, _ b: TensionOperand) -> TensionScore {
        TensionScore(
            embeddingMisalignment: embeddingMisalignment(a, b),
            layerConflict: layerConflict(a.featureKeys, b.featureKeys),
            symbolicOpposition: symbolicOpposition(a.symbolicState, b.symbolicState))
    }

    /// E: 0 when either vector is empty; 1 when either norm is 0; else 1 − cos(a, b) clamped to [0, 1].
    public static func embeddingMisalignment(_ a: TensionOperand, _ b: TensionOperand) -> Double {
        if a.embedding.isEmpty || b.embedding.isEmpty { return 0 }
        if a.norm == 0 || b.norm == 0 { return 1 }
        let cosine = Double(VectorMath.dot(a.embedding, b.embedding)) / (a.norm * b.norm)
        return min(max(1 - cosine, 0), 1)
    }

    /// L: Jaccard distance 1 − |A ∩ B| ÷ |A ∪ B| of two sorted, duplicate-free key lists; 0 when both are empty.
    public static func layerConflict(_ a: [Int], _ b: [Int]) -> Double {
        if a.isEmpty && b.isEmpty { return 0 }
        var common = 0
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            if a[i] == b[j] {
                common += 1
                i += 1
                j += 1
            } else if a[i] < b[j] {
                i += 1
            } else {
                j += 1
            }
        }
        let union = a.count + b.count - common
        return 1 - Double(common) / Double(union)
    }

    /// S: over keys in both symbolic states, 1 for two booleans that differ, 1 for two non-zero numbers of
    /// opposite sign, 0.5 for two strings that differ ignoring case; the sum divided by the common keys.
    public static func symbolicOpposition(_ a: [String: JSONValue], _ b: [String: JSONValue]) -> Double {
        let (small, large) = a.count <= b.count ? (a, b) : (b, a)
        var common = 0
        var total = 0.0
        for (key, left) in small {
            guard let right = large[key] else { continue }
            common += 1
            total += opposition(left, right)
        }
        return common == 0 ? 0 : total / Double(common)
    }

    static func opposition(_ left: JSONValue, _ right: JSONValue) -> Double {
        switch (left, right) {
        case (.bool(let x), .bool(let y)):
            return x != y ? 1 : 0
        case (.number(let x), .number(let y)):
            return x != 0 && y != 0 && (x < 0) != (y < 0) ? 1 : 0
        case (.string(let x), .string(let y)):
            return x.lowercased() != y.lowercased() ? 0.5 : 0
        default:
            return 0
        }
    }

    /// The tension between `a` and `b`, naming the two geoids in the order compared.
    public func tension(_ a: String, _ b: String) -> Tension {
        Tension(
            geoidsInvolved: [a, b], score: score, embeddingMisalignment: embeddingMisalignment,
            layerConflict: layerConflict, symbolicOpposition: symbolicOpposition)
    }
}

/// A geoid prepared for scoring: its norm computed once and its semantic keys interned to sorted integers,
/// so that scoring the ~125k pairs of a cognitive cycle stays cheap.
public struct TensionOperand: Sendable {
    public var geoidID: String
    public var embedding: [Float]
    public var norm: Double
    /// Interned semantic keys, sorted ascending; only comparable with operands from the same `KeyInterner`.
    public var featureKeys: [Int]
    public var symbolicState: [String: JSONValue]
    public var semanticState: [String: Double]

    public init(_ geoid: Geoid, interner: inout KeyInterner) {
        geoidID = geoid.geoidID
        embedding = geoid.embeddingVector
        norm = Double(VectorMath.norm(geoid.embeddingVector))
        featureKeys = geoid.semanticState.keys.map { interner.id(for: $0) }.sorted()
        symbolicState = geoid.symbolicState
        semanticState = geoid.semanticState
    }

    /// The number of semantic keys: `f` in the pulse formula.
    public var featureCount: Int { featureKeys.count }
}

/// Gives each distinct string a small integer, so key sets compare by integer merge.
public struct KeyInterner: Sendable {
    private var ids: [String: Int] = [:]

    public init() {}

    public mutating func id(for key: String) -> Int {
        if let id = ids[key] { return id }
        let id = ids.count
        ids[key] = id
        return id
    }
}

/// Turns tension scores into tensions and pulses.
public struct TensionPolicy: Sendable, Equatable {
    public static let defaultThreshold = 0.4

    /// A pair is a tension when its score is at least this; in [0, 1].
    public var threshold: Double

    /// - Throws: `DomainError.invalidInput` when the threshold is outside [0, 1].
    public init(threshold: Double = TensionPolicy.defaultThreshold) throws(DomainError) {
        guard threshold.isFinite, (0...1).contains(threshold) else {
            throw .invalidInput(field: "tension_threshold", problem: "must be between 0 and 1, got \(threshold)")
        }
        self.threshold = threshold
    }

    public func isTension(_ score: TensionScore) -> Bool { score.score >= threshold }

    /// min(1, score × (1 + 0.5 × min(f ÷ 20, 1))), f = mean number of semantic keys of a and b.
    public static func pulse(score: Double, featureCountA: Int, featureCountB: Int) -> Double {
        let meanFeatures = Double(featureCountA + featureCountB) / 2
        return min(1, score * (1 + 0.5 * min(meanFeatures / 20, 1)))
    }
}
