#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraModels

/// A pair among a list of operands whose score reached the threshold.
public struct TensionFinding: Sendable, Equatable {
    /// Indices into the operand list, `first < second`.
    public var first: Int
    public var second: Int
    public var score: TensionScore
}

/// One tension resolved into a SCAR.
public struct TensionResolution: Sendable, Equatable {
    public var tension: Tension
    public var pulse: Double
    /// The stability the decision saw.
    public var stability: Double
    public var decision: ContradictionDecision
    public var scar: ScarDraft

    /// What the processing result reports of this resolution.
    public var processed: ProcessedTension {
        ProcessedTension(tension: tension, pulseStrength: pulse, decision: decision, scarID: scar.scarID)
    }
}

/// Steps 3–4 of processing a trigger (docs/DOMAIN.md "Processing a trigger"), with no I/O: the caller loads the
/// trigger and its neighbours and stores the drafted SCARs in one transaction.
public enum ContradictionProcessing {
    /// Every pair (i < j) of `operands` whose score reaches the policy's threshold, in pair order.
    public static func tensions(among operands: [TensionOperand], policy: TensionPolicy) -> [TensionFinding] {
        guard operands.count >= 2 else { return [] }
        var findings: [TensionFinding] = []
        for i in 0..<(operands.count - 1) {
            for j in (i + 1)..<operands.count {
                let score = TensionScore.between(operands[i], operands[j])
                if policy.isTension(score) { findings.append(TensionFinding(first: i, second: j, score: score)) }
            }
        }
        return findings
    }

    /// For each finding in order: pulse, stability (counting the SCARs drafted before it), decision, SCAR.
    public static func resolve(
        _ findings: [TensionFinding], operands: [TensionOperand], stability: inout StabilityInputs,
        forceCollapse: Bool, provenance: ScarProvenance, embedder: any Embedder, now: Date
    ) -> [TensionResolution] {
        findings.map { finding in
            let a = operands[finding.first]
            let b = operands[finding.second]
            let pulse = TensionPolicy.pulse(
                score: finding.score.score, featureCountA: a.featureCount, featureCountB: b.featureCount)
            let currentStability = StabilityReport(stability).stability
            let decision = ContradictionDecision.decide(
                pulse: pulse, stability: currentStability, forceCollapse: forceCollapse)
            let scar = ScarConstruction.draft(
                a: a, b: b, score: finding.score.score, decision: decision, provenance: provenance,
                embedder: embedder, now: now)
            stability.record(scarDelta: scar.deltaEntropy)
            return TensionResolution(
                tension: finding.score.tension(a.geoidID, b.geoidID), pulse: pulse, stability: currentStability,
                decision: decision, scar: scar)
        }
    }
}

/// A geoid's semantic state after diffusion.
public struct GeoidStateUpdate: Sendable, Equatable {
    public var geoidID: String
    public var semanticState: [String: Double]

    public init(geoidID: String, semanticState: [String: Double]) {
        self.geoidID = geoidID
        self.semanticState = semanticState
    }
}

/// One cognitive cycle, computed in memory (docs/DOMAIN.md "Cognitive cycle"): diffusion of the newest geoids,
/// then their tensions, the strongest few resolved into SCARs. The caller stores it all in one transaction.
public struct CognitiveCyclePlan: Sendable {
    /// The cycle works on at most this many newest geoids…
    public static let geoidLimit = 500
    /// …and turns at most this many of their tensions, strongest first, into SCARs.
    public static let scarLimit = 20

    public var updates: [GeoidStateUpdate]
    public var entropyBefore: Double
    public var entropyAfter: Double
    public var tensionsDetected: Int
    public var resolutions: [TensionResolution]

    /// - Parameter geoids: the newest geoids, at most `geoidLimit` of them are used.
    public init(
        geoids: [Geoid], policy: TensionPolicy, stability: StabilityInputs, embedder: any Embedder, now: Date
    ) {
        let active = geoids.prefix(Self.geoidLimit)
        var entropyBefore = 0.0
        var entropyAfter = 0.0
        var updates: [GeoidStateUpdate] = []
        var interner = KeyInterner()
        var operands: [TensionOperand] = []
        updates.reserveCapacity(active.count)
        operands.reserveCapacity(active.count)
        for var geoid in active {
            entropyBefore += SemanticEntropy.entropy(geoid.semanticState)
            geoid.semanticState = SemanticDiffusion.diffuse(geoid.semanticState)
            entropyAfter += SemanticEntropy.entropy(geoid.semanticState)
            updates.append(GeoidStateUpdate(geoidID: geoid.geoidID, semanticState: geoid.semanticState))
            operands.append(TensionOperand(geoid, interner: &interner))
        }
        let findings = ContradictionProcessing.tensions(among: operands, policy: policy)
        let strongest = Self.strongest(findings, limit: Self.scarLimit)
        var stability = stability
        self.updates = updates
        self.entropyBefore = entropyBefore
        self.entropyAfter = entropyAfter
        self.tensionsDetected = findings.count
        self.resolutions = ContradictionProcessing.resolve(
            strongest, operands: operands, stability: &stability, forceCollapse: false,
            provenance: .cognitiveCycle, embedder: embedder, now: now)
    }

    /// The `limit` highest-scoring findings, strongest first; among equal scores the earlier pair first.
    /// A bounded insertion pass: the cycle can have ~125k findings and needs only 20.
    static func strongest(_ findings: [TensionFinding], limit: Int) -> [TensionFinding] {
        var best: [TensionFinding] = []
        best.reserveCapacity(limit + 1)
        for finding in findings {
            // Strictly greater only: a later pair never displaces an earlier one with the same score.
            if best.count == limit, let last = best.last, finding.score.score <= last.score.score { continue }
            var position = best.count
            while position > 0 && finding.score.score > best[position - 1].score.score { position -= 1 }
            best.insert(finding, at: position)
            if best.count > limit { best.removeLast() }
        }
        return best
    }
}
