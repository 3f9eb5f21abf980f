import HTTPTypes
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
    let connections: ConnectionRegistry

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if let refusal = refusal(uri: request.uri.description, headers: request.headers) { throw refusal }
        return try await next(request, context)
    }

    /// The error a request gets for the first limit it breaks, nil when it breaks none. The event-loop
    /// fast path asks the same question and leaves a refused request to this middleware.
    func refusal(uri: String, headers: HTTPFields) -> APIError? {
        if connections.count > settings.maxConnections {
            var error = APIError.unavailable(
                "The server has \(settings.maxConnections) open connections, its limit; retry shortly.")
            error.headers[.connection] = "close"
            error.headers[.retryAfter] = "1"
            return error
        }
        if uri.utf8.count > settings.maxURIBytes {
            return APIError(
                .uriTooLong, code: .uriTooLong,
                message: "The request URI is longer than \(settings.maxURIBytes) bytes.")
        }
        var headerBytes = 0
        for field in headers { headerBytes += field.name.rawName.utf8.count + field.value.utf8.count + 4 }
        if headerBytes > settings.maxHeaderBytes {
            return APIError(
                .requestHeaderFieldsTooLarge, code: .headersTooLarge,
                message: "The request headers are larger than \(settings.maxHeaderBytes) bytes.")
        }
        if let length = headers[.contentLength] {
            guard let bytes = Int(length), bytes >= 0 else {
                return APIError(
                    .badRequest, code: .invalidBody, message: "Content-Length \(length) is not a byte count.")
            }
            if bytes > maxBodyBytes {
                return APIError(
                    .contentTooLarge, code: .payloadTooLarge,
                    message: "The request body is \(bytes) bytes; the limit is \(maxBodyBytes).")
            }
        }
        return nil
    }
}
