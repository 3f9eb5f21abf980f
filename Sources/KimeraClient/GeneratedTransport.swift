import Foundation
import HTTPTypes
import KimeraAPI
import KimeraModels
import OpenAPIRuntime

/// What the client generated from openapi.json sends its requests through: `KimeraClient.send`, so a generated
/// operation keeps what Kimera adds to every request — PlainHTTP for one-shot plain HTTP (docs/CLI.md
/// "Start-up"), AsyncHTTPClient otherwise, the client's timeout, token and `User-Agent`, and the
/// classification of failures into exit codes (`ClientError`).
///
/// A status outside 2xx is thrown here as `ClientError.status` with the decoded error body, as the
/// hand-written methods did, so a caller of a generated operation reads only its 2xx answer.
struct GeneratedTransport: ClientTransport {
    let client: KimeraClient

    func send(_ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String) async throws -> (
        HTTPResponse, HTTPBody?
    ) {
        let data: Data? =
            if let body { try await Data(collecting: body, upTo: KimeraClient.maxBodyBytes) } else { nil }
        // The body's length is the transport's to frame: a second Content-Length (the generated client sets
        // one) makes the request invalid HTTP/1.1.
        let answer = try await client.send(
            request.method.rawValue, request.path ?? "/", body: data,
            headers: request.headerFields.filter { $0.name != .contentLength }.map { ($0.name.rawName, $0.value) })
        try answer.requireSuccess()
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return (HTTPResponse(status: .init(code: answer.status), headerFields: fields), HTTPBody(answer.body))
    }
}

extension KimeraClient {
    /// Runs one operation of the generated client over this client's transport. Failures come out as
    /// Kimera's `ClientError`: what the transport threw as it was, an answer that does not decode as
    /// `undecodable` naming the field.
    func generated<Answer>(_ operation: (Client) async throws -> Answer) async throws -> Answer {
        guard let url = URL(string: baseURL) else {
            throw ClientError.invalidURL(baseURL, reason: "expected http://HOST[:PORT]")
        }
        let client = Client(serverURL: url, transport: GeneratedTransport(client: self))
        do {
            return try await operation(client)
        } catch let error as OpenAPIRuntime.ClientError {
            if let failure = error.underlyingError as? ClientError { throw failure }
            let target = baseURL + (error.request?.path ?? "")
            throw ClientError.undecodable(
                url: target, type: "\(Answer.self)", detail: RawResponse.describe(error.underlyingError))
        }
    }
}
