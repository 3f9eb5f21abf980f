// The document's schemas under the short names the server, the client and the command line use. A schema
// listed here has no hand-written struct: its type is the one openapi.json generates (issue 28; the rest of
// KimeraModels moves here schema by schema, docs/ARCHITECTURE.md "The contract").

/// The vault status (operation `getVaultStatus`).
public typealias VaultStatus = Components.Schemas.VaultStatus
/// One vault's share of the SCARs.
public typealias VaultSideStatus = Components.Schemas.VaultSideStatus
/// The storage behind the vaults.
public typealias DatabaseStatus = Components.Schemas.DatabaseStatus
/// One vault in the Python original's `vaults` summary.
public typealias VaultSummary = Components.Schemas.VaultSummary
/// Both vaults as the Python original reported them.
public typealias VaultsSummary = Components.Schemas.VaultsSummary
/// `GET /kimera/vault/stats`.
public typealias VaultStats = Components.Schemas.VaultStats
/// The number of geoids, under both its names.
public typealias GeoidCountResponse = Components.Schemas.GeoidCountResponse
/// SCARs per vault and in all.
public typealias ScarCountResponse = Components.Schemas.ScarCountResponse
/// What a rebalance moved.
public typealias RebalanceResponse = Components.Schemas.RebalanceResponse
/// `POST /debug/mode` and `POST /debug/profiling`.
public typealias ModeChangeResponse = Components.Schemas.ModeChangeResponse
/// `POST` and `DELETE /debug/log-level`.
public typealias LogLevelChangeResponse = Components.Schemas.LogLevelChangeResponse
/// One module's level in `GET /debug/log-level`.
public typealias ModuleLevel = Components.Schemas.ModuleLevel
/// `GET /debug/log-level`.
public typealias LogLevelsResponse = Components.Schemas.LogLevelsResponse
/// `GET /health` (the fast path writes its bytes without an encoder; a test decodes them as this).
public typealias HealthResponse = Components.Schemas.HealthResponse
/// `GET /ready` when the server is ready.
public typealias ReadyResponse = Components.Schemas.ReadyResponse
/// `GET /debug/histograms`: every series' latency histogram, mergeable across servers.
public typealias HistogramsResponse = Components.Schemas.HistogramsResponse
/// One series (route and method) of `HistogramsResponse`: its non-empty buckets as `[value, count]`.
public typealias SeriesHistogram = Components.Schemas.SeriesHistogram

// The debug API's records and reports (docs/API.md §3).

/// The mode flags in force, as `GET /` and `/debug/info` report them.
public typealias ModeFlags = Components.Schemas.ModeFlags
/// The features block of `GET /`.
public typealias FeatureFlags = Components.Schemas.FeatureFlags
/// `GET /`.
public typealias RootResponse = Components.Schemas.RootResponse
/// Where a log record was written.
public typealias SourceLocation = Components.Schemas.SourceLocation
/// One log record of the ring (`/debug/logs`, the log stream, incidents).
public typealias LogRecord = Components.Schemas.LogRecord
/// The log stream's note that records were dropped between two it sent.
public typealias StreamGap = Components.Schemas.StreamGap
/// One request as the tracer recorded it.
public typealias Trace = Components.Schemas.Trace
/// Latency summary of a series of timed events.
public typealias TimingStats = Components.Schemas.TimingStats
/// A request a latency figure can be followed to.
public typealias RequestExemplar = Components.Schemas.RequestExemplar
/// The requests behind an endpoint's p99 and max.
public typealias EndpointExemplars = Components.Schemas.EndpointExemplars
/// Per route template: its timing plus errors, the per-method breakdown and the exemplars.
public typealias EndpointStatistics = Components.Schemas.EndpointStatistics
/// The tracer's aggregate view.
public typealias RequestStatistics = Components.Schemas.RequestStatistics
/// One profiled operation.
public typealias Profile = Components.Schemas.Profile
/// Allocations counted for one profiled operation, in all and per call.
public typealias AllocationStats = Components.Schemas.AllocationStats
/// `GET /debug/logs`.
public typealias LogsResponse = Components.Schemas.LogsResponse
/// `GET /debug/traces`.
public typealias TracesResponse = Components.Schemas.TracesResponse
/// `GET /debug/profiles`.
public typealias ProfilesResponse = Components.Schemas.ProfilesResponse
/// How full one bounded store is, by entries and bytes, and what it dropped.
public typealias BufferFill = Components.Schemas.BufferFill
/// The response cache's counters and bounds.
public typealias CacheStats = Components.Schemas.CacheStats
/// One log sink.
public typealias SinkStatus = Components.Schemas.SinkStatus
/// The logging pipeline's levels, counters and sinks.
public typealias LoggingMetrics = Components.Schemas.LoggingMetrics
/// The process: memory, CPU, threads, uptime.
public typealias ProcessStats = Components.Schemas.ProcessStats
/// `GET /performance/stats`.
public typealias PerformanceStats = Components.Schemas.PerformanceStats
/// `GET /debug/info`.
public typealias DebugInfo = Components.Schemas.DebugInfo
/// The OpenTelemetry export's settings and counters.
public typealias TelemetryStatus = Components.Schemas.TelemetryStatus
/// One signal's export counters (spans or log records).
public typealias TelemetrySignalExport = Components.Schemas.TelemetrySignalExport
/// An incident's summary, as listed.
public typealias IncidentSummary = Components.Schemas.IncidentSummary
/// The process when an incident was kept.
public typealias IncidentProcess = Components.Schemas.IncidentProcess
/// `GET /debug/incidents/{id}`.
public typealias Incident = Components.Schemas.Incident
/// `GET /debug/incidents`.
public typealias IncidentList = Components.Schemas.IncidentList

