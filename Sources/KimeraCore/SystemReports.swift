/// What the service reports about itself: `GET /kimera/status` (the document's `KimeraStatus`, built by
/// the route with the Python original's component and engine flags).
public struct ServiceStatus: Sendable, Equatable {
    public var totals: VaultTotals
    public var activeGeoids: Int
    public var cycleCount: Int
    public var tensionThreshold: Double
    /// The embedder's identifier, e.g. `feature-hashing-fnv1a64-d256`.
    public var embeddingModel: String
    public var embeddingDimensions: Int
    /// When it was read, ISO-8601 UTC.
    public var timestamp: String
}

/// One component probed by `KimeraService.health()`.
public struct ComponentProbe: Sendable, Equatable {
    public var isOK: Bool
    /// What failed, or a short fact about the component.
    public var detail: String
    public var latencyMs: Double
}

/// Every component probed once: `GET /kimera/system/health` and `/kimera/system/health/detailed` (the
/// document's `SystemHealth` and `DetailedHealth`, built by the routes).
public struct HealthReport: Sendable, Equatable {
    /// Keyed by component: `vault`, `embedder`.
    public var components: [String: ComponentProbe]
    /// When the probes ended, ISO-8601 UTC.
    public var timestamp: String

    /// Every component answered; otherwise the whole is degraded.
    public var isHealthy: Bool { components.values.allSatisfy(\.isOK) }
}

/// One cognitive cycle as it ran (`POST /kimera/system/cycle`, the document's `CycleResult`).
public struct CycleReport: Sendable, Equatable {
    /// The cycle counter after this cycle.
    public var cycleCount: Int
    public var contradictionsDetected: Int
    public var scarsCreated: Int
    /// Sum of the geoids' entropies before and after diffusion (bits).
    public var entropyBeforeDiffusion: Double
    public var entropyAfterDiffusion: Double
    /// Seconds.
    public var processingTime: Double
    /// Geoids the cycle worked on (at most `CognitiveCyclePlan.geoidLimit`).
    public var activeGeoids: Int

    public var entropyDelta: Double { entropyAfterDiffusion - entropyBeforeDiffusion }
}
