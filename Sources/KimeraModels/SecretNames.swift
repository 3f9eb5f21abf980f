/// The one vocabulary of names whose values are secrets — header names, query parameters, log metadata
/// keys, configuration keys and the JSON fields of a debug bundle — for every redacting place: the
/// server's sinks, traces, stream, `/debug/info` and OpenTelemetry export (`Redaction`), and the CLI's
/// debug bundle (`Redactor`). docs/API.md "Redaction" lists it for operators.
public enum SecretNames {
    /// Names that are secrets as a whole (ASCII, lower case): `?sig=`, `?auth=`, `Cookie`.
    public static let exact: [String] = [
        "authorization", "proxy-authorization", "cookie", "set-cookie", "auth", "sig", "sid", "pwd",
    ]
    /// Fragments that make any name containing them a secret: `X-Api-Key`, `client_secret`, `X-Passphrase`,
    /// `X-Session`, `X-Signature`, `db_password`, `X-Auth-Token`.
    public static let fragments: [String] = [
        "token", "secret", "password", "passwd", "passphrase", "pwd", "key", "credential", "session", "signature",
        "auth",
    ]

    /// Whether values under `name` are secrets (ASCII case-insensitive).
    public static func isSecret(_ name: some StringProtocol) -> Bool {
        // A byte search without copying: this runs for every header and metadata key.
        if let answer = name.utf8.withContiguousStorageIfAvailable(isSecret(bytes:)) { return answer }
        return Array(name.utf8).withUnsafeBufferPointer(isSecret(bytes:))
    }

    private static func isSecret(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for exact in exactBytes where exact.count == bytes.count && matches(bytes, at: 0, exact) { return true }
        for fragment in fragmentBytes where fragment.count <= bytes.count {
            for start in 0...(bytes.count - fragment.count) where matches(bytes, at: start, fragment) { return true }
        }
        return false
    }

    @inline(__always)
    private static func matches(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int, _ lowercase: [UInt8]) -> Bool {
        for index in 0..<lowercase.count {
            var byte = bytes[start + index]
            if byte >= 65 && byte <= 90 { byte += 32 }
            if byte != lowercase[index] { return false }
        }
        return true
    }

    private static let exactBytes: [[UInt8]] = exact.map { Array($0.utf8) }
    private static let fragmentBytes: [[UInt8]] = fragments.map { Array($0.utf8) }
}
