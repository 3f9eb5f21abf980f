import Hummingbird
import KimeraCore
import KimeraModels
import KimeraObservability
import Synchronization

/// The route templates whose GET responses may be cached.
final class CacheableRoutes: Sendable {
    /// Protects the set; written while routes register, read on cache misses.
    private let routes = Mutex<Set<String>>([])

    func insert(_ route: String) { routes.locked { _ = $0.insert(route) } }
    func contains(_ route: String) -> Bool { routes.locked { $0.contains(route) } }
}

/// Every registered path template and its methods, so that any other method on a known path (`TRACE`,
/// `QUERY`, a typo) gets a 405 with `Allow` instead of a 404 (`MethodNotAllowedMiddleware`).
final class KnownRoutes: Sendable {
    struct Entry: Sendable {
        var path: String
        /// Literal segments, nil for a `{parameter}`.
        var segments: [String?]
        var methods: [String]
    }
    /// Protects the entries; written while routes register, read only for requests that matched nothing.
    private let entries = Mutex<[Entry]>([])

    func insert(_ path: String, method: String) {
        entries.locked { entries in
            if let index = entries.firstIndex(where: { $0.path == path }) {
                entries[index].methods.append(method)
            } else {
                let segments = path.split(separator: "/").map { $0.hasPrefix("{") ? nil : String($0) }
                entries.append(Entry(path: path, segments: segments, methods: [method]))
            }
        }
    }

    /// The template a request path falls under and its methods; a literal template wins over one with
    /// parameters (`/kimera/geoids/search` over `/kimera/geoids/{id}`), as in the router.
    func match(_ path: String) -> (path: String, methods: [String])? {
        let parts = path.split(separator: "/")
        let candidates = entries.locked { entries in
            entries.filter { entry in
                entry.segments.count == parts.count
                    && zip(entry.segments, parts).allSatisfy { segment, part in segment.map { $0 == part } ?? true }
            }
        }
        let best = candidates.min { $0.segments.filter { $0 == nil }.count < $1.segments.filter { $0 == nil }.count }
        return best.map { ($0.path, $0.methods) }
    }
}

/// Registers routes on the router and remembers them: for the 405 of a known path with another method,
/// and so that the OpenAPI document can be checked against the routes.
final class RouteTable<Context: RequestContext> {
    let router: Router<Context>
    /// Path template → methods, in registration order.
    private(set) var routes: [(path: String, methods: [HTTPRequest.Method])] = []
    /// Filled as routes register; the cache middleware, added before them, reads it.
    let cacheable = CacheableRoutes()
    /// Filled as routes register; the 405 middleware, added before them, reads it.
    let known = KnownRoutes()
    /// The largest request body a route reads.
    let bodyLimit: Int

    init(router: Router<Context>, bodyLimit: Int) {
        self.router = router
        self.bodyLimit = bodyLimit
    }

    func on(
        _ path: String, _ method: HTTPRequest.Method, cacheable isCacheable: Bool = false,
        use handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) {
        router.on(RouterPath(path), method: method, use: handler)
        if let index = routes.firstIndex(where: { $0.path == path }) {
            routes[index].methods.append(method)
        } else {
            routes.append((path, [method]))
        }
        if isCacheable { cacheable.insert(path) }
        known.insert(path, method: method.rawValue)
    }

    func get(
        _ path: String, cacheable: Bool = false,
        use handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) {
        on(path, .get, cacheable: cacheable, use: handler)
    }

    func post(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Response) {
        on(path, .post, use: handler)
    }

    func delete(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Response) {
        on(path, .delete, use: handler)
    }
}
