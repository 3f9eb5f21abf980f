import Hummingbird

/// `GET /openapi.json`: the OpenAPI 3.1 document of the whole API, compiled into the binary from
/// `openapi.json` at the repository root (the two are kept identical by a test).
enum OpenAPIRoute {
    static func register<Context: RequestContext>(on routes: RouteTable<Context>) {
        routes.get("/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
    }
}
