import Foundation
import KimeraModels
import Testing

@testable import KimeraCore

@Suite("Semantic diffusion")
struct DiffusionTests {
    @Test("kernel: exp(−k²/2) for k = −3…3 over their sum 2.505949879")
    func kernel() {
        let kernel = SemanticDiffusion.kernel
        #expect(kernel.count == 7)
        #expect(approximately(kernel[3], 1 / 2.505_949_878_974_976_6))
        #expect(approximately(kernel[2], 0.242_036_229_376_114_35))
        #expect(approximately(kernel[0], 0.004_433_048_175_243_746))
        #expect(approximately(kernel.reduce(0, +), 1, tolerance: 1e-15))
    }

    @Test("reflect padding repeats the edge: for 4 values, −1→0, −2→1, 4→3, 5→2; one value maps to itself")
    func reflect() {
        #expect(SemanticDiffusion.reflect(-1, count: 4) == 0)
        #expect(SemanticDiffusion.reflect(-2, count: 4) == 1)
        #expect(SemanticDiffusion.reflect(4, count: 4) == 3)
        #expect(SemanticDiffusion.reflect(5, count: 4) == 2)
        #expect(SemanticDiffusion.reflect(-3, count: 1) == 0)
    }

    @Test("an impulse in the middle of 7 values blurs into the kernel; a constant stays; mass is kept")
    func blur() {
        let impulse = SemanticDiffusion.blur([0, 0, 0, 1, 0, 0, 0])
        #expect(zip(impulse, SemanticDiffusion.kernel).allSatisfy { approximately($0, $1) })
        #expect(SemanticDiffusion.blur([2, 2, 2]).allSatisfy { approximately($0, 2) })
        // [1, 0] padded as 0 0 1 | 1 0 | 0 1 → w−1 + w0 + w3 = 0.6455195572.
        let pair = SemanticDiffusion.blur([1, 0])
        #expect(approximately(pair[0], 0.645_519_557_203_813))
        #expect(approximately(pair[0] + pair[1], 1))
    }

    @Test("diffusion mixes half old, half blurred, in key order")
    func diffuse() {
        let state = SemanticDiffusion.diffuse(["b": 0.5, "a": 0.25, "c": 0.25])
        #expect(approximately(state["b"]!, 0.425_989_547_000_367_8))
        #expect(approximately(state["a"]!, 0.287_005_226_499_816_1))
        #expect(approximately(state["c"]!, 0.287_005_226_499_816_1))
        #expect(approximately(SemanticEntropy.entropy(state), 1.558_147_366_359_047_5))
    }
}

@Suite("Processing tensions")
struct ProcessingTests {
    static let emptyStability = StabilityInputs(scarsInLastHour: 0, newestScarDeltas: [], newestGeoidEmbeddings: [])

    @Test("the designed pair at threshold 0.4 is one tension; its pulse 0.588 with stability 0.5 buffers")
    func designedPairBuffers() throws {
        let operands = DesignedPair.operands()
        let findings = ContradictionProcessing.tensions(among: operands, policy: try TensionPolicy())
        #expect(findings.count == 1)
        var stability = Self.emptyStability
        let resolutions = ContradictionProcessing.resolve(
            findings, operands: operands, stability: &stability, forceCollapse: false, provenance: .contradictionEngine,
            embedder: FeatureHashingEmbedder(), now: Date())
        let resolution = try #require(resolutions.first)
        #expect(approximately(resolution.pulse, 0.588, tolerance: 1e-7))
        #expect(resolution.stability == 0.5)
        #expect(resolution.decision == .buffer)
        #expect(resolution.processed.decision == .buffer)
        #expect(resolution.processed.scarID == resolution.scar.scarID)
        #expect(stability.scarsInLastHour == 1)
    }

