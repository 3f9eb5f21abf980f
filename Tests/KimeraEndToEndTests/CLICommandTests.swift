import Foundation
import KimeraClient
import Testing

extension CLITests {
    /// Each client command's JSON output, from the built binary against a live server, decodes as the
    /// server's model and agrees with what the server holds.
    @Suite
    struct CLICommandTests {
        /// `kimera health -o json`: both answers, exit 0 when ready.
        struct HealthReport: Decodable {
            var health: HealthResponse
            var ready: ReadyResponse?
        }

        @Test func healthPrintsHealthAndReadinessAndExitsZero() async throws {
            try await withCLIServer { server in
                let result = try await server.run(["health", "-o", "json"])
                #expect(result.status == 0, "\(result.stderr)")
                let report = try result.decode(HealthReport.self)
                #expect(report.health.status.rawValue == "healthy")
                #expect(report.health.service.rawValue == "kimera")
                #expect(report.ready?.status.rawValue == "ready")
            }
        }

        @Test func statsDecodesAndCountsTheRequestsMade() async throws {
            try await withCLIServer { server in
                for _ in 0..<3 { _ = try await server.client.health() }
                let result = try await server.run(["stats", "-o", "json"])
                #expect(result.status == 0, "\(result.stderr)")
                let stats = try result.decode(PerformanceStats.self)
                #expect(stats.requestStatistics.endpoints["/health"]?.timing.count == 3)
                #expect(stats.requestStatistics.totalRequests >= 3)
                #expect(stats.process.rssBytes > 0)
            }
        }

        @Test func geoidCreateGetSearchDeleteMatchTheVault() async throws {
            try await withCLIServer { server in
                let created = try await server.run(
                    [
                        "geoids", "create", "--content", "the sky is blue today", "--metadata", #"{"source":"cli"}"#,
                        "-o", "json",
                    ])
                #expect(created.status == 0, "\(created.stderr)")
                let answer = try created.decode(CreateGeoidResponse.self)
                #expect(answer.geoid.metadata["source"] == .string("cli"))
                #expect(try await server.client.geoid(id: answer.geoidID) == answer.geoid)

                let fetched = try await server.run(["geoids", "get", answer.geoidID, "-o", "json"])
                #expect(try fetched.decode(Geoid.self) == answer.geoid)

                let search = try await server.run(["geoids", "search", "blue sky", "--limit", "3", "-o", "json"])
                let hits = try search.decode(SearchResponse.self)
                #expect(hits.results.first?.geoidID == answer.geoidID)

                let deleted = try await server.run(["geoids", "delete", answer.geoidID, "-o", "json"])
                #expect(deleted.status == 0, "\(deleted.stderr)")
                #expect(try await server.client.geoidCount().count == 0)

                let missing = try await server.run(["geoids", "get", answer.geoidID, "-o", "json"])
                #expect(missing.status == 4)
                #expect(missing.stdout.isEmpty)
                #expect(missing.stderrLines.count == 1)
                #expect(missing.stderr.contains(answer.geoidID))
            }
        }

        @Test func contradictionsProcessAndVaultCommandsReflectTheVault() async throws {
            try await withCLIServer { server in
                var ids: [String] = []
                for text in ["the sky is blue", "the sky is not blue", "grass is green", "the sea is blue"] {
                    ids.append(try await server.client.createGeoid(CreateGeoidRequest(content: text)).geoidID)
                }
                let processed = try await server.run([
                    "contradictions", "process", ids[0], "--force-collapse", "-o", "json",
                ])
                #expect(processed.status == 0, "\(processed.stderr)")
                let result = try processed.decode(ProcessResult.self)
                #expect(result.triggerGeoidID == ids[0])
                #expect(result.geoidsAnalyzed >= 2)

                let status = try await server.run(["vault", "status", "-o", "json"])
                let vault = try status.decode(VaultStatus.self)
                #expect(vault.totalGeoids == 4)
                var direct = try await server.client.vaultStatus()
                direct.timestamp = vault.timestamp  // read a moment apart
                #expect(vault == direct)
                #expect(vault.totalScars == result.scarsCreated)

                let rebalanced = try await server.run(["vault", "rebalance", "-o", "json"])
                #expect(rebalanced.status == 0, "\(rebalanced.stderr)")
                #expect(["balanced", "rebalanced"].contains(try rebalanced.decode(RebalanceResponse.self).status.rawValue))

                let unknown = try await server.run(["contradictions", "process", "geoid_unknown", "-o", "json"])
                #expect(unknown.status == 4)
            }
        }

