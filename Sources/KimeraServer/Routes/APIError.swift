#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import Hummingbird
import NIOCore
import KimeraCore
import KimeraModels
import KimeraObservability

/// An error with everything the error body of docs/API.md §1 needs. Handlers throw it; the tracing
/// middleware turns it (and any other error) into that body.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: ErrorCode
    public var message: String
    public var parameter: String?
    public var allowed: [String]?
    public var headers: HTTPFields = [:]

    public init(
        _ status: HTTPResponse.Status, code: ErrorCode, message: String, parameter: String? = nil,
        allowed: [String]? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter
        self.allowed = allowed
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public static func invalidParameter(_ name: String, _ message: String, allowed: [String]? = nil) -> APIError {
        APIError(.badRequest, code: .invalidParameter, message: message, parameter: name, allowed: allowed)
    }

    public static func invalidBody(_ message: String) -> APIError {
        APIError(.badRequest, code: .invalidBody, message: message)
    }

    public static func notFound(_ message: String) -> APIError {
        APIError(.notFound, code: .notFound, message: message)
    }

    public static func unavailable(_ message: String) -> APIError {
        APIError(.serviceUnavailable, code: .unavailable, message: message)
    }

    /// The code docs/API.md §1 gives a status.
    static func code(for status: HTTPResponse.Status) -> ErrorCode {
        switch status.code {
        case 400: return .invalidParameter
        case 401: return .unauthorized
        case 403: return .forbidden
        case 404: return .notFound
        case 405: return .methodNotAllowed
        case 408: return .timeout
        case 409: return .conflict
        case 413: return .payloadTooLarge
        case 414: return .uriTooLong
        case 415: return .unsupportedMediaType
        case 431: return .headersTooLarge
        case 503: return .unavailable
        case 500...: return .internal
        default: return .error
        }
    }

    /// Maps whatever a handler threw to an APIError a person can act on. Unknown errors are 500s whose
    /// details stay in the log, never in the response.
    static func from(_ error: any Error, method: HTTPRequest.Method, path: String) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as any APIErrorConvertible:
            return error.apiError
        case let error as HTTPError:
            let status = error.status
            var message = error.body ?? status.reasonPhrase
            switch status.code {
            case 404: message = "No route matches \(method.rawValue) \(path)."
            case 413: message = "The request body is larger than the server accepts."
            default: break
            }
            var result = APIError(status, code: code(for: status), message: message)
            result.headers = error.headers
            return result
        case let error as DecodingError:
            return .invalidBody(DecodingErrorText.describe(error))
        case is EncodingError:
            // A value JSON cannot carry (a non-finite number): a 500 that says so, never a 200 with an error inside.
            return APIError(.internalServerError, code: .internal, message: "The response could not be encoded as JSON.")
        case let error as NIOTooManyBytesError:
            // A body without Content-Length (chunked) that grew past a limit while it was read.
            let limit = error.maxBytes.map { " of \($0) bytes" } ?? ""
            return APIError(
                .contentTooLarge, code: .payloadTooLarge,
                message: "The request body is larger than the limit\(limit).")
        default:
            return APIError(
                .internalServerError, code: .internal,
                message: "The server failed to handle the request; the log has the details under its request id.")
        }
    }

    func response(requestID: String) -> Response {
        let body = ErrorBody(
            error: code.rawValue, message: message, requestID: requestID, parameter: parameter, allowed: allowed)
        var response = JSONBody.response(body, status: status)
        for field in headers { response.headers.append(field) }
        return response
    }
}

/// Errors of other layers (core, vault) that know their HTTP meaning.
public protocol APIErrorConvertible: Error {
    var apiError: APIError { get }
}

/// A DecodingError said the way a person would: which field, what was wrong.
enum DecodingErrorText {
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let names = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return names.isEmpty ? "the body" : "field \"\(names.joined(separator: "."))\""
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "Wrong type for \(path(context)): expected \(JSONTypeName.of(type))."
        case .valueNotFound(let type, let context):
            return "Missing value for \(path(context)): expected \(JSONTypeName.of(type))."
        case .keyNotFound(let key, _):
            return "Missing required field \"\(key.stringValue)\"."
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "The body is not valid JSON." }
            return "Invalid value for \(path(context)): \(context.debugDescription)"
        @unknown default:
            return "The body could not be decoded."
        }
    }
}

enum JSONTypeName {
    static func of(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Double.Type, is Float.Type, is Int.Type, is Int64.Type, is UInt64.Type: return "a number"
        case is [Any].Type: return "an array"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "an object"
        }
    }
}

/// JSON bodies, encoded once with a shared encoder. Keys are sorted, so the same value is always the
/// same bytes (dictionaries such as `features` or `endpoints` have no order of their own): diffs, caches
/// and eyes can rely on it.
enum JSONBody {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
    static let decoder = JSONDecoder()

    /// The value's JSON; an escalated request counts its time under `serialization` in `Server-Timing`.
    static func buffer<T: Encodable>(_ value: T) throws -> ByteBuffer {
        try RequestEscalation.timed(.serialization) { ByteBuffer(data: try encoder.encode(value)) }
    }

    /// The value as a JSON response; a value JSON cannot carry (a non-finite number) is a 500 that says
    /// so, never a 200 with an error inside.
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let buffer: ByteBuffer
        let sent: HTTPResponse.Status
        do {
            buffer = try self.buffer(value)
            sent = status
        } catch {
            buffer = ByteBuffer(
                string:
                    #"{"error":"internal","message":"The response could not be encoded as JSON.","request_id":"\#(RequestScope.requestID ?? "")"}"#
            )
            sent = .internalServerError
        }
        return Response(
            status: sent, headers: [.contentType: "application/json", .contentLength: String(buffer.readableBytes)],
            body: ResponseBody(byteBuffer: buffer))
    }

    /// The bytes of a JSON body, not yet decoded: 413 past `limit`, 400 when there are none, 415 when
    /// they are said to be another type.
    static func bytes(from request: Request, limit: Int) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw APIError(
                .contentTooLarge, code: .payloadTooLarge,
                message: "The request body is \(length) bytes; the limit is \(limit).")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(
                .contentTooLarge, code: .payloadTooLarge,
                message: "The request body is larger than the limit of \(limit) bytes.")
        } catch is NIOTooManyBytesError {
            // A chunked body has no Content-Length to refuse up front: it is refused once it passes the limit.
            throw APIError(
                .contentTooLarge, code: .payloadTooLarge,
                message: "The request body is larger than the limit of \(limit) bytes.")
        }
        guard buffer.readableBytes > 0 else {
            throw APIError.invalidBody("The request needs a JSON body.")
        }
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
            throw APIError(
                .unsupportedMediaType, code: .unsupportedMediaType,
                message: "Send the body as application/json, not \(type).")
        }
        return buffer
    }
}