// The /kimera status, system and original-compatibility answers.

/// `GET /kimera/status`.
public typealias KimeraStatus = Components.Schemas.KimeraStatus
/// `components` of `GET /kimera/status`: whether each part is up (the Python original's flags).
public typealias StatusComponents = Components.Schemas.StatusComponents
/// `engines` of `GET /kimera/status`.
public typealias StatusEngines = Components.Schemas.StatusEngines
/// One component's health in `GET /kimera/system/health`.
public typealias ComponentHealth = Components.Schemas.ComponentHealth
/// `GET /kimera/system/health`.
public typealias SystemHealth = Components.Schemas.SystemHealth
/// `GET /kimera/system/health/detailed`.
public typealias DetailedHealth = Components.Schemas.DetailedHealth
/// `GET /kimera/system/ping`.
public typealias PingResponse = Components.Schemas.PingResponse
/// `GET /kimera/system/stability`.
public typealias StabilityMetrics = Components.Schemas.StabilityMetrics
/// `POST /kimera/system/cycle`.
public typealias CycleResult = Components.Schemas.CycleResult
/// `POST /kimera/embed` and `POST /kimera/semantic_features`.
public typealias EmbedResponse = Components.Schemas.EmbedResponse
/// `POST /kimera/statistics/analyze`.
public typealias AnalyzeResponse = Components.Schemas.AnalyzeResponse

// The Kimera SWM core's bodies (docs/API.md §5). KimeraCore has domain records of the same names (Geoid,
// Scar, Tension, ProcessedTension, ProcessResult): the server, which sees both, spells these
// `Components.Schemas.…`.

/// A geoid as `GET /kimera/geoids/{id}` answers it.
public typealias Geoid = Components.Schemas.Geoid
/// `POST /kimera/geoids`: the text form or the feature form.
public typealias CreateGeoidRequest = Components.Schemas.CreateGeoidRequest
/// `201` of `POST /kimera/geoids`: the geoid's fields at the top level plus `entropy`.
public typealias CreateGeoidResponse = Components.Schemas.CreateGeoidResponse
/// One hit of `GET /kimera/geoids/search`.
public typealias GeoidSearchResult = Components.Schemas.GeoidSearchResult
/// `GET /kimera/geoids/search`.
public typealias SearchResponse = Components.Schemas.SearchResponse
/// The tension between two geoids.
public typealias Tension = Components.Schemas.Tension
/// `POST /kimera/contradiction/detect`.
public typealias DetectRequest = Components.Schemas.DetectRequest
/// One pair's outcome in `POST /kimera/contradiction/detect`.
public typealias DetectResult = Components.Schemas.DetectResult
/// `POST /kimera/contradiction/detect`, one result per requested pair.
public typealias DetectResponse = Components.Schemas.DetectResponse
/// `POST /kimera/contradiction/process/contradictions[/sync]`.
public typealias ProcessRequest = Components.Schemas.ProcessRequest
/// What processing did with one tension.
public typealias ProcessedTension = Components.Schemas.ProcessedTension
/// The result of processing one trigger.
public typealias ProcessResult = Components.Schemas.ProcessResult
/// `202` of `POST /kimera/contradiction/process/contradictions`.
public typealias JobResponse = Components.Schemas.JobResponse
/// `GET /kimera/contradiction/jobs/{job_id}`.
public typealias JobStatusResponse = Components.Schemas.JobStatusResponse
/// A SCAR as `GET /kimera/scars/{id}` answers it.
public typealias Scar = Components.Schemas.Scar
/// One hit of `GET /kimera/scars/search`: the SCAR's fields plus `similarity_score`.
public typealias ScarSearchResult = Components.Schemas.ScarSearchResult
/// `GET /kimera/scars/search`.
public typealias ScarSearchResponse = Components.Schemas.ScarSearchResponse
/// `GET /kimera/vault/vaults/{vault_id}`.
public typealias VaultContents = Components.Schemas.VaultContents
/// `POST /kimera/embed` and `POST /kimera/semantic_features`.
public typealias EmbedRequest = Components.Schemas.EmbedRequest
/// `POST /kimera/geoids/batch`.
public typealias BatchCreateRequest = Components.Schemas.BatchCreateRequest
/// `201` of `POST /kimera/geoids/batch`.
public typealias BatchCreateResponse = Components.Schemas.BatchCreateResponse
/// `GET /kimera/vault/scars/recent`.
public typealias RecentScars = Components.Schemas.RecentScars
/// `POST /kimera/statistics/analyze`.
public typealias AnalyzeRequest = Components.Schemas.AnalyzeRequest
