import Foundation
import KimeraModels
import Testing

@testable import KimeraCore

/// The designed pair of DOMAIN.md's tension formula:
/// E: cos([1,0,0,0], [0.6,0.8,0,0]) = 0.6 → 0.4. L: {x,y} vs {y,z} → 1 − 1/3 = 2/3.
/// S: flag true/false → 1, n 2/−3 → 1, s "Red"/"red" → 0; 2 ÷ 3 common keys = 2/3.
/// score = 0.4·0.4 + 0.3·2/3 + 0.3·2/3 = 0.56. pulse: f = 2 → 0.56 × (1 + 0.5·0.1) = 0.588.
enum DesignedPair {
    static let a = Geoid(
        geoidID: "geoid_a", semanticState: ["x": 1, "y": 1],
        symbolicState: ["flag": .bool(true), "n": .number(2), "s": .string("Red")], metadata: [:],
        embeddingVector: [1, 0, 0, 0])
    static let b = Geoid(
        geoidID: "geoid_b", semanticState: ["y": 1, "z": 1],
        symbolicState: ["flag": .bool(false), "n": .number(-3), "s": .string("red"), "only_b": .number(1)],
        metadata: [:], embeddingVector: [0.6, 0.8, 0, 0])

    static func operands(_ geoids: [Geoid] = [a, b]) -> [TensionOperand] {
        var interner = KeyInterner()
        return geoids.map { TensionOperand($0, interner: &interner) }
    }
}

@Suite("Tension score and pulse")
struct TensionTests {
    @Test("the designed pair: E 0.4, L 2/3, S 2/3, score 0.56")
    func designedPair() {
        let operands = DesignedPair.operands()
        let score = TensionScore.between(operands[0], operands[1])
        #expect(approximately(score.embeddingMisalignment, 0.4, tolerance: 1e-7))
        #expect(approximately(score.layerConflict, 2.0 / 3))
        #expect(approximately(score.symbolicOpposition, 2.0 / 3))
        #expect(approximately(score.score, 0.56, tolerance: 1e-7))
        let tension = score.tension("geoid_a", "geoid_b")
        #expect(tension.geoidsInvolved == ["geoid_a", "geoid_b"])
        #expect(tension.score == score.score)
    }

    @Test("pulse = min(1, score × (1 + 0.5 × min(f ÷ 20, 1)))")
    func pulse() {
        #expect(approximately(TensionPolicy.pulse(score: 0.56, featureCountA: 2, featureCountB: 2), 0.588))
        #expect(approximately(TensionPolicy.pulse(score: 0.5, featureCountA: 10, featureCountB: 30), 0.75))
        #expect(TensionPolicy.pulse(score: 0.9, featureCountA: 40, featureCountB: 40) == 1)
        #expect(TensionPolicy.pulse(score: 0.4, featureCountA: 0, featureCountB: 0) == 0.4)
    }

    @Test("E: 0 for an empty vector, 1 for a zero vector, never negative")
    func embeddingEdges() {
        var geoid = DesignedPair.a
        geoid.embeddingVector = []
        #expect(
            TensionScore.between(DesignedPair.operands([geoid, DesignedPair.b])[0], DesignedPair.operands()[1])
                .embeddingMisalignment == 0)
        geoid.embeddingVector = [0, 0, 0, 0]
        let zero = DesignedPair.operands([geoid, DesignedPair.b])
        #expect(TensionScore.embeddingMisalignment(zero[0], zero[1]) == 1)
        let same = DesignedPair.operands([DesignedPair.a, DesignedPair.a])
        #expect(TensionScore.embeddingMisalignment(same[0], same[1]) == 0)
        var opposite = DesignedPair.a
        opposite.embeddingVector = [-1, 0, 0, 0]
        let far = DesignedPair.operands([DesignedPair.a, opposite])
        #expect(TensionScore.embeddingMisalignment(far[0], far[1]) == 1)
    }

    @Test("L: Jaccard distance, 0 when both key sets are empty")
    func layerConflict() {
        #expect(TensionScore.layerConflict([], []) == 0)
        #expect(TensionScore.layerConflict([1, 2], []) == 1)
        #expect(TensionScore.layerConflict([1, 2, 3], [2, 3, 4]) == 0.5)
    }

    @Test("S: booleans 1, opposite non-zero numbers 1, strings differing ignoring case 0.5, else 0")
    func symbolicOpposition() {
        #expect(TensionScore.symbolicOpposition(["k": .string("Yes")], ["k": .string("no")]) == 0.5)
        #expect(TensionScore.symbolicOpposition(["k": .number(0)], ["k": .number(-1)]) == 0)
        #expect(TensionScore.symbolicOpposition(["k": .number(1)], ["k": .string("1")]) == 0)
        #expect(TensionScore.symbolicOpposition(["a": .bool(true)], ["b": .bool(false)]) == 0)
        #expect(
            TensionScore.symbolicOpposition(
                ["a": .bool(true), "b": .number(4), "c": .string("x"), "d": .null],
                ["a": .bool(false), "b": .number(-4), "c": .string("y"), "d": .null]) == 2.5 / 4)
    }

    @Test("a score equal to the threshold is a tension; the threshold must lie in [0, 1]")
    func threshold() throws {
        let policy = try TensionPolicy(threshold: 0.56)
        let exact = TensionScore(embeddingMisalignment: 0.4, layerConflict: 2.0 / 3, symbolicOpposition: 2.0 / 3)
        #expect(
            policy.isTension(TensionScore(embeddingMisalignment: 1, layerConflict: 0, symbolicOpposition: 0)) == false)
        #expect(try TensionPolicy(threshold: exact.score).isTension(exact))
        #expect(throws: DomainError.self) { try TensionPolicy(threshold: 1.5) }
        #expect(throws: DomainError.self) { try TensionPolicy(threshold: -0.1) }
        #expect(try TensionPolicy().threshold == 0.4)
    }
}

