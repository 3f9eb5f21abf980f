import AsyncHTTPClient
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a request to the Kimera server failed, in terms an operator can act on. The command line maps
/// each case to one exit code (`docs/CLI.md`: timeout 2, unreachable 3, 4xx 4, 5xx 5).
public enum ClientError: Error, Sendable, Equatable {
    /// The base URL cannot be used: not http(s), no host, or not a URL at all.
    case invalidURL(String, reason: String)
    /// Nothing answered: connection refused, host unknown, network unreachable.
    case unreachable(url: String, reason: String)
    /// No complete answer within the timeout.
    case timeout(url: String, seconds: Double)
    /// The server answered with an error status; `body` is its decoded error body when it sent one.
    case status(Int, body: ErrorBody?, url: String)
    /// The server answered 2xx with a body that is not the expected model.
    case undecodable(url: String, type: String, detail: String)
    /// The request was cancelled (Ctrl-C).
    case cancelled
    /// Anything else the transport reported.
    case transport(url: String, detail: String)

    /// One line for a person: the server's own message for an HTTP error, else what went wrong and where.
    public var message: String {
        switch self {
        case .invalidURL(let url, let reason):
            return "invalid URL '\(url)': \(reason)"
        case .unreachable(let url, let reason):
            return "cannot reach \(url): \(reason). Is `kimera serve` running there? (--url / KIMERA_URL)"
        case .timeout(let url, let seconds):
            return
                "no answer from \(url) within \(Self.format(seconds: seconds)) (raise --timeout if the server is busy)"
        case .status(let code, let body, let url):
            if let body { return "\(body.message) (HTTP \(code) \(body.error))" }
            return "the server answered HTTP \(code) for \(url)"
        case .undecodable(let url, let type, let detail):
            return "unexpected answer from \(url): not a \(type) (\(detail))"
        case .cancelled:
            return "interrupted"
        case .transport(let url, let detail):
            return "request to \(url) failed: \(detail)"
        }
    }

    /// The HTTP status when the server answered with an error.
    public var httpStatus: Int? {
        if case .status(let code, _, _) = self { return code }
        return nil
    }

    static func format(seconds: Double) -> String {
        seconds < 1 ? "\(Int((seconds * 1000).rounded())) ms" : "\(seconds.formatted2) s"
    }

    /// What a `PlainHTTP` exchange's failure means, in the same terms as AsyncHTTPClient's.
    static func classify(_ failure: PlainHTTP.Failure, url: String, timeoutSeconds: Double) -> ClientError {
        switch failure {
        case .unresolved: return .unreachable(url: url, reason: "the host name does not resolve")
        case .connect(let code):
            return unreachableOrTransport(
                errno: code, url: url, timeoutSeconds: timeoutSeconds, fallback: String(cString: strerror(code)))
        case .timeout: return .timeout(url: url, seconds: timeoutSeconds)
        case .cancelled: return .cancelled
        case .closed(let detail), .malformed(let detail): return .transport(url: url, detail: detail)
        case .tooLarge(let limit): return .transport(url: url, detail: "the answer is larger than \(limit) bytes")
        }
    }

    /// Classifies an error thrown by AsyncHTTPClient / NIO while talking to `url`.
    static func classify(_ error: any Error, url: String, timeoutSeconds: Double) -> ClientError {
        if let error = error as? ClientError { return error }
        if error is CancellationError { return .cancelled }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                return .timeout(url: url, seconds: timeoutSeconds)
            case .cancelled:
                return .cancelled
            case .remoteConnectionClosed:
                return .transport(url: url, detail: "the server closed the connection")
            default:
                return .transport(url: url, detail: "\(error)")
            }
        }
        if let error = error as? NIOConnectionError {
            if error.dnsAError != nil || error.dnsAAAAError != nil, error.connectionErrors.isEmpty {
                return .unreachable(url: url, reason: "the host name does not resolve")
            }
            if let first = error.connectionErrors.first {
                return classify(first.error, url: url, timeoutSeconds: timeoutSeconds)
            }
            return .unreachable(url: url, reason: "no address to connect to")
        }
        if let error = error as? ChannelError {
            if case .connectTimeout = error { return .timeout(url: url, seconds: timeoutSeconds) }
            return .transport(url: url, detail: "\(error)")
        }
        if let error = error as? IOError {
            return unreachableOrTransport(
                errno: error.errnoCode, url: url, timeoutSeconds: timeoutSeconds, fallback: "\(error)")
        }
        if let error = error as? SocketAddressError {
            return .unreachable(url: url, reason: "the host name does not resolve (\(error))")
        }
        let text = "\(error)"
        if text.contains("handshakeFailed") || text.contains("BoringSSL") {
            // The TLS library's own text names a build folder and an internal error number: say what it means.
            let reason = text.range(of: #"OPENSSL_internal:([A-Z_]+)"#, options: .regularExpression).map {
                String(text[$0].dropFirst("OPENSSL_internal:".count))
            }
            let hint =
                reason == "WRONG_VERSION_NUMBER"
                ? "the server does not speak TLS there; use http://" : "the TLS handshake failed"
            return .transport(url: url, detail: hint + (reason.map { " (\($0))" } ?? ""))
        }
        if text.contains("NXDOMAIN") || text.contains("getaddrinfo") || text.contains("Name or service not known") {
            return .unreachable(url: url, reason: "the host name does not resolve")
        }
        return .transport(url: url, detail: text)
    }

    private static func unreachableOrTransport(
        errno code: Int32, url: String, timeoutSeconds: Double, fallback: String
    ) -> ClientError {
        switch code {
        case ECONNREFUSED: return .unreachable(url: url, reason: "connection refused")
        case ENETUNREACH, EHOSTUNREACH: return .unreachable(url: url, reason: "network unreachable")
        case ETIMEDOUT: return .timeout(url: url, seconds: timeoutSeconds)
        case ECONNRESET, EPIPE: return .transport(url: url, detail: "the connection was reset")
        default: return .transport(url: url, detail: fallback)
        }
    }
}

extension Double {
    /// Two decimals at most, without trailing zeros: 5 → "5", 0.25 → "0.25".
    var formatted2: String {
        let rounded = (self * 100).rounded() / 100
        if rounded == rounded.rounded() { return String(Int(rounded)) }
        var text = String(rounded)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }
}
