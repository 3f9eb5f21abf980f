import HTTPTypes
import Hummingbird
import KimeraCore
import KimeraModels
import KimeraObservability
import Synchronization

/// Serves cacheable GET routes from the response cache while the performance flag is on
/// (docs/API.md §4): `X-Cache: HIT|MISS|BYPASSED`, `X-Cache-Age` on hits, `Cache-Control` on cacheable
/// routes, `?bypass_cache=true` to skip it. Only 200 responses are stored, keyed by path and query
/// (`ResponseCache.key`: parameter order and the cache's own `bypass_cache` do not make a new entry).
struct ResponseCacheMiddleware: RouterMiddleware {
    typealias Context = KimeraRequestContext
    let cache: ResponseCache
    let runtime: RuntimeConfiguration
    /// Route templates whose GET responses may be cached.
    let cacheableRoutes: CacheableRoutes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        // The router's match decides (the target is canonical by now, `RequestTarget`); the key is made
        // from the same parsed query the handler reads.
        guard request.method == .get, runtime.performance, let route = context.endpointPath,
            cacheableRoutes.contains(route)
        else {
            return try await next(request, context)
        }
        let query = ParsedQuery(request.uri.query)
        // An escalated request (`X-Kimera-Debug`) is served by its handler, as `bypass_cache=true` is.
        let bypass =
            try QueryReader(parsed: query).bool(ResponseCache.bypassParameter) ?? false
            || RequestScope.escalation != nil
        if bypass {
            var response = try await next(request, context)
            response.headers[.xCache] = "BYPASSED"
            response.headers[.cacheControl] = cacheControl(route)
            return response
        }
        let key = ResponseCache.key(path: request.uri.path, parsed: query)
        if let hit = cache.lookup(key) {
            return Response(
                status: hit.status, headers: Self.headers(of: hit), body: ResponseBody(byteBuffer: hit.body))
        }
        let response = try await next(request, context)
        guard response.status == .ok else { return response }
        cache.recordMiss()
        let collected = CollectedBody()
        try await response.body.write(CollectingWriter(target: collected))
        let body = collected.buffer.locked { $0 }
        var stored = response.headers
        stored[.cacheControl] = cacheControl(route)
        var headers = stored
        headers.append(HTTPField(name: .xCache, value: "MISS"))
        cache.store(
            key, route: route, status: response.status, headers: stored, body: body,
            ttlSeconds: runtime.cacheTTL(for: route))
        return Response(status: response.status, headers: headers, body: ResponseBody(byteBuffer: body))
    }

    /// The headers of a hit as stored (`Cache-Control` included) plus `X-Cache: HIT` and `X-Cache-Age`;
    /// room is reserved for the ones appended after (`RequestRecording.appendedHeaderCount`).
    static func headers(of hit: ResponseCache.Hit) -> HTTPFields {
        var headers = hit.headers
        headers.reserveCapacity(headers.count + 2 + RequestRecording.appendedHeaderCount)
        headers.append(HTTPField(name: .xCache, value: "HIT"))
        headers.append(HTTPField(name: .xCacheAge, value: seconds(hit.ageNanos)))
        return headers
    }

    private func cacheControl(_ route: String) -> String {
        let ttl = runtime.cacheTTL(for: route)
        return "public, max-age=\(Int(ttl.rounded(.up)))"
    }

    /// Seconds with 3 decimals.
    static func seconds(_ nanos: Int64) -> String {
        let millis = max(0, nanos / 1_000_000)
        let fraction = String(millis % 1000)
        return "\(millis / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}

/// Where a `CollectingWriter` puts the bytes (the writer itself is consumed by `ResponseBody.write`).
final class CollectedBody: Sendable {
    /// Protects the collected bytes.
    let buffer = Mutex<ByteBuffer>(ByteBuffer())
}

/// Collects a response body into one buffer (for storing a response in the cache).
struct CollectingWriter: ResponseBodyWriter {
    let target: CollectedBody

    mutating func write(_ buffer: ByteBuffer) async throws {
        target.buffer.locked { collected in
            var copy = buffer
            collected.writeBuffer(&copy)
        }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
