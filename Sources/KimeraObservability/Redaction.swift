import Foundation
import HTTPTypes
import KimeraModels
import Synchronization

/// The one redaction engine: every sink (ring, file, console, traces, stream, `/debug/info`) masks the
/// same things the same way. Secrets never reach a log, a trace or a response.
public enum Redaction {
    public static let mask = "***"

    /// Secrets known by value (the admin token): masked wherever they appear in free text.
    private static let secrets = Mutex<[String]>([])
    /// Whether any secret is registered: the common case costs one load.
    private static let anySecret = Atomic<Bool>(false)

    /// Registers a secret so that no sink ever shows it.
    public static func register(secret: String) {
        guard secret.count >= 8 else { return }
        secrets.locked { $0.append(secret) }
        anySecret.store(true, ordering: .releasing)
    }

    /// Header fields on one line, `name: value; …`, in request order (the access log).
    public static func headerLine(_ fields: HTTPFields) -> String {
        var line = ""
        for field in fields {
            if !line.isEmpty { line += "; " }
            line += field.name.canonicalName
            line += ": "
            line += header(name: field.name.canonicalName, value: field.value)
        }
        return line
    }

    /// Header fields as traces show them, names in lower case; repeated fields joined with ", ".
    public static func headers(_ fields: HTTPFields) -> [String: String] {
        var result: [String: String] = [:]
        for field in fields {
            let name = field.name.canonicalName
            let value = header(name: name, value: field.value)
            if let existing = result[name] {
                result[name] = existing + ", " + value
            } else {
                result[name] = value
            }
        }
        return result
    }

    /// Names whose values are secrets: headers, query parameters, metadata keys, config keys
    /// (`SecretNames`, the one vocabulary the CLI's bundle uses too).
    public static func isSecretName(_ name: some StringProtocol) -> Bool {
        SecretNames.isSecret(name)
    }

    /// A header value as traces show it: `Authorization` keeps its scheme, cookies keep their names.
    public static func header(name: some StringProtocol, value: String) -> String {
        guard isSecretName(name) else { return message(value) }
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
    package static func message(_ text: String) -> String {
        let text = registeredSecretsMasked(text)
        guard text.utf8.contains(UInt8(ascii: "B")) || text.utf8.contains(UInt8(ascii: "b")),
            text.contains("Bearer ") || text.contains("bearer ")
        else { return text }
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

    /// A query string with the values of secret-named parameters masked, and any registered secret (the
    /// admin token sent as a parameter of another name) masked wherever it stands.
    public static func query(_ query: String) -> String {
        guard !query.isEmpty else { return query }
        let masked = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, isSecretName(ParsedQuery.decode(ArraySlice(parts[0].utf8))) else {
                return String(pair)
            }
            return "\(parts[0])=\(mask)"
        }.joined(separator: "&")
        return registeredSecretsMasked(masked)
    }

    /// A request path with any registered secret masked (a token pasted into a URL); free otherwise.
    public static func path(_ path: String) -> String {
        registeredSecretsMasked(path)
    }

    /// `text` with every registered secret replaced, also in its percent-encoded spelling.
    static func registeredSecretsMasked(_ text: String) -> String {
        guard anySecret.load(ordering: .acquiring) else { return text }
        var text = text
        for secret in secrets.locked({ $0 }) {
            if text.contains(secret) { text = text.replacingOccurrences(of: secret, with: mask) }
            guard text.utf8.contains(UInt8(ascii: "%")) else { continue }
            let decoded = ParsedQuery.decode(ArraySlice(text.utf8))
            if decoded.contains(secret) {
                text = decoded.replacingOccurrences(of: secret, with: mask)
            }
        }
        return text
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
