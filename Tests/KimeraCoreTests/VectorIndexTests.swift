import KimeraModels
import Testing

@testable import KimeraCore

@Suite("In-memory vector ranking")
struct VectorIndexTests {
    static func index() -> VectorIndex {
        var index = VectorIndex(dimensions: 3)
        index.upsert(id: "a", vector: [1, 0, 0])
        index.upsert(id: "b", vector: [0.6, 0.8, 0])
        index.upsert(id: "d", vector: [0, 0, 0])
        index.upsert(id: "c", vector: [0, 0, 1])
        index.upsert(id: "e", vector: [-1, 0, 0])
        return index
    }

    @Test("ranks by cosine, best first; equal scores by id")
    func ranking() {
        let hits = Self.index().nearest(to: [1, 0, 0], limit: 10)
        #expect(hits.map(\.id) == ["a", "b", "c", "d", "e"])
        #expect(hits.map(\.score) == [1, Double(Float(0.6)), 0, 0, -1])
    }

    @Test("the query need not be normalised; limit and exclusions apply")
    func limitAndExclusions() {
        let index = Self.index()
        #expect(index.nearest(to: [2, 0, 0], limit: 2).map(\.id) == ["a", "b"])
        #expect(index.nearest(to: [2, 0, 0], limit: 2, excluding: ["a"]).map(\.id) == ["b", "c"])
        #expect(index.nearest(to: [0, 0, 0], limit: 2).map(\.score) == [0, 0])
        #expect(index.nearest(to: [1, 0, 0], limit: 0).isEmpty)
    }

    @Test("removal moves the last row into the hole and ranking stays right")
    func removal() {
        var index = Self.index()
        let removed = index.remove(id: "a")
        let removedAgain = index.remove(id: "a")
        #expect(removed && !removedAgain)
        #expect(index.count == 4)
        #expect(index.nearest(to: [0, 0, 1], limit: 1).map(\.id) == ["c"])
        #expect(index.nearest(to: [1, 0, 0], limit: 1).map(\.id) == ["b"])
        index.upsert(id: "b", vector: [0, 0, -1])
        #expect(index.nearest(to: [0, 0, -1], limit: 1).first == SimilarityHit(id: "b", score: 1))
        #expect(index.count == 4)
    }

    @Test("real embeddings: the score is the cosine of the two texts' vectors")
    func realEmbeddings() {
        let embedder = FeatureHashingEmbedder()
        let texts = [
            "one": "red apples grow on apple trees",
            "two": "green apples and red cherries",
            "three": "database transactions commit to disk",
        ]
        var index = VectorIndex(dimensions: 256)
        for (id, text) in texts { index.upsert(id: id, vector: embedder.embed(text)) }
        let query = embedder.embed("red apple trees")
        let hits = index.nearest(to: query, limit: 3)
        #expect(hits.first?.id == "one")
        for hit in hits {
            let expected = VectorMath.cosine(query, embedder.embed(texts[hit.id]!)) ?? 0
            #expect(approximately(hit.score, expected, tolerance: 1e-6))
        }
        #expect(hits.map(\.score) == hits.map(\.score).sorted(by: >))
    }

    /// A search ranks a snapshot taken under the owner's lock and released at once: writes made while it
    /// ranks neither wait for it nor change its result (removal across chunk boundaries included).
    @Test func searchSnapshotIsUnaffectedByLaterWrites() {
        let embedder = FeatureHashingEmbedder()
        var index = VectorIndex(dimensions: 256)
        let rows = VectorIndex.rowsPerChunk * 2 + 17
        for row in 0..<rows { index.upsert(id: "g\(row)", vector: embedder.embed("geoid number \(row) of \(row % 7)")) }
        let query = embedder.embed("geoid number 5 of 5")
        let snapshot = index.snapshot
        let before = snapshot.nearest(to: query, limit: 3)
        #expect(before.first?.id == "g5")
        index.upsert(id: "new", vector: query)
        let removedFive = index.remove(id: "g5")
        let removedZero = index.remove(id: "g0")
        #expect(removedFive && removedZero)
        #expect(snapshot.nearest(to: query, limit: 3) == before)
        #expect(snapshot.count == rows)
        #expect(index.count == rows - 1)
        #expect(index.nearest(to: query, limit: 1).first?.id == "new")
        // Every remaining row is still found by its own vector after the moves.
        for row in [1, 2, VectorIndex.rowsPerChunk, rows - 1] {
            let vector = embedder.embed("geoid number \(row) of \(row % 7)")
            #expect(index.nearest(to: vector, limit: 1).first?.id == "g\(row)")
        }
    }
}
