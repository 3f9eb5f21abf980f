#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import HTTPTypes
import Hummingbird
import KimeraModels
import KimeraObservability
import NIOCore
import OpenAPIRuntime

/// The route table is the transport of the generated server (docs/ARCHITECTURE.md "The contract"): the
/// generated `registerHandlers` registers each operation of `openapi.json` here, on the same router, so
/// that the middleware, the response cache, the 405 handling and the fast path treat a generated route as
/// they treat one registered by hand.
///
/// What the generated code sees is what Kimera decided once, on the router's match:
/// - the query is the router's one `ParsedQuery`, the first value of each name, re-encoded (the generated
///   decoding would refuse a repeated name, where Kimera reads the first);
/// - the path parameters are the router's, encoded so that the generated decoding gives them back as the
///   router matched them;
/// - a JSON body has already passed Kimera's checks (413 past the limit, 400 when empty, 415 for another
///   type), so the generated decoding only decodes;
/// - no header is handed on (the document declares no header parameter): without `Accept` the generated
///   code answers JSON whatever a client accepts, as Kimera always has, and `Content-Type` Kimera has
///   already checked.
///
/// A route already registered by hand (`/health`, the log stream, pprof, …) keeps its handler; the
/// generated one is not registered.
extension RouteTable: ServerTransport {
    func register(
        _ handler:
            @escaping @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (
                HTTPResponse, HTTPBody?
            ),
        method: HTTPRequest.Method,
        path: String
    ) throws {
        if routes.contains(where: { $0.path == path && $0.methods.contains(method) }) { return }
        let operation = try ContractFacts.shared.operation(method, path)
        let bodyLimit = self.bodyLimit
        on(path, method, cacheable: operation.cacheable) { request, context in
            // No operation declares a header parameter, so the generated code gets none: without `Accept`
            // it answers JSON, and without `Content-Type` it takes the document's one type for a body,
            // which `JSONBody.bytes` has checked, instead of parsing the MIME type again.
            let head = HTTPRequest(
                method: request.method, scheme: nil, authority: nil,
                path: OpenAPIRequestParts.target(path: request.uri.path, query: ParsedQuery(request.uri.query)))
            var body: HTTPBody?
            if operation.hasJSONBody {
                body = HTTPBody(Array(try await JSONBody.bytes(from: request, limit: bodyLimit).readableBytesView))
            }
            let metadata = ServerRequestMetadata(pathParameters: OpenAPIRequestParts.pathParameters(context.parameters))
            let (response, responseBody) = try await OperationTiming.serving {
                do {
                    return try await handler(head, body, metadata)
                } catch let error as ServerError {
                    // The handler's own error (an APIError, a vault error) or the decoding's, as Kimera maps it.
                    throw error.underlyingError
                }
            }
            return try await OpenAPIRequestParts.response(response, body: responseBody)
        }
    }
}

/// Turns the router's reading of a request into the generated code's, and its answer back.
enum OpenAPIRequestParts {
    /// `path?name=value&…`: each name once, its first value, percent-encoded.
    static func target(path: String, query: ParsedQuery) -> String {
        guard !query.pairs.isEmpty else { return path }
        var seen = Set<String>()
        var target = path
        for pair in query.pairs where seen.insert(pair.name).inserted {
            target += seen.count == 1 ? "?" : "&"
            target += encoded(pair.name) + "=" + encoded(pair.value)
        }
        return target
    }

    static func pathParameters(_ parameters: Parameters) -> [String: Substring] {
        var result: [String: Substring] = [:]
        for (name, value) in parameters { result[String(name)] = Substring(encoded(String(value))) }
        return result
    }

