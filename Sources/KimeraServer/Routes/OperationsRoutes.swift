#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import HTTPTypes
import Hummingbird
import KimeraAPI
import KimeraCore
import KimeraModels
import KimeraObservability
import NIOCore
import Synchronization

/// `GET /health` and `GET /`, served by hand (`KimeraAPIService.handServed` says why).
enum OperationsRoutes {
    static func register<Context: RequestContext>(
        on routes: RouteTable<Context>, engine: ObservabilityEngine, readiness: Readiness
    ) {
        let health = HealthBody(engine: engine)
        routes.get("/health") { _, _ in
            let body = health.render(ByteBufferAllocator())
            return Response(status: .ok, headers: health.headers(for: body), body: ResponseBody(byteBuffer: body))
        }
        routes.get("/", cacheable: true) { request, _ in
            _ = try QueryReader(request).bool("bypass_cache")
            let runtime = engine.runtime
            let mode = runtime.mode
            return JSONBody.response(
                RootResponse(
                    message: "Kimera SWM hybrid server",
                    kimeraStatus: readiness.problem == nil ? .operational : .starting,
                    timestamp: Double(Timestamp.wallNanos()) / 1e9,
                    mode: ModeFlags(
                        debug: mode.debug, performance: mode.performance, profiling: runtime.profiling, name: mode),
                    features: FeatureFlags(
                        cacheEnabled: mode.performance, compressionEnabled: false, asyncEnabled: mode.asynchronousSinks,
                        debugAPI: true, requestTracing: true)))
        }
    }
}

/// The body and headers of `GET /health`, for the route and the event-loop fast path alike. The health
/// check is the most called endpoint: its body is written straight into a buffer, not through
/// JSONEncoder (same fields as `HealthResponse`; a test decodes it as one). The instance id is checked at
/// configuration time to need no JSON escaping.
struct HealthBody: Sendable {
    let engine: ObservabilityEngine
    private let head: String
    private let middle: String
    private let tail: String

    init(engine: ObservabilityEngine) {
        self.engine = engine
        head = "{\"status\":\"healthy\",\"timestamp\":"
        middle = ",\"service\":\"kimera\",\"version\":\"\(KimeraVersion.current)\",\"uptime_s\":"
        tail = (engine.instanceID.map { ",\"instance_id\":\"\($0)\"" } ?? "") + "}"
    }

    /// The body now (its timestamp and uptime change with every call).
    func render(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 160)
        buffer.writeString(head)
        buffer.writeString(String(Timestamp.wallNanos() / 1_000_000))
        buffer.writeString(middle)
        buffer.writeString(String(engine.uptimeSeconds))
        buffer.writeString(tail)
        return buffer
    }

    func headers(for body: ByteBuffer) -> HTTPFields {
        var headers = HTTPFields()
        // These two, and room for the ones appended after them.
        headers.reserveCapacity(2 + RequestRecording.appendedHeaderCount)
        headers.append(HTTPField(name: .contentType, value: "application/json"))
        headers.append(HTTPField(name: .contentLength, value: String(body.readableBytes)))
        return headers
    }
}
