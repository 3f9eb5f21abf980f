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

/// The Kimera SWM core under `/kimera` (docs/API.md §5): translates HTTP to `KimeraService` calls, wraps
/// the real work in the profiler, logs domain events under `kimera.core.*`, and invalidates stale
/// cached `/kimera` responses on every write.
enum KimeraRoutes {
    static let maxSearchLimit = 100

    static func register<Context: RequestContext>(
        on routes: RouteTable<Context>, service: KimeraService, engine: ObservabilityEngine, jobs: ContradictionJobs,
        bodyLimit: Int
    ) {
        let profiler = engine.profiler
        let cache = engine.cache
        let geoidLog = engine.logger("kimera.core.geoids")
        let contradictionLog = engine.logger("kimera.core.contradiction")
        let vaultLog = engine.logger("kimera.core.vault")
        let cycleLog = engine.logger("kimera.core.cycle")

        /// Every write makes cached `/kimera` reads stale.
        @Sendable func invalidate() { cache.invalidate(prefix: "/kimera/") }

        routes.post("/kimera/geoids") { request, _ in
            let body = try await JSONBody.decode(CreateGeoidRequest.self, from: request, limit: bodyLimit)
            let created = try await profiler.profile("vault.create_geoid") {
                try await service.createGeoid(try GeoidConstruction.draft(body))
            }
            invalidate()
            geoidLog.info(
                "geoid created",
                metadata: ["geoid_id": .string(created.geoidID), "entropy": .stringConvertible(created.entropy)])
            return JSONBody.response(CreateGeoidResponse(created), status: .created)
        }
        routes.post("/kimera/geoids/batch") { request, _ in
            let body = try await JSONBody.decode(BatchCreateRequest.self, from: request, limit: bodyLimit)
            let created = try await profiler.profile("vault.create_geoids") {
                try await service.createGeoids(body.geoids, draft: GeoidConstruction.draft)
            }
            invalidate()
            geoidLog.info("geoids created", metadata: ["count": .stringConvertible(created.count)])
            return JSONBody.response(BatchCreateResponse(created), status: .created)
        }
        routes.get("/kimera/geoids/search", cacheable: true) { request, _ in
            let query = QueryReader(request)
            guard let text = query.string("query"), !TextRules.isBlank(text) else {
                throw APIError.invalidParameter("query", "query is required: the text to search for.")
            }
            let limit = try query.limit(default: 5, maximum: maxSearchLimit)
            let hits = try await profiler.profile("vault.search_geoids") {
                try await service.searchGeoids(query: text, limit: limit)
            }
            geoidLog.debug("geoid search", metadata: ["results": .stringConvertible(hits.count)])
            return JSONBody.response(SearchResponse(query: text, hits: hits))
        }
        routes.get("/kimera/geoids/{id}", cacheable: true) { _, context in
            let id = try context.parameters.require("id")
            return JSONBody.response(Components.Schemas.Geoid(try await service.geoid(id: id)))
        }
        routes.delete("/kimera/geoids/{id}") { _, context in
            let id = try context.parameters.require("id")
            try await profiler.profile("vault.delete_geoid") { try await service.deleteGeoid(id: id) }
            invalidate()
            geoidLog.info("geoid deleted", metadata: ["geoid_id": .string(id)])
            return Response(status: .noContent)
        }

        routes.post("/kimera/contradiction/detect") { request, _ in
            let body = try await JSONBody.decode(DetectRequest.self, from: request, limit: bodyLimit)
            guard !body.geoidPairs.isEmpty else {
                throw APIError(
                    .badRequest, code: .invalidBody, message: "geoid_pairs is empty; give at least one [a, b] pair.",
                    parameter: "geoid_pairs")
            }
            let outcomes = try await profiler.profile("contradiction.detect") {
                try await service.detect(pairs: body.geoidPairs)
            }
            return JSONBody.response(DetectResponse(outcomes))
        }
        routes.post("/kimera/contradiction/process/contradictions/sync") { request, _ in
            let body = try await JSONBody.decode(ProcessRequest.self, from: request, limit: bodyLimit)
            let result = try await profiler.profile("contradiction.process") {
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
            return JSONBody.response(Components.Schemas.ProcessResult(result))
        }
        routes.post("/kimera/contradiction/process/contradictions") { request, _ in
            let body = try await JSONBody.decode(ProcessRequest.self, from: request, limit: bodyLimit)
            // Fail fast on what the job would fail on, rather than accepting a job that cannot succeed.
            let searchLimit = body.searchLimitOrDefault
            try service.checkSearchLimit(searchLimit)
            _ = try await service.geoid(id: body.triggerGeoidID)
            let jobID = try await jobs.start(
                trigger: body.triggerGeoidID, searchLimit: searchLimit, forceCollapse: body.forceCollapseOrDefault,
                service: service, profiler: profiler,
                onFinish: { result in
                    invalidate()
                    switch result {
                    case .success(let result):
                        contradictionLog.info(
                            "contradiction job finished",
                            metadata: ["scars_created": .stringConvertible(result.scarsCreated)])
                    case .failure(let error):
                        contradictionLog.error("contradiction job failed: \(error)")
                    }
                })
            return JSONBody.response(
                JobResponse(jobID: jobID, statusURL: "/kimera/contradiction/jobs/\(jobID)"), status: .accepted)
        }
        routes.get("/kimera/contradiction/jobs/{job_id}") { _, context in
            let id = try context.parameters.require("job_id")
            guard let state = try await jobs.state(id) else {
                throw APIError.notFound(
                    "No job '\(id)'; jobs are kept for \(Int(jobs.retention.seconds)) s after they finish.")
            }
            return JSONBody.response(state)
        }

        routes.get("/kimera/scars/search") { request, _ in
            let query = QueryReader(request)
            guard let text = query.string("query"), !TextRules.isBlank(text) else {
                throw APIError.invalidParameter("query", "query is required: the text to search for.")
            }
            let limit = try query.limit(default: 3, maximum: maxSearchLimit)
            let hits = try await profiler.profile("vault.search_scars") {
                try await service.searchScars(query: text, limit: limit)
            }
            return JSONBody.response(ScarSearchResponse(query: text, hits: hits))
        }
        routes.get("/kimera/scars/{id}") { _, context in
            JSONBody.response(Components.Schemas.Scar(try await service.scar(id: try context.parameters.require("id"))))
        }

        routes.get("/kimera/vault/status") { _, _ in
            JSONBody.response(VaultStatus(try await service.vaultReport()))
        }
        routes.get("/kimera/vault/geoids/count") { _, _ in
            JSONBody.response(GeoidCountResponse(try await service.geoidCount()))
        }
        routes.get("/kimera/vault/scars/count") { _, _ in
            JSONBody.response(ScarCountResponse(try await service.vaultTotals()))
        }
        routes.get("/kimera/vault/stats") { _, _ in JSONBody.response(VaultStats(try await service.vaultReport())) }
        routes.get("/kimera/vault/scars/recent") { request, _ in
            let limit = try QueryReader(request).limit(default: 5, maximum: maxSearchLimit)
            return JSONBody.response(RecentScars(try await service.recentScars(limit: limit)))
        }
        routes.get("/kimera/vault/vaults/{vault_id}") { request, context in
            let limit = try QueryReader(request).limit(default: 10, maximum: maxSearchLimit)
            let (vault, scars) = try await service.vaultContents(
                vaultID: try context.parameters.require("vault_id"), limit: limit)
            return JSONBody.response(VaultContents(vault: vault, scars: scars))
        }
        routes.post("/kimera/vault/vaults/rebalance") { request, _ in
            let byWeight = try QueryReader(request).bool("by_weight") ?? false
            let moved = try await profiler.profile("vault.rebalance") {
                try await service.rebalance(byWeight: byWeight)
            }
            let result = RebalanceResponse(moved: moved, byWeight: byWeight)
            invalidate()
            vaultLog.info(
                "vaults rebalanced",
                metadata: [
                    "moved_scars": .stringConvertible(result.movedScars), "by_weight": .stringConvertible(byWeight),
                ])
            return JSONBody.response(result)
        }

        routes.get("/kimera/status") { _, _ in JSONBody.response(KimeraStatus(try await service.status())) }
        routes.get("/kimera/system/health") { _, _ in JSONBody.response(SystemHealth(await service.health())) }
        routes.get("/kimera/system/health/detailed") { _, _ in
            JSONBody.response(DetailedHealth(await service.health()))
        }
        routes.get("/kimera/system/ping") { _, _ in JSONBody.response(PingResponse(timestamp: service.timestamp())) }
        routes.post("/kimera/statistics/analyze") { request, _ in
            let body = try await JSONBody.decode(AnalyzeRequest.self, from: request, limit: bodyLimit)
            return JSONBody.response(
                AnalyzeResponse(try StatisticsAnalysis.analyze(body.data, analysisType: body.analysisType)))
        }
        routes.get("/kimera/system/stability") { _, _ in
            JSONBody.response(StabilityMetrics(try await service.stability()))
        }
        routes.post("/kimera/system/cycle") { _, _ in
            let result = try await profiler.profile("cycle.run") { try await service.runCycle() }
            invalidate()
            cycleLog.info(
                "cognitive cycle",
                metadata: [
                    "cycle_count": .stringConvertible(result.cycleCount),
                    "scars_created": .stringConvertible(result.scarsCreated),
                ])
            return JSONBody.response(CycleResult(result))
        }
        routes.post("/kimera/embed") { request, _ in
            let body = try await JSONBody.decode(EmbedRequest.self, from: request, limit: bodyLimit)
            return JSONBody.response(
                EmbedResponse(profiler.profile("embedding.embed") { service.embed(text: body.text) }))
        }
        routes.post("/kimera/semantic_features") { request, _ in
            let body = try await JSONBody.decode(EmbedRequest.self, from: request, limit: bodyLimit)
            return JSONBody.response(
                EmbedResponse(
                    profiler.profile("embedding.semantic_features") { service.semanticFeatures(text: body.text) }))
        }
    }
}
