import Foundation
import Synchronization

/// The one redaction engine: every sink (ring, file, console, traces, stream, `/debug/info`) masks the
/// same things the same way. Secrets never reach a log, a trace or a response.
public enum Redaction {
    public static let mask = "***"

    /// Secrets known by value (the admin token): masked wherever they appear in free text.
    private static let secrets = Mutex<[String]>([])

    /// Registers a secret so that no sink ever shows it.
    public static func register(secret: String) {
        guard secret.count >= 8 else { return }
        secrets.withLock { $0.append(secret) }
    }

    /// Names whose values are secrets: headers, query parameters, metadata keys, config keys.
    public static func isSecretName(_ name: some StringProtocol) -> Bool {
        let lowered = name.lowercased()
        if lowered == "authorization" || lowered == "proxy-authorization" || lowered == "cookie"
            || lowered == "set-cookie"
        {
            return true
        }
        return lowered.contains("token") || lowered.contains("secret") || lowered.contains("password")
            || lowered.contains("key") || lowered.contains("passwd") || lowered.contains("credential")
    }

    /// A header value as traces show it: `Authorization` keeps its scheme, cookies keep their names.
    public static func header(name: some StringProtocol, value: String) -> String {
        switch name.lowercased() {
        case "authorization", "proxy-authorization":
            if let space = value.firstIndex(of: " ") { return value[..<space] + " " + mask }
            return mask
        case "cookie":
            return value.split(separator: ";").map { pair -> String in
                let name = pair.split(separator: "=", maxSplits: 1).first ?? ""
                return "\(name.trimmingSpaces())=\(mask)"
            }.joined(separator: "; ")
        case "set-cookie":
            let name = value.split(separator: "=", maxSplits: 1).first ?? ""
            return "\(name.trimmingSpaces())=\(mask)"
        default:
            return isSecretName(name) ? mask : message(value)
        }
    }

    /// A metadata value: masked when its key names a secret.
    static func value(forKey key: String, _ value: String) -> String {
        isSecretName(key) ? mask : message(value)
    }

    /// Free text: bearer credentials inside it are masked.
    static func message(_ text: String) -> String {
        var text = text
        for secret in secrets.withLock({ $0 }) where text.contains(secret) {
            text = text.replacingOccurrences(of: secret, with: mask)
        }
        guard text.contains("Bearer ") || text.contains("bearer ") else { return text }
        var result = ""
        var words = text.split(separator: " ", omittingEmptySubsequences: false).makeIterator()
        var first = true
        while let word = words.next() {
            if !first { result += " " }
            first = false
            result += word
            if word.lowercased() == "bearer", words.next() != nil { result += " " + mask }
        }
        return result
    }

    /// A query string with the values of secret-named parameters masked.
    public static func query(_ query: String) -> String {
        guard !query.isEmpty else { return query }
        return query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, isSecretName(parts[0]) else { return String(pair) }
            return "\(parts[0])=\(mask)"
        }.joined(separator: "&")
    }
}

extension StringProtocol {
    func trimmingSpaces() -> SubSequence {
        var slice = self[...]
        while slice.first == " " { slice = slice.dropFirst() }
        while slice.last == " " { slice = slice.dropLast() }
        return slice
    }
}
