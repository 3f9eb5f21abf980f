// The document's schemas under the short names the server, the client and the command line use. A schema
// listed here has no hand-written struct: its type is the one openapi.json generates (issue 28; the rest of
// KimeraModels moves here schema by schema, docs/ARCHITECTURE.md "The contract").

/// `GET /kimera/vault/status`.
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
