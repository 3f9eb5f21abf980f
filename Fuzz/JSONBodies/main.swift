import Foundation
import KimeraModels

/// JSON request bodies: every input is read as each request body of openapi.json, field by field as the
/// server's generated types read it (KimeraAPI, not compiled here: a field of the wrong type refuses the
/// body, an absent or null optional one is nil); what is read goes through the pure validation and
/// computation that follows in the server (geoid drafts, embeddings and entropy, statistics), and what the
/// answer would carry must encode as JSON (its numbers finite, the free-form maps encodable) and obey the
/// documented rules. Never a trap.

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

/// A body's fields, read as the generated types read them.
struct Fields {
    /// A field present with a type the document does not allow: the server answers 400.
    struct Refused: Error {}

    let values: [String: JSONValue]

    init?(_ body: Data) {
        guard let values = try? decoder.decode([String: JSONValue].self, from: body) else { return nil }
        self.values = values
    }

    init(_ values: [String: JSONValue]) { self.values = values }

    func read<T>(_ name: String, _ cast: (JSONValue) -> T?) throws -> T? {
        guard let value = values[name], value != .null else { return nil }
        guard let typed = cast(value) else { throw Refused() }
        return typed
    }

    func string(_ name: String) throws -> String? { try read(name) { $0.stringValue } }

    func object(_ name: String) throws -> [String: JSONValue]? {
        try read(name) { if case .object(let object) = $0 { object } else { nil } }
    }

    func array(_ name: String) throws -> [JSONValue]? {
        try read(name) { if case .array(let array) = $0 { array } else { nil } }
    }

    func bool(_ name: String) throws -> Bool? { try read(name) { if case .bool(let flag) = $0 { flag } else { nil } } }

    func integer(_ name: String) throws -> Int? { try read(name) { $0.numberValue.flatMap { Int(exactly: $0) } } }
}

/// `KimeraService.createGeoid` without the store, from a create body's fields.
func createGeoid(_ fields: Fields, _ source: String) {
    var draft: GeoidDraft
    do {
        draft = try GeoidConstruction.draft(
            content: try fields.string("content"), echoformText: try fields.string("echoform_text"),
            semanticFeatures: try fields.object("semantic_features"),
            symbolicContent: try fields.object("symbolic_content"), metadata: try fields.object("metadata"))
    } catch {
        return  // a 400
    }
    draft.semanticState = SemanticEntropy.withBaseline(draft.semanticState)
    let entropy = SemanticEntropy.entropy(draft.semanticState)
    check(entropy.isFinite, "entropy \(entropy) of \(source)")
    let vector = embedder.embed(draft.embeddedText)
    checkEmbedding(vector, source)
    mustBeFinite(Array(draft.semanticState.values), "the semantic state of \(source)")
    mustEncode(draft.symbolicState, "the symbolic state of \(source)")
    mustEncode(draft.metadata, "the metadata of \(source)")
}

/// `KimeraService.embed` and `semanticFeatures` without the store.
func embed(_ text: String, _ source: String) {
    let features = TextFeatures(text: text, embedder: embedder)
    let embedding = features.embedding
    checkEmbedding(embedding.vector, source)
    mustBeFinite(
        embedding.vector.map(Double.init) + [embedding.norm, embedding.min, embedding.max, embedding.mean]
            + features.semanticState.values + [features.entropy], "the embedding of \(source)")
}

func analyze(_ data: [Double], type: String?, _ source: String) {
    guard let response = try? StatisticsAnalysis.analyze(data, analysisType: type) else { return }
    mustBeFinite(
        [response.mean, response.median, response.std, response.min, response.max]
            + [response.skewness, response.kurtosis].compactMap { $0 } + (response.histogram?.bins ?? []),
        "the analysis of \(source)")
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
    guard let fields = Fields(body) else { return 0 }

    createGeoid(fields, source)
    if let geoids = try? fields.array("geoids"), geoids.count <= 1000 {
        for case .object(let geoid) in geoids { createGeoid(Fields(geoid), source) }
    }
    do {
        if try fields.string("trigger_geoid_id") != nil {
            // The server's rule: 5 when absent, at least 1, larger values clamped.
            let searchLimit = try fields.integer("search_limit") ?? 5
            let limit = searchLimit >= 1 ? Swift.min(searchLimit, 100) : nil
            check(limit.map { (1...100).contains($0) } ?? (searchLimit < 1), "search_limit of \(source)")
        }
    } catch {}  // a 400
    if let pairs = try? fields.array("geoid_pairs") {
        let lists = pairs.compactMap { pair -> [String]? in
            guard case .array(let ids) = pair else { return nil }
            let strings = ids.compactMap(\.stringValue)
            return strings.count == ids.count ? strings : nil
        }
        if lists.count == pairs.count {
            let wanted = Set(lists.filter { $0.count == 2 }.flatMap { $0 })
            check(wanted.count <= 2 * lists.count, "detect pairs of \(source)")
        }
    }
    do {
        if let values = try fields.array("data") {
            let numbers = values.compactMap(\.numberValue)
            if numbers.count == values.count { analyze(numbers, type: try fields.string("analysis_type"), source) }
        }
    } catch {}  // a 400
    if let text = try? fields.string("text") {
        embed(text, source)
    }
    return 0
}
