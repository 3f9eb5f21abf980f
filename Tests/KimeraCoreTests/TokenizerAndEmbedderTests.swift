import Foundation
import KimeraModels
import Testing

@testable import KimeraCore

@Suite("Tokenizer")
struct TokenizerTests {
    @Test("tokens are lower-cased runs of letters and digits")
    func lowerCasedRuns() {
        #expect(Tokenizer.tokens("Hello, World! 42 times-2") == ["hello", "world", "42", "times", "2"])
    }

    @Test("an apostrophe splits a word")
    func apostropheSplits() {
        #expect(Tokenizer.tokens("Don't stop") == ["don", "t", "stop"])
    }

    @Test("letters of any script count, accents stay in the token")
    func unicodeLetters() {
        #expect(Tokenizer.tokens("Café ÜBER 東京, naïve") == ["café", "über", "東京", "naïve"])
    }

    @Test("text without letters or digits has no tokens")
    func noTokens() {
        #expect(Tokenizer.tokens("").isEmpty)
        #expect(Tokenizer.tokens(" !?—… ").isEmpty)
    }

    @Test("content tokens drop stop words, keep order and repeats")
    func stopWordsDropped() {
        #expect(Tokenizer.contentTokens("The cat and the hat, the CAT") == ["cat", "hat", "cat"])
    }
}

@Suite("Stable hash and embedder")
struct EmbedderTests {
    @Test("FNV-1a 64 matches the published test vectors")
    func fnvVectors() {
        #expect(StableHash.fnv1a64("") == 0xcbf2_9ce4_8422_2325)
        #expect(StableHash.fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(StableHash.fnv1a64("foobar") == 0x8594_4171_f739_67e8)
    }

    @Test("one token: FNV(\"a\") = 0xaf63…ec8c has its top bit set (sign −1), slot 0x8c = 140")
    func singleTokenPinned() {
        let vector = FeatureHashingEmbedder().embed("A")
        var expected = [Float](repeating: 0, count: 256)
        expected[140] = -1
        #expect(vector == expected)
    }

    @Test("two tokens: unigrams a, b and bigram \"a b\" each weigh 1, normalised to 1/√3")
    func bigramPinned() {
        // FNV("b") → slot 165, sign −1; FNV("a b") = 0xe63f…3892 → slot 146, sign −1.
        let vector = FeatureHashingEmbedder().embed("a b")
        var expected = [Float](repeating: 0, count: 256)
        let component = Float(-1 / 3.0.squareRoot())
        expected[140] = component
        expected[165] = component
        expected[146] = component
        #expect(approximately(vector, expected))
    }

    @Test("a repeated token weighs 1 + ln(tf)")
    func termFrequencyWeight() {
        // "cat" (tf 2) → slot 39, sign −1, weight 1 + ln 2; "cat cat" (tf 1) → slot 231, sign +1, weight 1.
        let vector = FeatureHashingEmbedder().embed("cat cat")
        let weight = 1 + log(2.0)
        let norm = (weight * weight + 1).squareRoot()
        #expect(approximately(Double(vector[39]), -weight / norm, tolerance: 1e-6))
        #expect(approximately(Double(vector[231]), 1 / norm, tolerance: 1e-6))
        #expect(vector.enumerated().allSatisfy { $0.offset == 39 || $0.offset == 231 || $0.element == 0 })
    }

    @Test("embeddings are deterministic, L2-normalised and D long")
    func deterministicAndNormalised() {
        let embedder = FeatureHashingEmbedder(dimensions: 64)
        let text = "Contradictions between geoids become SCARs in two balanced vaults."
        let first = embedder.embed(text)
        #expect(first == embedder.embed(text))
        #expect(first == FeatureHashingEmbedder(dimensions: 64).embed(text))
        #expect(first.count == 64)
        #expect(approximately(Double(VectorMath.norm(first)), 1, tolerance: 1e-6))
        #expect(embedder.identifier == "feature-hashing-fnv1a64-d64")
    }

    @Test("empty text and text without tokens give the zero vector")
    func zeroVector() {
        let embedder = FeatureHashingEmbedder()
        #expect(embedder.embed("") == [Float](repeating: 0, count: 256))
        #expect(embedder.embed("?! …") == [Float](repeating: 0, count: 256))
    }

    @Test("stop words are kept in the embedding")
    func stopWordsEmbedded() {
        let embedder = FeatureHashingEmbedder()
        #expect(embedder.embed("the cat") != embedder.embed("cat"))
    }

    @Test("cosine of hand-made vectors")
    func cosine() {
        #expect(VectorMath.cosine([1, 0, 0], [0.6, 0.8, 0]).map { approximately($0, 0.6, tolerance: 1e-7) } == true)
        #expect(VectorMath.cosine([1, 0], [0, 0]) == nil)
        // 20 components exercises the SIMD loop and its tail.
        let a = (0..<20).map { Float($0) }
        #expect(VectorMath.dot(a, a) == Float((0..<20).reduce(0) { $0 + $1 * $1 }))
    }
}
