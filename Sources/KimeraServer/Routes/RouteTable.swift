import Hummingbird
import KimeraCore
import KimeraModels
import KimeraObservability
import Synchronization

/// The route templates whose GET responses may be cached.
final class CacheableRoutes: Sendable {
    /// Protects the set; written while routes register, read on cache misses.
    private let routes = Mutex<Set<String>>([])

    func insert(_ route: String) { routes.withLock { _ = $0.insert(route) } }
    func contains(_ route: String) -> Bool { routes.withLock { $0.contains(route) } }
}

/// Registers routes on the router and remembers them, so that a wrong method on a known path gets a
/// 405 with `Allow` (not a 404), and so that the OpenAPI document can be checked against the routes.
final class RouteTable<Context: RequestContext> {
    let router: Router<Context>
    /// Path template → methods, in registration order.
    private(set) var routes: [(path: String, methods: [HTTPRequest.Method])] = []
    /// Filled as routes register; the cache middleware, added before them, reads it.
    let cacheable = CacheableRoutes()

    init(router: Router<Context>) {
        self.router = router
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

    /// Adds 405 responders for the common methods a path does not serve.
    func addMethodNotAllowed() {
        let all: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch]
        for (path, methods) in routes {
            let allow = methods.map(\.rawValue).joined(separator: ", ")
            for method in all where !methods.contains(method) {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    var error = APIError(
                        .methodNotAllowed, code: "method_not_allowed",
                        message: "\(request.method.rawValue) is not allowed on \(path); use \(allow).",
                        allowed: methods.map(\.rawValue))
                    error.headers[.allow] = allow
                    throw error
                }
            }
        }
    }
}