    @Test("the pair is no tension above its score")
    func belowThreshold() throws {
        #expect(
            ContradictionProcessing.tensions(among: DesignedPair.operands(), policy: try TensionPolicy(threshold: 0.57))
                .isEmpty)
    }

    @Test("each decision sees the SCARs drafted before it")
    func stabilityMovesWithinARun() throws {
        // Three copies of the pair: 3 pairs a–b tense, a–a and b–b not. Cohesion over [a, b]: cos 0.6 → 0.6.
        var stability = StabilityInputs(
            scarsInLastHour: 0, newestScarDeltas: [], newestGeoidEmbeddings: [[1, 0, 0, 0], [0.6, 0.8, 0, 0]])
        let operands = DesignedPair.operands([DesignedPair.a, DesignedPair.b, DesignedPair.a])
        let findings = ContradictionProcessing.tensions(among: operands, policy: try TensionPolicy())
        #expect(findings.map { [$0.first, $0.second] } == [[0, 1], [1, 2]])
        let resolutions = ContradictionProcessing.resolve(
            findings, operands: operands, stability: &stability, forceCollapse: true, provenance: .contradictionEngine,
            embedder: FeatureHashingEmbedder(), now: Date())
        // First: (0 + 0.6 + 0.5) / 3; second: pressure 0.1, entropic (−0.02 + 1) / 2 = 0.49.
        #expect(approximately(resolutions[0].stability, 1.1 / 3, tolerance: 1e-7))
        #expect(approximately(resolutions[1].stability, (0.1 + 0.6 + 0.49) / 3, tolerance: 1e-7))
        #expect(resolutions.allSatisfy { $0.decision == .collapse })
    }

    @Test("a cognitive cycle diffuses every state, sums entropy, and resolves at most 20 tensions, strongest first")
    func cycle() throws {
        // 8 feature geoids with disjoint keys and orthogonal-ish vectors: every pair is a tension (L = 1 → ≥ 0.3,
        // E ≥ 0.4·…); 28 pairs, 20 SCARs.
        let geoids = (0..<8).map { index -> Geoid in
            var vector = [Float](repeating: 0, count: 8)
            vector[index] = 1
            return Geoid(
                geoidID: "geoid_\(index)", semanticState: ["k\(index)": 0.25, "m\(index)": 0.5, "n\(index)": 0.25],
                symbolicState: [:], metadata: [:], embeddingVector: vector)
        }
        let plan = CognitiveCyclePlan(
            geoids: geoids, policy: try TensionPolicy(), stability: Self.emptyStability,
            embedder: FeatureHashingEmbedder(), now: Date())
        #expect(plan.updates.count == 8)
        #expect(approximately(plan.entropyBefore, 8 * 1.5))
        #expect(approximately(plan.entropyAfter, 8 * 1.558_147_366_359_047_5))
        #expect(plan.tensionsDetected == 28)
        #expect(plan.resolutions.count == 20)
        #expect(
            plan.resolutions.allSatisfy {
                $0.scar.reason == "auto-cycle" && $0.scar.resolvedBy == "KimeraCognitiveCycle"
            })
        // E = 1, L = 1, S = 0 → 0.7 for every pair: ties keep pair order.
        #expect(plan.resolutions.first?.tension.geoidsInvolved == ["geoid_0", "geoid_1"])
        #expect(approximately(plan.resolutions[0].tension.score, 0.7))
    }

    @Test("the cycle keeps the strongest tensions, earlier pairs first among equals")
    func strongestSelection() {
        let findings = [0.5, 0.9, 0.5, 0.9, 0.7].enumerated().map {
            TensionFinding(
                first: $0.offset, second: $0.offset + 1,
                score: TensionScore(embeddingMisalignment: $0.element / 0.4, layerConflict: 0, symbolicOpposition: 0))
        }
        #expect(CognitiveCyclePlan.strongest(findings, limit: 3).map(\.first) == [1, 3, 4])
        #expect(CognitiveCyclePlan.strongest(findings, limit: 0).isEmpty)
        #expect(CognitiveCyclePlan.strongest(findings, limit: 10).map(\.first) == [1, 3, 4, 0, 2])
    }
}
