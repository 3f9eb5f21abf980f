import HTTPTypes
import Hummingbird
import KimeraObservability

/// The router's responder behind one step: a request whose target is not canonical (`RequestTarget`) is
/// rewritten to the canonical form first. So the router matches every spelling of a route as that route,
/// and everything decided on its match — access control, the response cache, the route's statistics — is
/// decided once, on one form. A canonical target (the common case) costs one scan.
struct CanonicalTargetResponder<Inner: HTTPResponder>: HTTPResponder {
    typealias Context = Inner.Context
    let inner: Inner

    func respond(to request: Request, context: Context) async throws -> Response {
        guard let target = request.head.path, let canonical = RequestTarget.canonical(target) else {
            return try await inner.respond(to: request, context: context)
        }
        var head = request.head
        head.path = canonical
        return try await inner.respond(to: Request(head: head, body: request.body), context: context)
    }
}

/// Builds the router's responder wrapped in `CanonicalTargetResponder`: what the application serves.
struct CanonicalTargetRouter<Builder: HTTPResponderBuilder>: HTTPResponderBuilder {
    let router: Builder

    func buildResponder() -> CanonicalTargetResponder<Builder.Responder> {
        CanonicalTargetResponder(inner: router.buildResponder())
    }
}
