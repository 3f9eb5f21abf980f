import KimeraModels

/// What the stability metrics are computed from (docs/DOMAIN.md "Stability"); the vault reads it, and
/// processing updates it in memory as it drafts SCARs, so each decision sees the SCARs drafted before it.
public struct StabilityInputs: Sendable, Equatable {
    /// How many newest SCARs and geoids the metrics look at.
    public static let window = 20
    /// The span of `scarsInLastHour`, in seconds.
    public static let pressureSpan: Double = 3600

    public var scarsInLastHour: Int
    /// delta_entropy of the newest SCARs, newest first, at most `window`.
    public var newestScarDeltas: [Double]
    /// Embeddings of the newest geoids, at most `window`.
    public var newestGeoidEmbeddings: [[Float]]

    public init(scarsInLastHour: Int, newestScarDeltas: [Double], newestGeoidEmbeddings: [[Float]]) {
        self.scarsInLastHour = scarsInLastHour
        self.newestScarDeltas = Array(newestScarDeltas.prefix(Self.window))
        self.newestGeoidEmbeddings = Array(newestGeoidEmbeddings.prefix(Self.window))
    }

    /// Accounts for a SCAR drafted now with this delta_entropy.
    public mutating func record(scarDelta: Double) {
        scarsInLastHour += 1
        newestScarDeltas.insert(scarDelta, at: 0)
        if newestScarDeltas.count > Self.window { newestScarDeltas.removeLast() }
    }
}

/// The stability metrics (docs/DOMAIN.md "Stability"); every value is in [0, 1]. `GET /kimera/system/stability`
/// shows them as the document's `StabilityMetrics`, built by the route.
public struct StabilityReport: Sendable, Equatable {
    /// What the mean stability says: `stable` (≥ 0.7), `moderate` (≥ 0.4) or `unstable`.
    public enum Level: String, Sendable {
        case stable, moderate, unstable
    }

    /// min(SCARs created in the last hour ÷ 10, 1).
    public var vaultPressure: Double
    /// 1 − mean pairwise cosine distance of the newest geoids.
    public var semanticCohesion: Double
    /// (mean delta_entropy of the newest SCARs + 1) ÷ 2.
    public var entropicStability: Double
    /// Mean of pressure, cohesion and entropic stability.
    public var stability: Double

    /// Equal to `semanticCohesion`.
    public var axisConvergence: Double { semanticCohesion }
    /// 1 − `vaultPressure`.
    public var vaultResonance: Double { 1 - vaultPressure }
    public var level: Level { stability >= 0.7 ? .stable : stability >= 0.4 ? .moderate : .unstable }

    /// vault_pressure = min(SCARs in the last hour ÷ 10, 1); semantic_cohesion = 1 − mean pairwise cosine
    /// distance of the newest geoids, clamped to [0, 1], 1 when fewer than 2; entropic_stability = (mean
    /// delta_entropy of the newest SCARs + 1) ÷ 2, 0.5 when none; stability = mean of the three.
    public init(_ inputs: StabilityInputs) {
        let pressure = min(Double(inputs.scarsInLastHour) / 10, 1)
        let cohesion = Self.cohesion(inputs.newestGeoidEmbeddings)
        let entropic: Double =
            inputs.newestScarDeltas.isEmpty
            ? 0.5
            : (inputs.newestScarDeltas.reduce(0, +) / Double(inputs.newestScarDeltas.count) + 1) / 2
        vaultPressure = pressure
        semanticCohesion = cohesion
        entropicStability = entropic
        stability = (pressure + cohesion + entropic) / 3
    }

    /// 1 − mean of (1 − cos) over all pairs; a pair with a zero vector counts as distance 1.
    static func cohesion(_ embeddings: [[Float]]) -> Double {
        guard embeddings.count >= 2 else { return 1 }
        var distance = 0.0
        var pairs = 0
        for i in 0..<(embeddings.count - 1) {
            for j in (i + 1)..<embeddings.count {
                distance += 1 - (VectorMath.cosine(embeddings[i], embeddings[j]) ?? 0)
                pairs += 1
            }
        }
        return min(max(1 - distance / Double(pairs), 0), 1)
    }
}
