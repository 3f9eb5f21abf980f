import Foundation
import KimeraClient
import Testing

extension CLITests {
    /// What lands on stdout: colour only when asked for or on a terminal, tables within the width,
    /// JSON by default into a pipe, and `monitor --once` as one plain frame.
    @Suite
    struct CLIOutputTests {
        @Test func pipesAndNoColorGetNoEscapeCodes() async throws {
            try await withCLIServer { server in
                _ = try await server.client.createGeoid(CreateGeoidRequest(content: "colourful words"))
                for arguments in [
                    ["logs", "-o", "table"], ["stats", "-o", "table"], ["debug", "-o", "table"], ["monitor", "--once"],
                ] {
                    let piped = try await server.run(arguments)
                    #expect(piped.status == 0, "\(arguments): \(piped.stderr)")
                    #expect(!piped.stdout.containsEscapeCodes, "\(arguments)")
                    let noColor = try await server.run(arguments, environment: ["NO_COLOR": "1"])
                    #expect(!noColor.stdout.containsEscapeCodes, "\(arguments)")
                    #expect(!noColor.stderr.containsEscapeCodes, "\(arguments)")
                }
                // The same table is coloured when asked, so the checks above are not vacuous.
                let forced = try await server.run(
                    ["logs", "-o", "table", "--color", "always"], environment: ["NO_COLOR": "1"])
                #expect(forced.stdout.containsEscapeCodes)
                let never = try await server.run(["logs", "-o", "table", "--color", "never"])
                #expect(!never.stdout.containsEscapeCodes)
            }
        }

        @Test func pipedOutputDefaultsToJSON() async throws {
            try await withCLIServer { server in
                let result = try await server.run(["vault", "status"])
                #expect(try result.decode(VaultStatus.self).totalGeoids == 0)
            }
        }

        @Test func tablesFitTheGivenWidth() async throws {
            try await withCLIServer { server in
                let long = String(repeating: "verbose ", count: 40)
                _ = try await server.client.createGeoid(
                    CreateGeoidRequest(content: long, metadata: ["note": .string(long)]))
                for _ in 0..<3 { _ = try await server.client.health() }
                for width in [60, 80, 120] {
                    for arguments in [
                        ["logs"], ["traces"], ["traces", "--stats"], ["stats"], ["debug"], ["debug", "log-level"],
                    ] {
                        let result = try await server.run(
                            arguments + ["-o", "table"], environment: ["COLUMNS": String(width)])
                        #expect(result.status == 0, "\(arguments): \(result.stderr)")
                        let widest = result.stdout.split(separator: "\n").map(\.count).max() ?? 0
                        #expect(widest <= width, "\(arguments) at \(width): \(widest) columns\n\(result.stdout)")
                    }
                }
                let logs = try await server.run(["logs", "-o", "table"], environment: ["COLUMNS": "80"])
                #expect(logs.stdout.contains("…"))
            }
        }

        @Test func monitorOncePrintsOnePlainFrameWithTheEndpointTable() async throws {
            try await withCLIServer { server in
                for _ in 0..<5 { _ = try await server.client.health() }
                _ = try await server.client.createGeoid(CreateGeoidRequest(content: "monitored"))
                let result = try await server.run(["monitor", "--once"], environment: ["COLUMNS": "80"])
                #expect(result.status == 0, "\(result.stderr)")
                let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                #expect(lines.first?.hasPrefix("Kimera monitor") == true)
                #expect(!result.stdout.containsEscapeCodes)
                #expect(lines.allSatisfy { $0.count <= 80 })
                let header = try #require(lines.first { $0.hasPrefix("ENDPOINT") })
                for column in ["COUNT", "P50 ms", "P99 ms", "ERRORS"] { #expect(header.contains(column)) }
                let health = try #require(lines.first { $0.hasPrefix("/health ") })
                #expect(health.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first == "5")
                #expect(lines.contains { $0.hasPrefix("/kimera/geoids ") })
                for label in ["req/s", "active", "cache", "buffers", "Recent errors"] {
                    #expect(result.stdout.contains(label), "\(label)")
                }
            }
        }

        @Test func monitorWithoutATerminalIsAUsageError() async throws {
            let result = try await runCLI(["monitor", "--url", "http://127.0.0.1:1"])
            #expect(result.status == 64)
            #expect(result.stderr.contains("--once"))
        }
    }
}
