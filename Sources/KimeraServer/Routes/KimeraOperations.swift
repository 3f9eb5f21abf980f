#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import Hummingbird
import KimeraAPI
import KimeraCore
import KimeraModels
import KimeraObservability
import Logging

extension DomainError: APIErrorConvertible {
    public var apiError: APIError {
        if isNotFound { return .notFound(message) }
        return APIError(.badRequest, code: .invalidBody, message: message, parameter: field)
    }
}

extension VaultError: APIErrorConvertible {
    public var apiError: APIError {
        APIError(.serviceUnavailable, code: .unavailable, message: "\(message) Retry shortly; the log has details.")
    }
}

/// The Kimera SWM core under `/kimera` (docs/API.md §5): translates each operation's generated input to
/// `KimeraService` calls, wraps the real work in the profiler, logs domain events under `kimera.core.*`,
/// and invalidates stale cached `/kimera` responses on every write.
extension KimeraAPIService {
    static let maxSearchLimit = 100

    /// Every write makes cached `/kimera` reads stale.
    func invalidate() { engine.cache.invalidate(prefix: "/kimera/") }

    func createGeoid(_ input: Operations.CreateGeoid.Input) async throws -> Operations.CreateGeoid.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            guard case .json(let body) = input.body else { preconditionFailure("JSON is the only body") }
            let created = try await engine.profiler.profile("vault.create_geoid") {
                try await service.createGeoid(try GeoidConstruction.draft(body))
            }
            invalidate()
            geoidLog.info(
                "geoid created",
                metadata: ["geoid_id": .string(created.geoidID), "entropy": .stringConvertible(created.entropy)])
            return .created(.init(body: .json(CreateGeoidResponse(created))))
        }
    }

    func createGeoids(_ input: Operations.CreateGeoids.Input) async throws -> Operations.CreateGeoids.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            guard case .json(let body) = input.body else { preconditionFailure("JSON is the only body") }
            let created = try await engine.profiler.profile("vault.create_geoids") {
                try await service.createGeoids(body.geoids, draft: GeoidConstruction.draft)
            }
            invalidate()
            geoidLog.info("geoids created", metadata: ["count": .stringConvertible(created.count)])
            return .created(.init(body: .json(BatchCreateResponse(created))))
        }
    }

    func searchGeoids(_ input: Operations.SearchGeoids.Input) async throws -> Operations.SearchGeoids.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            let query = QueryReader([
                "query": input.query.query, "limit": input.query.limit, "bypass_cache": input.query.bypassCache,
            ])
            guard let text = query.string("query"), !TextRules.isBlank(text) else {
                throw APIError.invalidParameter("query", "query is required: the text to search for.")
            }
            let limit = try query.limit(default: 5, maximum: Self.maxSearchLimit)
            let hits = try await engine.profiler.profile("vault.search_geoids") {
                try await service.searchGeoids(query: text, limit: limit)
            }
            geoidLog.debug("geoid search", metadata: ["results": .stringConvertible(hits.count)])
            return .ok(.init(body: .json(SearchResponse(query: text, hits: hits))))
        }
    }

    func getGeoid(_ input: Operations.GetGeoid.Input) async throws -> Operations.GetGeoid.Output {
        try await OperationTiming.measured {
            let geoid = try await kimera.service.geoid(id: input.path.id)
            return .ok(.init(body: .json(Components.Schemas.Geoid(geoid))))
        }
    }

    func deleteGeoid(_ input: Operations.DeleteGeoid.Input) async throws -> Operations.DeleteGeoid.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            let id = input.path.id
            try await engine.profiler.profile("vault.delete_geoid") { try await service.deleteGeoid(id: id) }
            invalidate()
            geoidLog.info("geoid deleted", metadata: ["geoid_id": .string(id)])
            return .noContent(.init())
        }
    }

    func detectContradictions(
        _ input: Operations.DetectContradictions.Input
    ) async throws -> Operations.DetectContradictions.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            guard case .json(let body) = input.body else { preconditionFailure("JSON is the only body") }
            guard !body.geoidPairs.isEmpty else {
                throw APIError(
                    .badRequest, code: .invalidBody, message: "geoid_pairs is empty; give at least one [a, b] pair.",
                    parameter: "geoid_pairs")
            }
            let outcomes = try await engine.profiler.profile("contradiction.detect") {
                try await service.detect(pairs: body.geoidPairs)
            }
            return .ok(.init(body: .json(DetectResponse(outcomes))))
        }
    }

    func processContradictionsSync(
        _ input: Operations.ProcessContradictionsSync.Input
    ) async throws -> Operations.ProcessContradictionsSync.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            guard case .json(let body) = input.body else { preconditionFailure("JSON is the only body") }
            let result = try await engine.profiler.profile("contradiction.process") {
                try await service.processContradictions(
                    trigger: body.triggerGeoidID, searchLimit: body.searchLimitOrDefault,
                    forceCollapse: body.forceCollapseOrDefault)
            }
            invalidate()
            contradictionLog.info(
                "contradictions processed",
                metadata: [
                    "trigger": .string(body.triggerGeoidID),
                    "detected": .stringConvertible(result.contradictionsDetected),
                    "scars_created": .stringConvertible(result.scarsCreated),
                ])
            return .ok(.init(body: .json(Components.Schemas.ProcessResult(result))))
        }
    }

    func processContradictions(
        _ input: Operations.ProcessContradictions.Input
    ) async throws -> Operations.ProcessContradictions.Output {
        try await OperationTiming.measured {
            let (service, jobs) = try (kimera.service, kimera.jobs)
            guard case .json(let body) = input.body else { preconditionFailure("JSON is the only body") }
            // Fail fast on what the job would fail on, rather than accepting a job that cannot succeed.
            let searchLimit = body.searchLimitOrDefault
            try service.checkSearchLimit(searchLimit)
            _ = try await service.geoid(id: body.triggerGeoidID)
            let api = self
            let jobID = try await jobs.start(
                trigger: body.triggerGeoidID, searchLimit: searchLimit, forceCollapse: body.forceCollapseOrDefault,
                service: service, profiler: engine.profiler,
                onFinish: { result in
                    api.invalidate()
                    switch result {
                    case .success(let result):
                        api.contradictionLog.info(
                            "contradiction job finished",
                            metadata: ["scars_created": .stringConvertible(result.scarsCreated)])
                    case .failure(let error):
                        api.contradictionLog.error("contradiction job failed: \(error)")
                    }
                })
            return .accepted(
                .init(body: .json(JobResponse(jobID: jobID, statusURL: "/kimera/contradiction/jobs/\(jobID)"))))
        }
    }

    func getContradictionJob(
        _ input: Operations.GetContradictionJob.Input
    ) async throws -> Operations.GetContradictionJob.Output {
        try await OperationTiming.measured {
            let jobs = try kimera.jobs
            let id = input.path.jobID
            guard let state = try await jobs.state(id) else {
                throw APIError.notFound(
                    "No job '\(id)'; jobs are kept for \(Int(jobs.retention.seconds)) s after they finish.")
            }
            return .ok(.init(body: .json(state)))
        }
    }

    func searchScars(_ input: Operations.SearchScars.Input) async throws -> Operations.SearchScars.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            let query = QueryReader(["query": input.query.query, "limit": input.query.limit])
            guard let text = query.string("query"), !TextRules.isBlank(text) else {
                throw APIError.invalidParameter("query", "query is required: the text to search for.")
            }
            let limit = try query.limit(default: 3, maximum: Self.maxSearchLimit)
            let hits = try await engine.profiler.profile("vault.search_scars") {
                try await service.searchScars(query: text, limit: limit)
            }
            return .ok(.init(body: .json(ScarSearchResponse(query: text, hits: hits))))
        }
    }

    func getScar(_ input: Operations.GetScar.Input) async throws -> Operations.GetScar.Output {
        try await OperationTiming.measured {
            .ok(.init(body: .json(Components.Schemas.Scar(try await kimera.service.scar(id: input.path.id)))))
        }
    }

    func getVaultStatus(_ input: Operations.GetVaultStatus.Input) async throws -> Operations.GetVaultStatus.Output {
        try await OperationTiming.measured {
            .ok(.init(body: .json(VaultStatus(try await kimera.service.vaultReport()))))
        }
    }

    func getGeoidCount(_ input: Operations.GetGeoidCount.Input) async throws -> Operations.GetGeoidCount.Output {
        try await OperationTiming.measured {
            .ok(.init(body: .json(GeoidCountResponse(try await kimera.service.geoidCount()))))
        }
    }

    func getScarCount(_ input: Operations.GetScarCount.Input) async throws -> Operations.GetScarCount.Output {
        try await OperationTiming.measured {
            .ok(.init(body: .json(ScarCountResponse(try await kimera.service.vaultTotals()))))
        }
    }

    func getVaultStats(_ input: Operations.GetVaultStats.Input) async throws -> Operations.GetVaultStats.Output {
        try await OperationTiming.measured {
            .ok(.init(body: .json(VaultStats(try await kimera.service.vaultReport()))))
        }
    }

    func getRecentScars(_ input: Operations.GetRecentScars.Input) async throws -> Operations.GetRecentScars.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            let limit = try QueryReader(["limit": input.query.limit]).limit(default: 5, maximum: Self.maxSearchLimit)
            return .ok(.init(body: .json(RecentScars(try await service.recentScars(limit: limit)))))
        }
    }

    func getVaultContents(
        _ input: Operations.GetVaultContents.Input
    ) async throws -> Operations.GetVaultContents.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            let limit = try QueryReader(["limit": input.query.limit]).limit(default: 10, maximum: Self.maxSearchLimit)
            let (vault, scars) = try await service.vaultContents(vaultID: input.path.vaultID, limit: limit)
            return .ok(.init(body: .json(VaultContents(vault: vault, scars: scars))))
        }
    }

    func rebalanceVaults(_ input: Operations.RebalanceVaults.Input) async throws -> Operations.RebalanceVaults.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            let byWeight = try QueryReader(["by_weight": input.query.byWeight]).bool("by_weight") ?? false
            let moved = try await engine.profiler.profile("vault.rebalance") {
                try await service.rebalance(byWeight: byWeight)
            }
            let result = RebalanceResponse(moved: moved, byWeight: byWeight)
            invalidate()
            vaultLog.info(
                "vaults rebalanced",
                metadata: [
                    "moved_scars": .stringConvertible(result.movedScars), "by_weight": .stringConvertible(byWeight),
                ])
            return .ok(.init(body: .json(result)))
        }
    }

    func getKimeraStatus(_ input: Operations.GetKimeraStatus.Input) async throws -> Operations.GetKimeraStatus.Output {
        try await OperationTiming.measured {
            .ok(.init(body: .json(KimeraStatus(try await kimera.service.status()))))
        }
    }

    func getSystemHealth(_ input: Operations.GetSystemHealth.Input) async throws -> Operations.GetSystemHealth.Output {
        try await OperationTiming.measured {
            .ok(.init(body: .json(SystemHealth(try await kimera.service.health()))))
        }
    }

    func getDetailedHealth(
        _ input: Operations.GetDetailedHealth.Input
    ) async throws -> Operations.GetDetailedHealth.Output {
        try await OperationTiming.measured {
            .ok(.init(body: .json(DetailedHealth(try await kimera.service.health()))))
        }
    }

    func ping(_ input: Operations.Ping.Input) async throws -> Operations.Ping.Output {
        try await OperationTiming.measured {
            .ok(.init(body: .json(PingResponse(timestamp: try kimera.service.timestamp()))))
        }
    }

    func analyzeStatistics(
        _ input: Operations.AnalyzeStatistics.Input
    ) async throws -> Operations.AnalyzeStatistics.Output {
        try await OperationTiming.measured {
            guard case .json(let body) = input.body else { preconditionFailure("JSON is the only body") }
            return .ok(
                .init(
                    body: .json(
                        AnalyzeResponse(try StatisticsAnalysis.analyze(body.data, analysisType: body.analysisType)))))
        }
    }

    func getStability(_ input: Operations.GetStability.Input) async throws -> Operations.GetStability.Output {
        try await OperationTiming.measured {
            .ok(.init(body: .json(StabilityMetrics(try await kimera.service.stability()))))
        }
    }

    func runCycle(_ input: Operations.RunCycle.Input) async throws -> Operations.RunCycle.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            let result = try await engine.profiler.profile("cycle.run") { try await service.runCycle() }
            invalidate()
            cycleLog.info(
                "cognitive cycle",
                metadata: [
                    "cycle_count": .stringConvertible(result.cycleCount),
                    "scars_created": .stringConvertible(result.scarsCreated),
                ])
            return .ok(.init(body: .json(CycleResult(result))))
        }
    }

    func embedText(_ input: Operations.EmbedText.Input) async throws -> Operations.EmbedText.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            guard case .json(let body) = input.body else { preconditionFailure("JSON is the only body") }
            return .ok(
                .init(body: .json(EmbedResponse(engine.profiler.profile("embedding.embed") { service.embed(text: body.text) }))))
        }
    }

    func semanticFeatures(_ input: Operations.SemanticFeatures.Input) async throws -> Operations.SemanticFeatures.Output {
        try await OperationTiming.measured {
            let service = try kimera.service
            guard case .json(let body) = input.body else { preconditionFailure("JSON is the only body") }
            return .ok(
                .init(
                    body: .json(
                        EmbedResponse(
                            engine.profiler.profile("embedding.semantic_features") {
                                service.semanticFeatures(text: body.text)
                            }))))
        }
    }
}
