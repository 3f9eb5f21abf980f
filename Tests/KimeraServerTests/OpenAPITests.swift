import Foundation
import Hummingbird
import HummingbirdTesting
import KimeraAPI
import KimeraCore
import KimeraModels
import Testing

@testable import KimeraObservability
@testable import KimeraServer

@Suite("OpenAPI document")
struct OpenAPITests {
    static let repositoryDocument = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("openapi.json")

    static func operations(in json: String) throws -> Set<String> {
        let document = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let paths = document?["paths"] as? [String: [String: Any]] ?? [:]
        var operations: Set<String> = []
        for (path, item) in paths {
            for method in item.keys where ["get", "post", "put", "delete", "patch"].contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    @Test("every route the server registers is in the document, and every documented operation exists")
    func routesMatchDocument() throws {
        let server = TestServer(withVault: true)
        #expect(server.app.service != nil)
        let registered = Set(
            server.app.makeRouter().routes.flatMap { route in route.methods.map { "\($0) \(route.path)" } })
        let documented = try Self.operations(in: OpenAPIDocument.json)
        #expect(registered.subtracting(documented).sorted() == [], "routes missing from openapi.json")
        #expect(documented.subtracting(registered).sorted() == [], "documented operations the server lacks")
        #expect(registered.count > 30)
    }

    @Test("the compiled-in document is openapi.json of the repository, and GET /openapi.json serves it")
    func servedDocumentIsTheRepositoryFile() async throws {
        let file = try String(contentsOf: Self.repositoryDocument, encoding: .utf8)
        #expect(file == OpenAPIDocument.json, "run scripts/gen-openapi")
        let document = try JSONSerialization.jsonObject(with: Data(file.utf8)) as? [String: Any]
        #expect(document?["openapi"] as? String == "3.1.0")
        try await TestServer().test { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.text == file)
            }
        }
    }

    @Test("the generated Types, Client and Server are from this openapi.json (scripts/gen-openapi)")
    func generatedCodeIsFromTheDocument() throws {
        let sha256 = Process()
        sha256.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        sha256.arguments = [Self.repositoryDocument.path]
        let output = Pipe()
        sha256.standardOutput = output
        try sha256.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        sha256.waitUntilExit()
        let digest = printed.split(separator: " ").first.map(String.init)
        #expect(sha256.terminationStatus == 0)
        #expect(
            digest == GeneratedDocument.sha256,
            "openapi.json changed after Sources/KimeraAPI/Generated was generated: run scripts/gen-openapi")
    }
}
