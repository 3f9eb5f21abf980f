import Foundation
import KimeraModels

/// JSON request bodies: every input is decoded, as the server does, into each request model of
/// Sources/KimeraModels; what decodes goes through the pure validation and computation that follows in the
/// server (geoid drafts, embeddings and entropy, statistics), and the response it would send must encode as
/// JSON (a value JSON cannot carry is a 500; for an answer whose type is generated, its numbers must be
/// finite) and obey the documented rules. Never a trap.

let decoder = JSONDecoder()
let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
}()
let embedder = FeatureHashingEmbedder()

func mustEncode(_ value: some Encodable, _ what: @autoclosure () -> String) {
    do { _ = try encoder.encode(value) } catch { check(false, "\(what()) cannot be encoded as JSON: \(error)") }
}

/// The numbers of an answer whose wire type is generated (KimeraAPI, not compiled here): JSON carries only
/// finite ones, so a value that is not finite would be a 500.
func mustBeFinite(_ numbers: [Double], _ what: @autoclosure () -> String) {
    check(numbers.allSatisfy(\.isFinite), "\(what()) holds a number JSON cannot carry")
}

func checkEmbedding(_ vector: [Float], _ what: String) {
    check(vector.count == embedder.dimensions, "\(what): \(vector.count) dimensions")
    let norm = VectorMath.norm(vector)
    check(norm == 0 || abs(norm - 1) < 1e-3, "\(what): norm \(norm)")
}

/// `KimeraService.createGeoid` without the store.
func createGeoid(_ request: CreateGeoidRequest, _ source: String) {
    guard var draft = try? GeoidConstruction.draft(from: request) else { return }
    draft.semanticState = SemanticEntropy.withBaseline(draft.semanticState)
    let entropy = SemanticEntropy.entropy(draft.semanticState)
    check(entropy.isFinite, "entropy \(entropy) of \(source)")
    let vector = embedder.embed(draft.embeddedText)
    checkEmbedding(vector, source)
    let geoid = Geoid(
        geoidID: KimeraID.make("geoid"), semanticState: draft.semanticState, symbolicState: draft.symbolicState,
        metadata: draft.metadata, embeddingVector: vector)
    mustEncode(CreateGeoidResponse(geoid: geoid, entropy: entropy), "the geoid of \(source)")
}

/// `KimeraService.embed` and `semanticFeatures` without the store.
func embed(_ request: EmbedRequest, _ source: String) {
    let features = TextFeatures(text: request.text, embedder: embedder)
    let embedding = features.embedding
    checkEmbedding(embedding.vector, source)
    mustBeFinite(
        embedding.vector.map(Double.init) + [embedding.norm, embedding.min, embedding.max, embedding.mean]
            + features.semanticState.values + [features.entropy], "the embedding of \(source)")
}

func analyze(_ request: AnalyzeRequest, _ source: String) {
    guard let response = try? StatisticsAnalysis.analyze(request) else { return }
    mustBeFinite(
        [response.mean, response.median, response.std, response.min, response.max]
            + [response.skewness, response.kurtosis].compactMap { $0 } + (response.histogram?.bins ?? []),
        "the analysis of \(source)")
    let data = request.data
    let low = data.min()!, high = data.max()!
    check(response.count == data.count && response.min == low && response.max == high, "count/min/max of \(source)")
    check(low <= response.median && response.median <= high, "median \(response.median) of \(source)")
    // The mean may round past the extremes by a few ulps, never more.
    let slack = Swift.max(abs(low), abs(high)) * 1e-12
    check(response.mean >= low - slack && response.mean <= high + slack, "mean \(response.mean) of \(source)")
    check(response.std >= 0, "std \(response.std) of \(source)")
    guard let histogram = response.histogram else {
        check(response.analysisType == .basic, "no histogram for \(source)")
        return
    }
    check(histogram.counts.count == 10 && histogram.bins.count == 11, "histogram shape of \(source)")
    check(histogram.counts.reduce(0, +) == data.count, "histogram counts \(histogram.counts) of \(source)")
    check(zip(histogram.bins, histogram.bins.dropFirst()).allSatisfy { $0 <= $1 }, "bins \(histogram.bins) of \(source)")
    if low == high {
        // numpy's rule for a single value: the range [v - 0.5, v + 0.5], in the data's own units.
        check(
            histogram.bins[0] == low - 0.5 && abs(histogram.bins[10] - (high + 0.5)) <= Swift.max(1, abs(high)) * 1e-12
                && histogram.counts[5] == data.count,
            "bins \(histogram.bins) of \(source)")
    } else {
        let spread = high - low
        check(
            abs(histogram.bins[0] - low) <= spread * 1e-9 && abs(histogram.bins[10] - high) <= spread * 1e-9,
            "bins \(histogram.bins) of \(source): not over [min, max]")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Data(bytes: data, count: size)
    let source = String(decoding: body.prefix(300), as: UTF8.self).debugDescription

    if let request = try? decoder.decode(CreateGeoidRequest.self, from: body) {
        createGeoid(request, source)
    }
    if let request = try? decoder.decode(BatchCreateRequest.self, from: body), request.geoids.count <= 1000 {
        for geoid in request.geoids { createGeoid(geoid, source) }
    }
    if let request = try? decoder.decode(ProcessRequest.self, from: body) {
        // The server's rule: at least 1, larger values clamped.
        let limit = request.searchLimit >= 1 ? Swift.min(request.searchLimit, 100) : nil
        check(limit.map { (1...100).contains($0) } ?? (request.searchLimit < 1), "search_limit of \(source)")
        mustEncode(request, "the process request \(source)")
    }
    if let request = try? decoder.decode(DetectRequest.self, from: body) {
        let wanted = Set(request.geoidPairs.filter { $0.count == 2 }.flatMap { $0 })
        check(wanted.count <= 2 * request.geoidPairs.count, "detect pairs of \(source)")
    }
    if let request = try? decoder.decode(AnalyzeRequest.self, from: body) {
        analyze(request, source)
    }
    if let request = try? decoder.decode(EmbedRequest.self, from: body) {
        embed(request, source)
    }
    return 0
}
