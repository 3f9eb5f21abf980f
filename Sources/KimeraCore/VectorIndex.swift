import KimeraModels

/// One ranked search hit: an id and its cosine similarity with the query.
public struct SimilarityHit: Sendable, Equatable {
    public var id: String
    /// cos(query, vector) in [-1, 1]; 0 when either vector is all zeros.
    public var score: Double

    public init(id: String, score: Double) {
        self.id = id
        self.score = score
    }
}

/// Every stored vector in memory, in chunks of contiguous row-major `[Float]` (`dimensions` per row), with
/// an id per row: the search path reads memory sequentially and never touches the database.
///
/// Searching works on a `Snapshot`, which the owner takes under its lock (an O(chunks) copy of references)
/// and then ranks outside it, so a search over 100k rows never holds writers up. The storage is chunked so
/// that a write while a snapshot is alive copies one chunk (`rowsPerChunk` rows), not every vector.
///
/// Unbounded by design: it holds exactly the committed rows (≈ 1 KiB per geoid at 256 dimensions, so
/// 100k geoids ≈ 100 MiB); `count` and `bytes` report its fill. Removal moves the last row into the hole,
/// so row order is arbitrary; ties in ranking are broken by id, which keeps results deterministic.
public struct VectorIndex: Sendable {
    /// Rows per chunk: 1024 rows of 256 floats is 1 MiB, the most one write may copy.
    public static let rowsPerChunk = 1024

    struct Chunk: Sendable {
        var ids: [String] = []
        var vectors: [Float] = []
        var norms: [Float] = []
    }

    public let dimensions: Int
    private var chunks: [Chunk] = []
    /// Row number of every id; never shared with a snapshot, so writes never copy it.
    private var rows: [String: Int] = [:]
    private var rowCount = 0

    public init(dimensions: Int) {
        precondition(dimensions > 0, "vector dimensions must be positive")
        self.dimensions = dimensions
    }

    public var count: Int { rowCount }
    /// Memory held by the vectors and norms.
    public var bytes: Int {
        chunks.reduce(0) { $0 + ($1.vectors.capacity + $1.norms.capacity) * MemoryLayout<Float>.stride }
    }

    public func contains(_ id: String) -> Bool { rows[id] != nil }

    public mutating func reserveCapacity(_ count: Int) {
        rows.reserveCapacity(count)
    }

    /// What a search reads: the chunks as they are now. Cheap to take; later writes do not change it.
    public var snapshot: Snapshot { Snapshot(dimensions: dimensions, chunks: chunks) }

    /// Adds or replaces `id`'s vector. A vector of another length is zero-padded or cut to `dimensions`
    /// (the vault re-embeds on a change of embedder, so this only guards against a corrupt row).
    public mutating func upsert(id: String, vector: [Float]) {
        vector.withUnsafeBufferPointer { upsert(id: id, components: $0) }
    }

    /// The same from raw little-endian Float32 bytes, as the vault stores them.
    public mutating func upsert(id: String, bytes: UnsafeRawBufferPointer) {
        let available = bytes.count / MemoryLayout<Float>.size
        var row = [Float](repeating: 0, count: dimensions)
        for index in 0..<min(available, dimensions) {
            row[index] = bytes.loadUnaligned(fromByteOffset: index * MemoryLayout<Float>.size, as: Float.self)
        }
        upsert(id: id, vector: row)
    }

    private mutating func upsert(id: String, components: UnsafeBufferPointer<Float>) {
        let used = min(components.count, dimensions)
        let row: Int
        if let existing = rows[id] {
            row = existing
        } else {
            row = rowCount
            rowCount += 1
            rows[id] = row
            if row / Self.rowsPerChunk == chunks.count { chunks.append(Chunk()) }
            let chunk = row / Self.rowsPerChunk
            chunks[chunk].ids.append(id)
            chunks[chunk].vectors.append(contentsOf: repeatElement(0, count: dimensions))
            chunks[chunk].norms.append(0)
        }
        let (chunk, offset) = row.quotientAndRemainder(dividingBy: Self.rowsPerChunk)
        let start = offset * dimensions
        var squares: Float = 0
        for index in 0..<dimensions {
            let value = index < used ? components[index] : 0
            chunks[chunk].vectors[start + index] = value
            squares += value * value
        }
        chunks[chunk].norms[offset] = squares.squareRoot()
    }

