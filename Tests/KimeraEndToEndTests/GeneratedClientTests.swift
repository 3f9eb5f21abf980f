import Foundation
import KimeraClient
import Synchronization
import Testing

/// The operations `KimeraClient` reads through the client generated from openapi.json (`GeneratedTransport`):
/// the request on the wire, the decoded answer, and every failure coming out as the `ClientError` (and exit
/// code) the hand-written methods gave — against canned answers on loopback (`StubHTTPServer`).
@Suite("Generated client over Kimera's transport")
struct GeneratedClientTests {
    static let status = #"""
        {"balance_ratio":2,"database":{"dialect":"postgresql","message":"The vault database answered.","status":"ok"},\#
        "initialized":true,"timestamp":"2026-12-06T22:00:00.000000Z","total_geoids":7,"total_scars":3,\#
        "total_weight":2.5,"vault_a":{"scar_count":2,"total_weight":1.5},"vault_b":{"scar_count":1,"total_weight":1},\#
        "vaults":{"balance_ratio":2,"total_count":3,"total_weight":2.5,"vault_a":{"count":2,"weight":1.5},\#
        "vault_b":{"count":1,"weight":1}}}
        """#

    @Test func anAnswerIsDecodedIntoTheDocumentsTypeAndTheRequestIsKimeras() async throws {
        let received = Mutex("")
        let server = try StubHTTPServer { head in
            received.withLock { $0 = head }
            return StubHTTPServer.kimeraJSON(Self.status)
        }
        defer { server.stop() }
        let (client, transport) = try PlainHTTPTests.client(server.port)
        let status = try await client.vaultStatus()
        await transport.shutdown()
        #expect(status.totalScars == 3 && status.totalGeoids == 7 && status.vaultA.scarCount == 2)
        #expect(status.database.status == .ok && status.database.dialect == "postgresql")
        #expect(status.vaults.vaultB.weight == 1)
        let request = received.withLock { $0 }
        #expect(request.hasPrefix("GET \(documented("getVaultStatus")) HTTP/1.1\r\n"), "\(request)")
        #expect(request.contains("Authorization: Bearer t0ken\r\n"))
        #expect(request.contains("User-Agent: kimera-cli/"))
    }

    @Test func anErrorStatusIsAStatusErrorWithTheServersBody() async throws {
        let server = try StubHTTPServer(
            response: StubHTTPServer.json(
                "503 Service Unavailable",
                #"{"error":"vault_unavailable","message":"The vault database is not answering.","request_id":"r1"}"#))
        defer { server.stop() }
        let (client, transport) = try PlainHTTPTests.client(server.port)
        await #expect {
            try await client.vaultStatus()
        } throws: { error in
            guard case ClientError.status(503, let body, let url) = error else { return false }
            return body?.message == "The vault database is not answering." && url.hasSuffix(documented("getVaultStatus"))
        }
        await transport.shutdown()
    }

    @Test func anAnswerTheDocumentDoesNotAllowIsUndecodableNamingTheField() async throws {
        // A field the closed schema does not list, and one it requires left out.
        let extra = Self.status.replacingOccurrences(of: #""initialized":true"#, with: #""initialized":true,"x":1"#)
        let missing = Self.status.replacingOccurrences(of: #""total_geoids":7,"#, with: "")
        for (body, field) in [(extra, "x"), (missing, "total_geoids")] {
            let server = try StubHTTPServer(response: StubHTTPServer.kimeraJSON(body))
            defer { server.stop() }
            let (client, transport) = try PlainHTTPTests.client(server.port)
            await #expect {
                try await client.vaultStatus()
            } throws: { error in
                guard case ClientError.undecodable(let url, _, let detail) = error else { return false }
                return url.hasSuffix(documented("getVaultStatus")) && detail.contains(field)
            }
            await transport.shutdown()
        }
    }

    @Test func anAnswerWithoutTheHeadersEveryAnswerCarriesIsStillRead() async throws {
        // A proxy may drop X-Request-ID and its siblings; the body is what the command came for.
        let server = try StubHTTPServer(response: StubHTTPServer.json("200 OK", Self.status))
        defer { server.stop() }
        let (client, transport) = try PlainHTTPTests.client(server.port)
        let status = try await client.vaultStatus()
        await transport.shutdown()
        #expect(status.totalScars == 3)
    }

    @Test func theSystemAnswersOfARealServerDecodeIntoTheDocumentsTypes() async throws {
        try await withCLIServer { server in
            let client = server.client
            for content in ["heat and light", "cold and dark"] {
                let created = try await http(.POST, "\(server.url)/kimera/geoids", json: #"{"content": "\#(content)"}"#)
                #expect(created.status == 201, "\(created.text)")
            }
            let status = try await client.kimeraStatus()
            #expect(status.status == .operational && status.activeGeoids == 2 && status.totalScars == 0)
            #expect(status.components.vaultManager && status.engines.contradiction.available)
            #expect(status.engines.contradiction.tensionThreshold == status.tensionThreshold)
            let health = try await client.systemHealth()
            #expect(health.status == .healthy)
            #expect(health.components.additionalProperties["vault"]?.status == .ok)
            #expect(health.components.additionalProperties["vault"]?.detail == "2 geoids")
            let stability = try await client.stability()
            #expect(stability.stabilityIndex == stability.stability)
            #expect(stability.axisConvergence == stability.semanticCohesion)
            let cycle = try await client.runCycle()
            #expect(cycle.status == .completed && cycle.cycleCount == 1 && cycle.activeGeoids == 2)
            #expect(cycle.entropyDelta == cycle.entropyAfterDiffusion - cycle.entropyBeforeDiffusion)
            let embedding = try await client.embed(text: "a b")
            #expect(embedding.dimensions == embedding.embedding.count && embedding.nonZero == 3)
            #expect(embedding.tokenCount == 2 && embedding.semanticFeatures == nil && embedding.entropy == nil)
            let features = try await client.semanticFeatures(text: "the cat sat on the mat with the cat")
            #expect(
                features.semanticFeatures?.additionalProperties
                    == ["cat": 0.5, "sat": 0.25, "mat": 0.25, "complexity": 0.35])
            #expect(features.entropy != nil && features.embedding.count == features.dimensions)
        }
    }

    @Test func theCoreOperationsOfARealServerRoundTripThroughTheGeneratedClient() async throws {
        try await withCLIServer { server in
            let client = server.client
            let hot = try await client.createGeoid(
                CreateGeoidRequest(
                    semanticFeatures: ["heat": .number(0.9), "light": .number(0.1)],
                    symbolicContent: ["hot": .bool(true), "none": .null], metadata: ["source": .string("test")]))
            #expect(hot.semanticState["heat"] == 0.9 && hot.entropy > 0)
            // An explicit null is kept: the key is there, its value is JSON null.
            #expect(hot.symbolicState.keys.contains("none") && hot.symbolicState["none"]! == nil)
            #expect(hot.metadata["source"] == .string("test"))
            let cold = try await client.createGeoid(
                CreateGeoidRequest(
                    semanticFeatures: ["cold": .number(0.8), "dark": .number(0.2)], symbolicContent: ["hot": .bool(false)]))
            #expect(try await client.geoid(id: hot.geoidID) == hot.geoid)

            let found = try await client.searchGeoids(query: "heat", limit: 2)
            #expect(found.query == "heat" && Set(found.results.map(\.geoidID)) == [hot.geoidID, cold.geoidID])

            let detected = try await client.detectContradictions(
                DetectRequest(geoidPairs: [[hot.geoidID, cold.geoidID], [hot.geoidID]]))
            #expect(detected.results[0].isContradiction == true)
            #expect(detected.results[0].tension?.geoidsInvolved == [hot.geoidID, cold.geoidID])
            #expect(detected.results[1].error?.contains("exactly 2") == true)

            let processed = try await client.processContradictions(
                ProcessRequest(triggerGeoidID: hot.geoidID, forceCollapse: true))
            #expect(processed.scarsCreated == 1 && processed.results.first?.decision == .collapse)
            let scarID = try #require(processed.results.first?.scarID)
            let scar = try await client.scar(id: scarID)
            #expect(scar.geoids == [hot.geoidID, cold.geoidID] && scar.resolvedBy == "ContradictionEngine:Collapse")
            let scars = try await client.searchScars(query: "collapse heat", limit: 1)
            #expect(scars.status == .success && scars.count == 1 && scars.results.first?.scarID == scarID)
            let contents = try await client.vaultContents(vaultID: scar.vaultID.rawValue)
            #expect(contents.vaultID == scar.vaultID && contents.contents == [scar])
            // Any vault id reaches the server, whose 404 names it.
            await #expect {
                try await client.vaultContents(vaultID: "vault_c")
            } throws: { error in
                guard case ClientError.status(404, let body, _) = error else { return false }
                return body?.message.contains("'vault_c'") == true
            }

            let job = try await client.startContradictionJob(ProcessRequest(triggerGeoidID: cold.geoidID))
            #expect(job.statusURL == "/kimera/contradiction/jobs/\(job.jobID)")
            var state = try await client.contradictionJob(id: job.jobID)
            for _ in 0..<100 where state.status == .running {
                try await Task.sleep(for: .milliseconds(50))
                state = try await client.contradictionJob(id: job.jobID)
            }
            #expect(state.status == .completed && state.result?.triggerGeoidID == cold.geoidID)

            try await client.deleteGeoid(id: cold.geoidID)
            await #expect {
                _ = try await client.geoid(id: cold.geoidID)
            } throws: { error in
                guard case .status(let status, _, _) = error as? ClientError else { return false }
                return status == 404
            }
        }
    }

    @Test func theCommandLineExitsAsBeforeOnAServerError() async throws {
        let stub = try StubHTTPServer(response: StubHTTPServer.internalError(message: "The vault is on fire."))
        defer { stub.stop() }
        let result = try await runCLI(["vault", "status", "--url", "http://127.0.0.1:\(stub.port)"])
        #expect(result.status == 5)
        #expect(result.stderr == "kimera: The vault is on fire. (HTTP 500 internal)\n")
    }
}
