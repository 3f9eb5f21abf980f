import Hummingbird
import KimeraCore
import KimeraModels
import KimeraObservability
import NIOCore
import Synchronization

/// Limits with JSON errors: URI length (414), header bytes (431), declared body size (413), and
/// the concurrent-connection cap (503 with `Connection: close`).
struct RequestLimitsMiddleware: RouterMiddleware {
    typealias Context = KimeraRequestContext
    let settings: SecuritySettings
    let maxBodyBytes: Int
    let connections: ConnectionCounter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if connections.count > settings.maxConnections {
            var error = APIError.unavailable(
                "The server has \(settings.maxConnections) open connections, its limit; retry shortly.")
            error.headers[.connection] = "close"
            error.headers[.retryAfter] = "1"
            throw error
        }
        if request.uri.description.utf8.count > settings.maxURIBytes {
            throw APIError(
                .uriTooLong, code: "uri_too_long",
                message: "The request URI is longer than \(settings.maxURIBytes) bytes.")
        }
        var headerBytes = 0
        for field in request.headers { headerBytes += field.name.rawName.utf8.count + field.value.utf8.count + 4 }
        if headerBytes > settings.maxHeaderBytes {
            throw APIError(
                .requestHeaderFieldsTooLarge, code: "headers_too_large",
                message: "The request headers are larger than \(settings.maxHeaderBytes) bytes.")
        }
        if let length = request.headers[.contentLength] {
            guard let bytes = Int(length), bytes >= 0 else {
                throw APIError(
                    .badRequest, code: "invalid_body", message: "Content-Length \(length) is not a byte count.")
            }
            if bytes > maxBodyBytes {
                throw APIError(
                    .contentTooLarge, code: "payload_too_large",
                    message: "The request body is \(bytes) bytes; the limit is \(maxBodyBytes).")
            }
        }
        return try await next(request, context)
    }
}
