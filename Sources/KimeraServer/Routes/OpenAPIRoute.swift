import Hummingbird

/// `GET /openapi.json`: the OpenAPI 3.1 document of the whole API, compiled into the binary from
/// `openapi.json` at the repository root (the two are kept identical by a test).
enum OpenAPIRoute {
    /// The document's bytes, built once: every response shares this buffer (ByteBuffer is copy-on-write
    /// and writing it never mutates it), so serving ~190 KB costs no copy per request.
    static let body = ByteBuffer(string: OpenAPIDocument.json)

    static func register<Context: RequestContext>(on routes: RouteTable<Context>) {
        routes.get("/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: body))
        }
    }
}
