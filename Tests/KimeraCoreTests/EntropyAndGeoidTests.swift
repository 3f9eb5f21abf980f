import Foundation
import KimeraModels
import Testing

@testable import KimeraCore

@Suite("Entropy")
struct EntropyTests {
    @Test("two equal weights: 1 bit; four: 2 bits")
    func uniform() {
        #expect(approximately(SemanticEntropy.entropy(["a": 1, "b": 1]), 1))
        #expect(approximately(SemanticEntropy.entropy(["a": 0.3, "b": 0.3, "c": 0.3, "d": 0.3]), 2))
    }

    @Test("weights 1 and 3: −(¼·log₂¼ + ¾·log₂¾) = 0.8112781245")
    func skewed() {
        #expect(approximately(SemanticEntropy.entropy(["a": 1, "b": 3]), 0.811_278_124_459_132_8))
    }

    @Test("empty state, zero or negative sum: 0")
    func degenerate() {
        #expect(SemanticEntropy.entropy([:]) == 0)
        #expect(SemanticEntropy.entropy(["a": 0, "b": 0]) == 0)
        #expect(SemanticEntropy.entropy(["a": -1, "b": 1]) == 0)
    }

    @Test("a state below 0.1 bits gets entropy_baseline 0.1; H({1, 0.1}) = 0.4394969869")
    func baseline() {
        let stored = SemanticEntropy.withBaseline(["a": 1])
        #expect(stored == ["a": 1, "entropy_baseline": 0.1])
        #expect(approximately(SemanticEntropy.entropy(stored), 0.439_496_986_921_513_4))
        #expect(SemanticEntropy.withBaseline(["a": 1, "b": 1]) == ["a": 1, "b": 1])
    }
}

@Suite("Geoid construction")
struct GeoidConstructionTests {
    @Test("text form: token shares of the non-stop words plus complexity = characters ÷ 100")
    func textForm() throws {
        // 35 characters; content tokens cat ×2, sat, mat → 2/4, 1/4, 1/4.
        let draft = try GeoidConstruction.draft(content: "the cat sat on the mat with the cat")
        #expect(draft.semanticState == ["cat": 0.5, "sat": 0.25, "mat": 0.25, "complexity": 0.35])
        #expect(draft.symbolicState.isEmpty)
        #expect(draft.embeddedText == "the cat sat on the mat with the cat")
    }

    @Test("text form keeps the 16 most frequent tokens, ties alphabetical, complexity capped at 1")
    func topSixteen() throws {
        // w00…w19 once each plus "zz" three times: zz first, then w00…w14 (alphabetical); 18 occurrences.
        let words = (0..<20).map { String(format: "w%02d", $0) } + ["zz", "zz", "zz"]
        let text = words.joined(separator: " ") + String(repeating: " ", count: 100)
        let state = GeoidConstruction.textSemanticState(text)
        #expect(state.count == 17)
        #expect(approximately(state["zz"]!, 3.0 / 18))
        #expect(approximately(state["w14"]!, 1.0 / 18))
        #expect(state["w15"] == nil)
        #expect(state["complexity"] == 1)
    }

    @Test("feature form: embedded text is sorted key:value with 2 decimals")
    func featureForm() throws {
        let draft = try GeoidConstruction.draft(
            semanticFeatures: ["b": .number(0.5), "a": .number(1)], symbolicContent: ["flag": .bool(true)],
            metadata: ["source": .string("test")])
        #expect(draft.semanticState == ["a": 1, "b": 0.5])
        #expect(draft.embeddedText == "a:1.00 b:0.50")
        #expect(draft.symbolicState == ["flag": .bool(true)])
        #expect(draft.metadata == ["source": .string("test")])
    }

    @Test("a feature that is not a number is named in the error")
    func invalidFeature() {
        #expect(throws: DomainError.invalidFeature(name: "mood", found: "the string \"happy\"")) {
            try GeoidConstruction.draft(semanticFeatures: ["ok": .number(1), "mood": .string("happy")])
        }
        #expect(DomainError.invalidFeature(name: "mood", found: "x").field == "semantic_features")
    }

    @Test("neither form is an invalid input on content")
    func neitherForm() {
        #expect(throws: DomainError.self) { try GeoidConstruction.draft(metadata: [:]) }
        do {
            _ = try GeoidConstruction.draft()
        } catch {
            #expect(error.field == "content")
            #expect(error.message.contains("semantic_features"))
        }
    }

    @Test("echoform_text alone is parsed into symbolic_state and is also the text")
    func echoformOnly() throws {
        let draft = try GeoidConstruction.draft(echoformText: "(assert (red apple))")
        #expect(
            draft.symbolicState["echoform"] == .array([.string("assert"), .array([.string("red"), .string("apple")])]))
        #expect(draft.semanticState["assert"] == 1.0 / 3)
        #expect(draft.semanticState["complexity"] == 0.2)
    }

    @Test("ids are geoid_ / scar_ plus 32 lowercase hex digits")
    func idShape() {
        let id = KimeraID.make("geoid")
        #expect(KimeraID.isWellFormed(id, prefix: "geoid"))
        #expect(id.count == 38)
        #expect(!KimeraID.isWellFormed("geoid_XYZ", prefix: "geoid"))
        #expect(KimeraID.make("scar") != KimeraID.make("scar"))
    }

    @Test("SCAR timestamps are ISO-8601 UTC with microseconds")
    func timestamp() {
        #expect(KimeraTimestamp.iso8601(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000000Z")
        #expect(
            KimeraTimestamp.iso8601(Date(timeIntervalSince1970: 1_709_210_096.25))
                == "2024-02-29T12:34:56.250000Z")
    }
}
