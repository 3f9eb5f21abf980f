import Foundation

/// Where the vault lives, from `--vault URL` / `KIMERA_VAULT_URL` / `vault.url`: an embedded SQLite file
/// (`sqlite:PATH`, PATH the file; the default `<data-dir>/kimera.sqlite`) or a PostgreSQL database that several instances
/// share (`postgres://user:password@host:port/db`, also `postgresql://`, a Unix socket as `?host=/dir` or a
/// percent-encoded host). Shown only through `masked`: the password never leaves this value.
public enum VaultLocation: Sendable, Equatable {
    /// The SQLite file.
    case sqlite(path: String)
    /// The URL as given; parsed by the PostgreSQL adapter.
    case postgres(url: String)

    /// Parses a `--vault` value; `dataDirectory` is where a bare `sqlite:` puts its file.
    public static func parse(_ text: String, dataDirectory: String) throws -> VaultLocation {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let lower = trimmed.lowercased()
        if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") {
            return .postgres(url: trimmed)
        }
        if lower.hasPrefix("sqlite:") {
            var path = String(trimmed.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            if path.isEmpty { return .sqlite(path: defaultSQLitePath(dataDirectory: dataDirectory)) }
            // PATH names the file. A folder (one that exists, or PATH ending in `/`) holds `kimera.sqlite`.
            var isDirectory: ObjCBool = false
            if path.hasSuffix("/") || (FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                && isDirectory.boolValue)
            {
                return .sqlite(path: defaultSQLitePath(dataDirectory: path))
            }
            return .sqlite(path: path)
        }
        let scheme = trimmed.split(separator: ":", maxSplits: 1).first.map(String.init) ?? trimmed
        throw VaultError(
            operation: "use --vault \(Self.mask(trimmed))",
            detail:
                "the scheme \"\(Self.mask(scheme))\" is unknown; use sqlite:PATH or postgres://user:password@host:port/db"
        )
    }

    /// The location with any password replaced by `***`, for logs, the banner and `/debug/info`.
    public var masked: String {
        switch self {
        case .sqlite(let path):
            return "sqlite:" + path
        case .postgres(let url): return Self.mask(url)
        }
    }

    /// The embedded vault's file in a data directory.
    public static func defaultSQLitePath(dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent("kimera.sqlite")
    }

    /// The password of a PostgreSQL URL (user info or `password=` query item), percent-decoded.
    public var password: String? {
        guard case .postgres(let url) = self else { return nil }
        if let components = URLComponents(string: url) {
            if let password = components.password, !password.isEmpty { return password }
            if let item = components.queryItems?.first(where: { $0.name == "password" })?.value { return item }
        }
        return nil
    }

    public var dialect: String {
        switch self {
        case .sqlite: return "sqlite"
        case .postgres: return "postgresql"
        }
    }

    /// Masks `user:password@` and `password=…` in any URL-like text, without parsing it (it may be invalid).
    public static func mask(_ text: String) -> String {
        var result = text
        if let schemeEnd = result.range(of: "://") {
            let rest = result[schemeEnd.upperBound...]
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@"),
                let colon = rest[..<at].firstIndex(of: ":")
            {
                result.replaceSubrange(result.index(after: colon)..<at, with: "***")
            }
        }
        if let range = result.range(of: "password=", options: .caseInsensitive) {
            let end = result[range.upperBound...].firstIndex(of: "&") ?? result.endIndex
            result.replaceSubrange(range.upperBound..<end, with: "***")
        }
        return result
    }
}
