import Hummingbird

/// Turns the router's 404 for a path that exists under other methods into a 405 `method_not_allowed`
/// with `Allow` and `allowed` (docs/API.md §1), whatever the method: `TRACE`, `QUERY` or a typo. It runs
/// only for requests no route took, so it costs nothing on the others.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = KimeraRequestContext
    let known: KnownRoutes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let route = known.match(request.uri.path) else { throw error }
            let allow = route.methods.joined(separator: ", ")
            var refusal = APIError(
                .methodNotAllowed, code: .methodNotAllowed,
                message: "\(request.method.rawValue) is not allowed on \(route.path); use \(allow).",
                allowed: route.methods)
            refusal.headers[.allow] = allow
            throw refusal
        }
    }
}