        @Test func debugInfoModeAndLogLevelChangeTheServer() async throws {
            try await withCLIServer { server in
                let info = try await server.run(["debug", "-o", "json"])
                #expect(info.status == 0, "\(info.stderr)")
                let decoded = try info.decode(DebugInfo.self)
                #expect(decoded.mode.debug == false)
                #expect(decoded.buffers["log_ring"] != nil)

                let trimmed = try await server.run(["debug", "--no-logs", "--no-traces", "--no-profiles", "-o", "json"])
                let lean = try trimmed.decode(DebugInfo.self)
                #expect(lean.recentLogs == nil && lean.requestTraces == nil && lean.performanceProfiles == nil)

                let mode = try await server.run(["debug", "mode", "on", "--ttl", "10m", "-o", "json"])
                let change = try mode.decode(ModeChangeResponse.self)
                #expect(change.debug == true && change.expiresAt != nil)
                #expect(try await server.client.debugInfo().mode.debug == true)
                _ = try await server.run(["debug", "mode", "off"])
                #expect(try await server.client.debugInfo().mode.debug == false)

                let set = try await server.run(["debug", "log-level", "debug", "--module", "kimera.core", "-o", "json"])
                let levelChange = try set.decode(LogLevelChangeResponse.self)
                #expect(levelChange.level == .debug && levelChange.module == "kimera.core")

                let listed = try await server.run(["debug", "log-level", "-o", "json"])
                let levels = try listed.decode(LogLevelsResponse.self)
                #expect(levels == (try await server.client.logLevels()))
                #expect(levels.modules.first { $0.module == "kimera.core" }?.configured == .debug)
            }
        }

        @Test func profileOnShowRunAndOffToggleAndReadTheProfiler() async throws {
            try await withCLIServer { server in
                let on = try await server.run(["profile", "on", "-o", "json"])
                #expect(try on.decode(ModeChangeResponse.self).profiling == true)
                _ = try await server.client.createGeoid(CreateGeoidRequest(content: "profiled text"))
                let shown = try await server.run(["profile", "show", "-o", "json"])
                let profiles = try shown.decode(ProfilesResponse.self)
                #expect(profiles.enabled)
                #expect(profiles.profiles.contains { $0.name == "vault.create_geoid" })
                #expect(profiles == (try await server.client.profiles()))
                let off = try await server.run(["profile", "off", "-o", "json"])
                #expect(try off.decode(ModeChangeResponse.self).profiling == false)

                // run: enables, waits, reports only what was profiled meanwhile, restores "off".
                let run = try CLIProcess(["profile", "run", "--seconds", "2", "-o", "json", "--url", server.url])
                #expect(try await eventually { try await server.client.profiles().enabled })
                _ = try await server.client.createGeoid(CreateGeoidRequest(content: "profiled during the run"))
                let report = await run.finish()
                #expect(report.status == 0, "\(report.stderr)")
                let during = try report.decode(ProfilesResponse.self)
                #expect(during.profiles.count == 1)
                #expect(during.profiles.first?.name == "vault.create_geoid")
                #expect(try await server.client.profiles().enabled == false)
            }
        }

        @Test func tracesListFilterAndSummarisePerEndpoint() async throws {
            try await withCLIServer { server in
                for _ in 0..<4 { _ = try await server.client.health() }
                _ = try? await server.client.geoid(id: "geoid_missing")
                let listed = try await server.run(["traces", "--path", "/health", "-o", "json"])
                let traces = try listed.decode(TracesResponse.self)
                #expect(traces.traces.count == 4)
                #expect(traces.traces.allSatisfy { $0.path == "/health" && $0.status == 200 })

                let notFound = try await server.run(["traces", "--status", "404", "-o", "ndjson"])
                let lines = try notFound.decodeLines(Trace.self)
                #expect(lines.map(\.path) == ["/kimera/geoids/geoid_missing"])

                let stats = try await server.run(["traces", "--stats", "-o", "json"])
                let statistics = try stats.decode(RequestStatistics.self)
                #expect(statistics.endpoints["/health"]?.timing.count == 4)
                #expect(statistics.endpoints["/kimera/geoids/{id}"]?.errors == 0)

                // The request behind the p99, which `kimera logs --request-id` takes.
                let p99Request = try #require(statistics.endpoints["/health"]?.exemplars?.p99.requestID)
                #expect(traces.traces.contains { $0.requestID == p99Request })

                let table = try await server.run(["traces", "--stats", "-o", "table"])
                let header = table.stdout.split(separator: "\n").first ?? ""
                for column in ["ENDPOINT", "COUNT", "P50", "P95", "P99", "MAX", "ERRORS", "P99 REQUEST"] {
                    #expect(header.contains(column))
                }
                let healthRow = table.stdout.split(separator: "\n").first { $0.hasPrefix("/health ") } ?? ""
                #expect(healthRow.hasSuffix(" " + p99Request), "\(table.stdout)")
            }
        }
    }
}