@Suite("Decision rule")
struct DecisionTests {
    @Test(
        "each branch at its boundaries",
        arguments: [
            (0.29, 0.99, ContradictionDecision.buffer),
            (0.3, 0.61, .surge), (0.3, 0.6, .buffer), (0.69, 0.65, .surge), (0.5, 0.1, .buffer),
            (0.7, 0.71, .surge), (0.7, 0.7, .buffer), (0.7, 0.3, .buffer), (0.7, 0.29, .collapse),
            (1.0, 0.0, .collapse),
        ])
    func branches(pulse: Double, stability: Double, expected: ContradictionDecision) {
        #expect(ContradictionDecision.decide(pulse: pulse, stability: stability, forceCollapse: false) == expected)
    }

    @Test("force_collapse wins over everything")
    func forced() {
        #expect(ContradictionDecision.decide(pulse: 0, stability: 1, forceCollapse: true) == .collapse)
    }

    @Test("entropy deltas: collapse −0.02, surge +0.05, buffer +0.02")
    func deltas() {
        #expect(ContradictionDecision.collapse.entropyDelta == -0.02)
        #expect(ContradictionDecision.surge.entropyDelta == 0.05)
        #expect(ContradictionDecision.buffer.entropyDelta == 0.02)
    }
}

@Suite("Stability metrics")
struct StabilityTests {
    @Test("5 recent SCARs, three embeddings, four deltas")
    func handComputed() {
        // pressure 5/10; distances (e1,e2)=1, (e1,e3)=0, (e2,e3)=1 → cohesion 1 − 2/3;
        // deltas mean 0.1/4 = 0.025 → entropic 0.5125; stability (0.5 + 1/3 + 0.5125)/3 = 0.4486111.
        let metrics = StabilityReport(
            StabilityInputs(
                scarsInLastHour: 5, newestScarDeltas: [0.05, -0.02, 0.02, 0.05],
                newestGeoidEmbeddings: [[1, 0], [0, 1], [1, 0]]))
        #expect(metrics.vaultPressure == 0.5)
        #expect(approximately(metrics.semanticCohesion, 1.0 / 3))
        #expect(approximately(metrics.entropicStability, 0.5125))
        #expect(approximately(metrics.stability, 0.448_611_111_111_111_1))
        #expect(metrics.axisConvergence == metrics.semanticCohesion)
        #expect(metrics.vaultResonance == 0.5)
    }