    /// Every byte but the unreserved ones (RFC 3986 §2.3) percent-encoded: the generated decoding, which
    /// also reads `+` as a space, returns exactly `text`.
    static func encoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                bytes.append(byte)
            default:
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The generated answer as Kimera sends its JSON: `Content-Type: application/json` (the generated code
    /// says `; charset=utf-8`, which JSON does not need) and a `Content-Length`.
    static func response(_ response: HTTPResponse, body: HTTPBody?) async throws -> Response {
        var headers = response.headerFields
        guard let body else {
            return Response(status: response.status, headers: headers)
        }
        // The generated code encodes the answer in one piece; it is copied once, into the buffer sent.
        var buffer = ByteBuffer()
        if case .known(let length) = body.length { buffer.reserveCapacity(Int(length)) }
        for try await chunk in body { buffer.writeBytes(chunk) }
        if let type = headers[.contentType], type.hasPrefix("application/json") {
            headers[.contentType] = "application/json"
        }
        headers[.contentLength] = String(buffer.readableBytes)
        return Response(status: response.status, headers: headers, body: ResponseBody(byteBuffer: buffer))
    }
}

/// For a request escalated with `X-Kimera-Debug`: the time the generated code spends around an operation
/// (decoding its input, encoding its answer) is the request's `serialization` in `Server-Timing`. The
/// operation itself times its run with `measured` (`KimeraAPIService`); nothing is read or kept unless a
/// request is escalated.
final class OperationTiming: @unchecked Sendable {
    /// Written once by the operation's task, read after it returned by the same request's task.
    private var operationNanos: Int64 = 0

    @TaskLocal static var current: OperationTiming?

    static func serving<T>(_ body: () async throws -> T) async throws -> T {
        guard RequestEscalation.anyActive, let escalation = RequestScope.escalation else { return try await body() }
        let timing = OperationTiming()
        let start = Timestamp.monotonicNanos()
        defer {
            let total = Timestamp.monotonicNanos() - start
            escalation.add(.serialization, nanos: max(0, total - timing.operationNanos))
        }
        return try await $current.withValue(timing) { try await body() }
    }

    /// Runs an operation's own work, timed when its request is escalated.
    @inline(__always)
    static func measured<T>(_ body: () async throws -> T) async rethrows -> T {
        guard RequestEscalation.anyActive, let timing = current else { return try await body() }
        let start = Timestamp.monotonicNanos()
        defer { timing.operationNanos += Timestamp.monotonicNanos() - start }
        return try await body()
    }
}

/// What the routes need to know of each operation, read once from the embedded `openapi.json`: whether
/// it takes a JSON body, and whether its GET answers may be cached (it declares `bypass_cache`).
struct ContractFacts: Sendable {
    struct Operation: Sendable {
        var hasJSONBody: Bool
        var cacheable: Bool
    }

    /// `METHOD path` → facts.
    let operations: [String: Operation]

    static let shared = ContractFacts(document: OpenAPIDocument.json)

    /// Reads only what it needs, skipping the schemas without building them: the whole document as a
    /// `JSONValue` added about 30 ms to a server's start (time to ready 27 → 56 ms); this adds nothing
    /// measurable.
    init(document: String) {
        let paths = (try? JSONBody.decoder.decode(Document.self, from: Data(document.utf8)).paths) ?? [:]
        var operations: [String: Operation] = [:]
        for (path, item) in paths {
            for (method, operation) in item.operations {
                operations["\(method.uppercased()) \(path)"] = Operation(
                    hasJSONBody: operation.requestBody?.content["application/json"] != nil,
                    cacheable: operation.parameters?.contains { $0.name == "bypass_cache" } ?? false)
            }
        }
        self.operations = operations
    }

    /// The parts of the document read here.
    private struct Document: Decodable {
        var paths: [String: PathItem]

        struct PathItem: Decodable {
            var operations: [String: DocumentOperation] = [:]

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: AnyKey.self)
                for key in container.allKeys where ["get", "put", "post", "delete", "patch"].contains(key.stringValue) {
                    operations[key.stringValue] = try container.decode(DocumentOperation.self, forKey: key)
                }
            }
        }

        struct DocumentOperation: Decodable {
            var requestBody: RequestBody?
            var parameters: [Parameter]?
        }

        struct RequestBody: Decodable {
            var content: [String: Skipped]
        }

        struct Parameter: Decodable {
            var name: String?
        }

        /// A value whose contents do not matter here.
        struct Skipped: Decodable {
            init(from decoder: any Decoder) throws {}
        }

        struct AnyKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
    }

    func operation(_ method: HTTPRequest.Method, _ path: String) throws -> Operation {
        guard let facts = operations["\(method.rawValue) \(path)"] else {
            throw ContractError(message: "openapi.json has no operation \(method.rawValue) \(path)")
        }
        return facts
    }

    struct ContractError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
