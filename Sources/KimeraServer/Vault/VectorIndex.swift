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

/// Every stored vector in memory, in one contiguous row-major `[Float]` (`dimensions` per row), with an id
/// per row: the search path reads memory sequentially and never touches the database.
///
/// Unbounded by design: it holds exactly the committed rows (≈ 1 KiB per geoid at 256 dimensions, so
/// 100k geoids ≈ 100 MiB); `count` and `bytes` report its fill. Removal moves the last row into the hole,
/// so row order is arbitrary; ties in ranking are broken by id, which keeps results deterministic.
public struct VectorIndex: Sendable {
    public let dimensions: Int
    private(set) var ids: [String] = []
    private var vectors: [Float] = []
    private var norms: [Float] = []
    private var rows: [String: Int] = [:]

    public init(dimensions: Int) {
        precondition(dimensions > 0, "vector dimensions must be positive")
        self.dimensions = dimensions
    }

    public var count: Int { ids.count }
    /// Memory held by the vectors and norms.
    public var bytes: Int { (vectors.capacity + norms.capacity) * MemoryLayout<Float>.stride }

    public func contains(_ id: String) -> Bool { rows[id] != nil }

    public mutating func reserveCapacity(_ count: Int) {
        ids.reserveCapacity(count)
        vectors.reserveCapacity(count * dimensions)
        norms.reserveCapacity(count)
        rows.reserveCapacity(count)
    }

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
            row = ids.count
            ids.append(id)
            rows[id] = row
            vectors.append(contentsOf: repeatElement(0, count: dimensions))
            norms.append(0)
        }
        let start = row * dimensions
        var squares: Float = 0
        for index in 0..<dimensions {
            let value = index < used ? components[index] : 0
            vectors[start + index] = value
            squares += value * value
        }
        norms[row] = squares.squareRoot()
    }

    /// Removes `id`; returns whether it was there.
    @discardableResult
    public mutating func remove(id: String) -> Bool {
        guard let row = rows.removeValue(forKey: id) else { return false }
        let last = ids.count - 1
        if row != last {
            let movedID = ids[last]
            ids[row] = movedID
            rows[movedID] = row
            norms[row] = norms[last]
            let from = last * dimensions
            let to = row * dimensions
            for index in 0..<dimensions { vectors[to + index] = vectors[from + index] }
        }
        ids.removeLast()
        norms.removeLast()
        vectors.removeLast(dimensions)
        return true
    }

    /// The `limit` rows most similar to `query` by cosine similarity, best first (ties: smaller id first),
    /// leaving out `excluding`.
    public func nearest(to query: [Float], limit: Int, excluding: Set<String> = []) -> [SimilarityHit] {
        guard limit > 0, !ids.isEmpty else { return [] }
        var padded = [Float](repeating: 0, count: dimensions)
        for index in 0..<min(query.count, dimensions) { padded[index] = query[index] }
        let queryNorm = VectorMath.norm(padded)
        // Ask for the excluded ones too, then drop them: cheaper than a set lookup per row.
        let wanted = min(limit + excluding.count, ids.count)
        var best: [(score: Float, row: Int)] = []
        best.reserveCapacity(wanted + 1)

        func isBetter(_ score: Float, _ row: Int, than other: (score: Float, row: Int)) -> Bool {
            score > other.score || (score == other.score && ids[row] < ids[other.row])
        }

        vectors.withUnsafeBufferPointer { vectorBuffer in
            padded.withUnsafeBufferPointer { queryBuffer in
                norms.withUnsafeBufferPointer { normBuffer in
                    guard let base = vectorBuffer.baseAddress, let queryBase = queryBuffer.baseAddress else { return }
                    for row in 0..<ids.count {
                        let rowNorm = normBuffer[row]
                        var score: Float = 0
                        if queryNorm > 0 && rowNorm > 0 {
                            score =
                                VectorMath.dot(queryBase, base + row * dimensions, count: dimensions)
                                / (queryNorm * rowNorm)
                        }
                        if best.count == wanted {
                            guard isBetter(score, row, than: best[wanted - 1]) else { continue }
                            best.removeLast()
                        }
                        var position = best.count
                        while position > 0 && isBetter(score, row, than: best[position - 1]) { position -= 1 }
                        best.insert((score, row), at: position)
                    }
                }
            }
        }
        return best.lazy.filter { !excluding.contains(self.ids[$0.row]) }.prefix(limit).map {
            SimilarityHit(id: ids[$0.row], score: min(max(Double($0.score), -1), 1))
        }
    }
}
