import Foundation
import Hummingbird
import KimeraCore
import KimeraModels
import KimeraObservability
import Synchronization

/// `GET /health`, `GET /ready`, `GET /`.
enum OperationsRoutes {
    static func register<Context: RequestContext>(
        on routes: RouteTable<Context>, engine: ObservabilityEngine, readiness: Readiness
    ) {
        // The health check is the most called endpoint: its body is written directly, not through
        // JSONEncoder (same fields as `HealthResponse`; a test decodes it as one).
        // The instance id is checked at configuration time to need no JSON escaping.
        let instance = engine.instanceID.map { ",\"instance_id\":\"\($0)\"" } ?? ""
        routes.get("/health") { _, _ in
            let body =
                "{\"status\":\"healthy\",\"timestamp\":\(Timestamp.wallNanos() / 1_000_000),\"service\":\"kimera\",\"version\":\"\(KimeraVersion.current)\",\"uptime_s\":\(engine.uptimeSeconds)\(instance)}"
            return Response(
                status: .ok, headers: [.contentType: "application/json", .contentLength: String(body.utf8.count)],
                body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
        routes.get("/ready") { _, _ in
            if let problem = readiness.problem { throw APIError.unavailable(problem) }
            return JSONBody.response(ReadyResponse(status: "ready"))
        }
        routes.get("/", cacheable: true) { request, _ in
            _ = try QueryReader(request).bool("bypass_cache")
            let runtime = engine.runtime
            let mode = runtime.mode
            return JSONBody.response(
                RootResponse(
                    message: "Kimera SWM hybrid server",
                    kimeraStatus: readiness.problem == nil ? "operational" : "starting",
                    timestamp: Double(Timestamp.wallNanos()) / 1e9,
                    mode: ModeFlags(
                        debug: mode.debug, performance: mode.performance, profiling: runtime.profiling,
                        name: mode.rawValue),
                    features: FeatureFlags(
                        cacheEnabled: mode.performance, compressionEnabled: false, asyncEnabled: mode.asynchronousSinks,
                        debugAPI: true, requestTracing: true)))
        }
    }
}
