import Foundation
import KimeraAPI
import KimeraModels
import Testing

@testable import KimeraCore
@testable import KimeraServer

/// The domain's records in the document's shapes (Routes/DomainWire.swift), and the request bodies as the
/// generated types read them.
@Suite("Wire encoding")
struct DomainWireTests {
    static func object(_ value: some Encodable) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
    }

    @Test("a process request leaves search_limit and force_collapse to the route's defaults, 5 and false")
    func processDefaults() throws {
        let request = try JSONDecoder().decode(ProcessRequest.self, from: Data(#"{"trigger_geoid_id":"geoid_x"}"#.utf8))
        #expect(request.triggerGeoidID == "geoid_x")
        #expect(request.searchLimit == nil && request.forceCollapse == nil)
    }

    @Test("create request decodes both forms with snake_case names; a non-number feature reaches the domain")
    func createForms() throws {
        let text = try JSONDecoder().decode(
            CreateGeoidRequest.self, from: Data(#"{"echoform_text":"(a)","metadata":{"m":1}}"#.utf8))
        #expect(text.echoformText == "(a)" && text.metadata?["m"] == .number(1))
        let features = try JSONDecoder().decode(
            CreateGeoidRequest.self,
            from: Data(#"{"semantic_features":{"x":"bad"},"symbolic_content":{"s":true}}"#.utf8))
        #expect(features.semanticFeatures?["x"] == .string("bad"))
        #expect(features.symbolicContent?["s"] == .bool(true))
        #expect(throws: DomainError.invalidFeature(name: "x", found: #"the string "bad""#)) {
            try GeoidConstruction.draft(features)
        }
    }

    @Test("a request body's fields the document does not list are ignored, whatever they hold")
    func unknownFieldsIgnored() throws {
        let body = Data(#"{"content":"x","extra":1e999,"nested":{"a":[1,{"b":null}]}}"#.utf8)
        #expect(try JSONDecoder().decode(CreateGeoidRequest.self, from: body).content == "x")
        let process = Data(#"{"trigger_geoid_id":"g","junk":1e999}"#.utf8)
        #expect(try JSONDecoder().decode(ProcessRequest.self, from: process).triggerGeoidID == "g")
    }

    @Test("a SCAR search hit is the SCAR's fields plus similarity_score, flat")
    func scarHitFlat() throws {
        let figures = ScarFigures(
            scarID: "scar_1", geoids: ["a", "b"], reason: "r", timestamp: "t", resolvedBy: "x", preEntropy: 1,
            postEntropy: 1.02, deltaEntropy: 0.02, clsAngle: 30, semanticPolarity: 0, mutationFrequency: 0.5,
            weight: 1)
        let scar = KimeraCore.Scar(figures, vaultID: .vaultA)
        let response = ScarSearchResponse(query: "q", hits: [Ranked(scar, score: 0.5)])
        let hits = try #require(try Self.object(response)["results"] as? [[String: Any]])
        #expect(hits.count == 1)
        #expect(hits[0]["scar_id"] as? String == "scar_1")
        #expect(hits[0]["vault_id"] as? String == "vault_a")
        #expect(hits[0]["similarity_score"] as? Double == 0.5)
        #expect(Set(hits[0].keys) == Set(try Self.object(Components.Schemas.Scar(scar)).keys).union(["similarity_score"]))
    }

    @Test("a geoid encodes with snake_case keys; a created geoid is its fields plus entropy, flat")
    func geoidKeys() throws {
        let geoid = KimeraCore.Geoid(
            geoidID: "geoid_1", semanticState: ["a": 1], symbolicState: ["n": .null], metadata: [:],
            embeddingVector: [0.5])
        let object = try Self.object(Components.Schemas.Geoid(geoid))
        #expect(Set(object.keys) == ["geoid_id", "semantic_state", "symbolic_state", "metadata", "embedding_vector"])
        #expect((object["symbolic_state"] as? [String: Any])?["n"] is NSNull)
        let created = try Self.object(CreateGeoidResponse(CreatedGeoid(geoid: geoid, entropy: 0.25)))
        #expect(Set(created.keys) == Set(object.keys).union(["entropy"]))
    }

    @Test("a tension says its type, pairwise_composite")
    func tensionType() throws {
        let tension = KimeraCore.Tension(
            geoidsInvolved: ["geoid_a", "geoid_b"], score: 0.5, embeddingMisalignment: 0.5, layerConflict: 0.5,
            symbolicOpposition: 0.5)
        #expect(try Self.object(Components.Schemas.Tension(tension))["type"] as? String == "pairwise_composite")
    }
}
