/// The machine-readable `error` of every error body: API.md §1 "Errors" says when each is used, and the
/// document's `ErrorBody.error` enum lists the same values (ResponseSchemaTests checks the two agree).
public enum ErrorCode: String, Sendable, Codable, CaseIterable {
    /// 400: a query or path parameter.
    case invalidParameter = "invalid_parameter"
    /// 400: the JSON body.
    case invalidBody = "invalid_body"
    /// 400: bytes that are not valid HTTP/1.1, refused before routing.
    case badRequest = "bad_request"
    case unauthorized
    case forbidden
    /// 404.
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
    /// 408.
    case timeout
    /// 409: a CPU profile is running already.
    case conflict
    case payloadTooLarge = "payload_too_large"
    case uriTooLong = "uri_too_long"
    case unsupportedMediaType = "unsupported_media_type"
    case headersTooLarge = "headers_too_large"
    /// 500: the details stay in the log.
    case `internal`
    /// 501: a `Transfer-Encoding` other than chunked.
    case notImplemented = "not_implemented"
    /// 503: a dependency (the vault, the job table) cannot serve now.
    case unavailable
    /// Any other status the framework itself produces.
    case error
}