    @Test("empty vault: pressure 0, cohesion 1, entropic 0.5, stability 0.5; pressure caps at 1")
    func empty() {
        let metrics = StabilityReport(
            StabilityInputs(scarsInLastHour: 0, newestScarDeltas: [], newestGeoidEmbeddings: []))
        #expect(metrics.vaultPressure == 0)
        #expect(metrics.semanticCohesion == 1)
        #expect(metrics.entropicStability == 0.5)
        #expect(metrics.stability == 0.5)
        #expect(
            StabilityReport(StabilityInputs(scarsInLastHour: 25, newestScarDeltas: [], newestGeoidEmbeddings: []))
                .vaultPressure == 1)
    }

    @Test("cohesion is clamped at 0 for opposite vectors; a zero vector is distance 1")
    func cohesionEdges() {
        #expect(StabilityReport.cohesion([[1, 0], [-1, 0]]) == 0)
        #expect(StabilityReport.cohesion([[1, 0], [0, 0]]) == 0)
        #expect(StabilityReport.cohesion([[1, 0]]) == 1)
    }

    @Test("recording a drafted SCAR counts it and keeps the 20 newest deltas")
    func record() {
        var inputs = StabilityInputs(
            scarsInLastHour: 3, newestScarDeltas: Array(repeating: 0.02, count: 20), newestGeoidEmbeddings: [])
        inputs.record(scarDelta: -0.02)
        #expect(inputs.scarsInLastHour == 4)
        #expect(inputs.newestScarDeltas.count == 20)
        #expect(inputs.newestScarDeltas.first == -0.02)
    }
}

@Suite("SCAR construction")
struct ScarConstructionTests {
    // a = {x: .5, y: .5} (H 1, mean .5); b = {p, q, r, s: 1} (H 2, mean 1).
    let a = Geoid(
        geoidID: "geoid_a", semanticState: ["x": 0.5, "y": 0.5], symbolicState: [:], metadata: [:],
        embeddingVector: [1, 0])
    let b = Geoid(
        geoidID: "geoid_b", semanticState: ["p": 1, "q": 1, "r": 1, "s": 1], symbolicState: [:], metadata: [:],
        embeddingVector: [0, 1])

    func draft(_ decision: ContradictionDecision, _ provenance: ScarProvenance = .contradictionEngine) -> ScarDraft {
        let operands = DesignedPair.operands([a, b])
        return ScarConstruction.draft(
            a: operands[0], b: operands[1], score: 0.56, decision: decision, provenance: provenance,
            embedder: FeatureHashingEmbedder(), now: Date(timeIntervalSince1970: 1_700_000_000))
    }

    @Test("surge: every field by the formulas")
    func surge() {
        let scar = draft(.surge)
        #expect(KimeraID.isWellFormed(scar.scarID, prefix: "scar"))
        #expect(scar.geoids == ["geoid_a", "geoid_b"])
        #expect(scar.reason == "Surged 'pairwise_composite' tension.")
        #expect(scar.resolvedBy == "ContradictionEngine:Surge")
        #expect(approximately(scar.preEntropy, 3))
        #expect(approximately(scar.postEntropy, 3.05))
        #expect(scar.deltaEntropy == 0.05)
        #expect(approximately(scar.clsAngle, 32.085_636_527_326_1))
        #expect(scar.semanticPolarity == -0.5)
        #expect(scar.mutationFrequency == 0.56)
        #expect(scar.weight == 1)
        #expect(scar.timestamp == "2023-11-14T22:13:20.000000Z")
        #expect(scar.createdAt == 1_700_000_000)
        #expect(scar.embeddedText == "surge contradiction between 'x, y' and 'p, q, r, s'")
        #expect(scar.embedding == FeatureHashingEmbedder().embed(scar.embeddedText))
        #expect(scar.placed(in: .vaultB).vaultID == .vaultB)
    }

    @Test("collapse and buffer: their reason, resolver and entropy change")
    func collapseAndBuffer() {
        let collapse = draft(.collapse)
        #expect(collapse.reason == "Collapsed 'pairwise_composite' tension.")
        #expect(collapse.resolvedBy == "ContradictionEngine:Collapse")
        #expect(approximately(collapse.postEntropy, 2.98))
        let buffer = draft(.buffer)
        #expect(buffer.reason == "Buffered 'pairwise_composite' tension.")
        #expect(buffer.resolvedBy == "ContradictionEngine:Buffer")
        #expect(approximately(buffer.postEntropy, 3.02))
    }

    @Test("the cognitive cycle's SCARs say auto-cycle")
    func cycleProvenance() {
        let scar = draft(.buffer, .cognitiveCycle)
        #expect(scar.reason == "auto-cycle")
        #expect(scar.resolvedBy == "KimeraCognitiveCycle")
    }

    @Test("polarity of an empty state is 0")
    func emptyMean() {
        #expect(ScarConstruction.mean([:]) == 0)
    }
}
