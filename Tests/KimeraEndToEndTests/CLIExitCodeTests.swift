import Foundation
import KimeraClient
import Testing

extension CLITests {
    /// The exit codes of CLI.md, each observed from the built binary, with one line on stderr.
    @Suite
    struct CLIExitCodeTests {
        @Test func successIsZeroAndNotFoundIsFourWithTheServersMessage() async throws {
            try await withCLIServer { server in
                let ok = try await server.run(["vault", "status", "-o", "json"])
                #expect(ok.status == 0)
                #expect(ok.stderr.isEmpty)

                let missing = try await server.run(["geoids", "delete", "geoid_00000000000000000000000000000000"])
                #expect(missing.status == 4)
                #expect(missing.stderrLines.count == 1)
                #expect(missing.stderr.hasPrefix("kimera: No geoid"))
                #expect(missing.stderr.contains("HTTP 404"))
            }
        }

        @Test func usageErrorsExit64WithOneLineBeforeAnyRequest() async throws {
            let stub = try StubHTTPServer(response: StubHTTPServer.internalError(message: "must not be reached"))
            defer { stub.stop() }
            let url = "http://127.0.0.1:\(stub.port)"
            let cases: [([String], String)] = [
                (["logs", "--level", "LOUD", "--url", url], "LOUD"),
                (["logs", "--limit", "many", "--url", url], "many"),
                (["logs", "--limit", "-3", "--url", url], "limit"),
                (["traces", "--limit", "1.5", "--url", url], "1.5"),
                (["traces", "--method", "FETCH", "--url", url], "FETCH"),
                (["debug", "log-level", "VERBOSE", "--url", url], "VERBOSE"),
                (["debug", "mode", "on", "--ttl", "forever", "--url", url], "forever"),
                (["stats", "--url", "localhost:8001"], "localhost:8001"),
                (["stats", "--url", "ftp://127.0.0.1:\(stub.port)"], "ftp"),
                (["health", "--url", url, "--timeout", "soon"], "soon"),
                (["geoids", "create", "--feature", "color=red", "--url", url], "color=red"),
                (["nonsense"], "nonsense"),
            ]
            for (arguments, mentioned) in cases {
                let result = try await runCLI(arguments)
                #expect(result.status == 64, "\(arguments): \(result.stderr)")
                #expect(result.stderrLines.count == 1, "\(arguments): \(result.stderr)")
                #expect(result.stderr.contains(mentioned), "\(arguments): \(result.stderr)")
                #expect(result.stdout.isEmpty)
            }
            let fromEnvironment = try await runCLI(["stats"], environment: ["KIMERA_URL": "not a url"])
            #expect(fromEnvironment.status == 64)
            #expect(fromEnvironment.stderr.contains("KIMERA_URL"))
            #expect(stub.requests == 0)
        }

        @Test func serverErrorIsFiveWithTheErrorBodysMessage() async throws {
            let stub = try StubHTTPServer(response: StubHTTPServer.internalError(message: "The vault is on fire."))
            defer { stub.stop() }
            let result = try await runCLI(["stats", "--url", "http://127.0.0.1:\(stub.port)"])
            #expect(result.status == 5)
            #expect(result.stderr == "kimera: The vault is on fire. (HTTP 500 internal)\n")
        }

        @Test func unreachableIsThreeAndTimeoutIsTwo() async throws {
            let port = try unusedLoopbackPort()
            let refused = try await runCLI(["health", "--url", "http://127.0.0.1:\(port)"])
            #expect(refused.status == 3)
            #expect(refused.stderr.contains("connection refused"))
            #expect(refused.stderrLines.count == 1)

            let unknownHost = try await runCLI(["health", "--url", "http://kimera.invalid:8001", "--timeout", "3s"])
            #expect([2, 3].contains(unknownHost.status), "\(unknownHost.stderr)")

            let silent = try StubHTTPServer(response: nil)
            defer { silent.stop() }
            let started = ContinuousClock.now
            let timedOut = try await runCLI(["stats", "--url", "http://127.0.0.1:\(silent.port)", "--timeout", "300ms"])
            #expect(timedOut.status == 2)
            #expect(timedOut.stderr.contains("300 ms"))
            #expect(ContinuousClock.now - started < .seconds(5))
        }

        @Test func healthExitsFiveWhenTheServerIsUnavailable() async throws {
            let body = #"{"error":"unavailable","message":"The server is shutting down.","request_id":"x"}"#
            let stub = try StubHTTPServer(response: StubHTTPServer.json("503 Service Unavailable", body))
            defer { stub.stop() }
            let result = try await runCLI(["health", "--url", "http://127.0.0.1:\(stub.port)"])
            #expect(result.status == 5)
            #expect(result.stderr == "kimera: The server is shutting down. (HTTP 503 unavailable)\n")
        }

        @Test func theAdminTokenComesFromTheFlagTheFileOrTheEnvironment() async throws {
            let config = FileManager.default.temporaryDirectory.appendingPathComponent(
                "kimera-cli-\(UUID().uuidString).json")
            try Data(#"{"security":{"trust_loopback":false}}"#.utf8).write(to: config)
            defer { try? FileManager.default.removeItem(at: config) }
            try await withCLIServer(["--config", config.path]) { server in
                let tokenFile = server.server.dataDirectory.appendingPathComponent("admin.token").path
                let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(
                    in: .whitespacesAndNewlines)

                let without = try await server.run(["stats", "-o", "json"])
                #expect(without.status == 4)
                #expect(without.stderr.contains("HTTP 401"))
                let wrong = try await server.run(["stats", "--token", "not-the-token"])
                #expect(wrong.status == 4)
                #expect(wrong.stderr.contains("HTTP 403"))
                #expect(!wrong.stderr.contains(token))

                for (arguments, environment) in [
                    (["--token", token], [:]), (["--token-file", tokenFile], [:]), ([], ["KIMERA_TOKEN": token]),
                ] as [([String], [String: String])] {
                    let result = try await server.run(["stats", "-o", "json"] + arguments, environment: environment)
                    #expect(result.status == 0, "\(arguments) \(environment.keys): \(result.stderr)")
                    _ = try result.decode(PerformanceStats.self)
                }
                let missingFile = try await runCLI([
                    "stats", "--token-file", tokenFile + ".missing", "--url", server.url,
                ])
                #expect(missingFile.status == 64)
            }
        }

        @Test func helpListsTheExitCodes() async throws {
            let help = try await runCLI(["--help"])
            #expect(help.status == 0)
            for line in [
                "2    timeout", "3    server unreachable", "4    the server answered 4xx",
                "5    the server answered 5xx", "64   usage error", "130  interrupted",
            ] {
                #expect(help.stdout.contains(line), "\(line)")
            }
        }

        @Test(arguments: ["bash", "zsh", "fish"])
        func completionScriptsAreGenerated(shell: String) async throws {
            let result = try await runCLI(["--generate-completion-script", shell])
            #expect(result.status == 0)
            #expect(result.stdout.contains("kimera"))
            #expect(result.stdout.contains("log-level"))
        }
    }
}