    /// Removes `id`; returns whether it was there.
    @discardableResult
    public mutating func remove(id: String) -> Bool {
        guard let row = rows.removeValue(forKey: id) else { return false }
        let last = rowCount - 1
        let (lastChunk, lastOffset) = last.quotientAndRemainder(dividingBy: Self.rowsPerChunk)
        if row != last {
            let (chunk, offset) = row.quotientAndRemainder(dividingBy: Self.rowsPerChunk)
            let movedID = chunks[lastChunk].ids[lastOffset]
            chunks[chunk].ids[offset] = movedID
            rows[movedID] = row
            chunks[chunk].norms[offset] = chunks[lastChunk].norms[lastOffset]
            let from = lastOffset * dimensions
            let to = offset * dimensions
            for index in 0..<dimensions {
                chunks[chunk].vectors[to + index] = chunks[lastChunk].vectors[from + index]
            }
        }
        chunks[lastChunk].ids.removeLast()
        chunks[lastChunk].norms.removeLast()
        chunks[lastChunk].vectors.removeLast(dimensions)
        if chunks[lastChunk].ids.isEmpty { chunks.removeLast() }
        rowCount -= 1
        return true
    }

    /// The `limit` rows most similar to `query` by cosine similarity, best first (ties: smaller id first),
    /// leaving out `excluding`.
    public func nearest(to query: [Float], limit: Int, excluding: Set<String> = []) -> [SimilarityHit] {
        snapshot.nearest(to: query, limit: limit, excluding: excluding)
    }

    /// The rows of an index at one moment, ranked without any lock.
    public struct Snapshot: Sendable {
        public let dimensions: Int
        let chunks: [Chunk]

        public var count: Int { chunks.reduce(0) { $0 + $1.ids.count } }

        /// The `limit` rows most similar to `query` by cosine similarity, best first (ties: smaller id
        /// first), leaving out `excluding`.
        public func nearest(to query: [Float], limit: Int, excluding: Set<String> = []) -> [SimilarityHit] {
            let total = count
            guard limit > 0, total > 0 else { return [] }
            var padded = [Float](repeating: 0, count: dimensions)
            for index in 0..<min(query.count, dimensions) { padded[index] = query[index] }
            let queryNorm = VectorMath.norm(padded)
            // Ask for the excluded ones too, then drop them: cheaper than a set lookup per row.
            let wanted = min(limit + excluding.count, total)
            var best: [(score: Float, id: String)] = []
            best.reserveCapacity(wanted + 1)

            func isBetter(_ score: Float, _ id: String, than other: (score: Float, id: String)) -> Bool {
                score > other.score || (score == other.score && id < other.id)
            }

            padded.withUnsafeBufferPointer { queryBuffer in
                guard let queryBase = queryBuffer.baseAddress else { return }
                for chunk in chunks {
                    chunk.vectors.withUnsafeBufferPointer { vectorBuffer in
                        chunk.norms.withUnsafeBufferPointer { normBuffer in
                            guard let base = vectorBuffer.baseAddress else { return }
                            for row in 0..<chunk.ids.count {
                                let rowNorm = normBuffer[row]
                                var score: Float = 0
                                if queryNorm > 0 && rowNorm > 0 {
                                    score =
                                        VectorMath.dot(queryBase, base + row * dimensions, count: dimensions)
                                        / (queryNorm * rowNorm)
                                }
                                if best.count == wanted {
                                    guard isBetter(score, chunk.ids[row], than: best[wanted - 1]) else { continue }
                                    best.removeLast()
                                }
                                let id = chunk.ids[row]
                                var position = best.count
                                while position > 0 && isBetter(score, id, than: best[position - 1]) { position -= 1 }
                                best.insert((score, id), at: position)
                            }
                        }
                    }
                }
            }
            return best.lazy.filter { !excluding.contains($0.id) }.prefix(limit).map {
                SimilarityHit(id: $0.id, score: min(max(Double($0.score), -1), 1))
            }
        }
    }
}
