import KimeraAPI
import KimeraCore
import KimeraModels

// The service's reports about itself, its embeddings and analyses in the wire shapes openapi.json gives them
// (routes translate Core → HTTP).

extension KimeraStatus {
    /// `GET /kimera/status`, with the Python original's component and engine flags (every part is in-process,
    /// so always up).
    init(_ status: ServiceStatus) {
        self.init(
            status: .operational, activeGeoids: status.activeGeoids, vaultAScars: status.totals.countA,
            vaultBScars: status.totals.countB, totalScars: status.totals.scars, cycleCount: status.cycleCount,
            tensionThreshold: status.tensionThreshold, embeddingModel: status.embeddingModel,
            embeddingDimensions: status.embeddingDimensions, timestamp: status.timestamp,
            components: StatusComponents(vaultManager: true, contradictionEngine: true, embeddingModel: true),
            engines: StatusEngines(contradiction: .init(available: true, tensionThreshold: status.tensionThreshold)))
    }
}

extension SystemHealth {
    /// `healthy` when every component is `ok`, else `degraded`.
    init(_ report: HealthReport) {
        self.init(
            status: report.isHealthy ? .healthy : .degraded,
            components: .init(
                additionalProperties: report.components.mapValues {
                    ComponentHealth(status: $0.isOK ? .ok : .error, detail: $0.detail, latencyMs: $0.latencyMs)
                }))
    }
}

extension DetailedHealth {
    /// The Python original's words: `operational` or `degraded`, each component `ok` or `failed`.
    init(_ report: HealthReport) {
        self.init(
            overallHealth: report.isHealthy ? .operational : .degraded,
            components: .init(additionalProperties: report.components.mapValues { $0.isOK ? .ok : .failed }),
            timestamp: report.timestamp)
    }
}

extension PingResponse {
    init(timestamp: String) { self.init(status: .ok, message: "Kimera SWM is running.", timestamp: timestamp) }
}

extension StabilityMetrics {
    /// Every metric, and the mean also as `stability_index` (the Python original's name).
    init(_ report: StabilityReport) {
        self.init(
            vaultPressure: report.vaultPressure, semanticCohesion: report.semanticCohesion,
            entropicStability: report.entropicStability, axisConvergence: report.axisConvergence,
            vaultResonance: report.vaultResonance, stability: report.stability, stabilityIndex: report.stability,
            status: StatusPayload(report.level))
    }
}

extension StabilityMetrics.StatusPayload {
    init(_ level: StabilityReport.Level) {
        switch level {
        case .stable: self = .stable
        case .moderate: self = .moderate
        case .unstable: self = .unstable
        }
    }
}

extension CycleResult {
    init(_ cycle: CycleReport) {
        self.init(
            status: .completed, cycleCount: cycle.cycleCount, contradictionsDetected: cycle.contradictionsDetected,
            scarsCreated: cycle.scarsCreated, entropyBeforeDiffusion: cycle.entropyBeforeDiffusion,
            entropyAfterDiffusion: cycle.entropyAfterDiffusion, entropyDelta: cycle.entropyDelta,
            processingTime: cycle.processingTime, activeGeoids: cycle.activeGeoids)
    }
}

extension EmbedResponse {
    /// `POST /kimera/embed`.
    init(_ embedding: TextEmbedding) {
        self.init(
            embedding: embedding.vector, dimensions: embedding.dimensions, norm: embedding.norm,
            nonZero: embedding.nonZero, min: embedding.min, max: embedding.max, mean: embedding.mean,
            tokenCount: embedding.tokenCount, model: embedding.model)
    }

    /// `POST /kimera/semantic_features`: the embedding, the text-form state and its entropy.
    init(_ features: TextFeatures) {
        self.init(features.embedding)
        semanticFeatures = .init(additionalProperties: features.semanticState)
        entropy = features.entropy
    }
}

extension AnalyzeResponse {
    /// The distribution-only fields are left out of a basic analysis (nil is not encoded).
    init(_ summary: StatisticsAnalysis.Summary) {
        self.init(
            analysisType: AnalysisTypePayload(summary.analysisType), mean: summary.mean,
            median: summary.median, std: summary.std, min: summary.min, max: summary.max, count: summary.count,
            histogram: summary.histogram.map { .init(counts: $0.counts, bins: $0.bins) },
            skewness: summary.skewness, kurtosis: summary.kurtosis)
    }
}

extension AnalyzeResponse.AnalysisTypePayload {
    init(_ type: AnalysisType) {
        switch type {
        case .basic: self = .basic
        case .distribution: self = .distribution
        }
    }
}
