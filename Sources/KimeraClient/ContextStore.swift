import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A named set of servers the command line talks to together, as `kimera context add` saved it.
public struct FleetContext: Codable, Sendable, Equatable {
    public var urls: [String]
    /// A file whose first line is the bearer token: the token itself is never stored here.
    public var tokenFile: String?

    public init(urls: [String], tokenFile: String? = nil) {
        self.urls = urls
        self.tokenFile = tokenFile
    }

    enum CodingKeys: String, CodingKey {
        case urls
        case tokenFile = "token_file"
    }
}

/// Why the context file could not be used.
public struct ContextError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The contexts file, `$XDG_CONFIG_HOME/kimera/contexts.json` (else `~/.config/kimera/contexts.json`):
/// the contexts by name and the current one. Written whole through a temporary file, mode 0600, in a
/// directory of mode 0700.
public struct ContextStore: Codable, Sendable, Equatable {
    public var current: String?
    public var contexts: [String: FleetContext]

    public init(current: String? = nil, contexts: [String: FleetContext] = [:]) {
        self.current = current
        self.contexts = contexts
    }

    /// Where the file lives for `environment`.
    public static func fileURL(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let base: URL
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty {
            base = URL(fileURLWithPath: xdg, isDirectory: true)
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            base = URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(".config", isDirectory: true)
        }
        return base.appendingPathComponent("kimera", isDirectory: true).appendingPathComponent("contexts.json")
    }

    /// The saved contexts; none when the file does not exist.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> ContextStore
    {
        let url = fileURL(environment: environment)
        guard FileManager.default.fileExists(atPath: url.path) else { return ContextStore() }
        do {
            return try JSONDecoder().decode(ContextStore.self, from: Data(contentsOf: url))
        } catch {
            throw ContextError(
                "\(url.path) is not a valid contexts file (\(error.localizedDescription)); fix or remove it")
        }
    }

    /// Writes the file (mode 0600) atomically.
    public func save(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let url = Self.fileURL(environment: environment)
        let directory = url.deletingLastPathComponent()
        let manager = FileManager.default
        do {
            try manager.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let temporary = directory.appendingPathComponent(".contexts.json.\(getpid()).tmp")
            guard
                manager.createFile(
                    atPath: temporary.path, contents: try encoder.encode(self), attributes: [.posixPermissions: 0o600])
            else { throw ContextError("cannot write \(temporary.path)") }
            if rename(temporary.path, url.path) != 0 {
                try? manager.removeItem(at: temporary)
                throw ContextError("cannot replace \(url.path): \(String(cString: strerror(errno)))")
            }
        } catch let error as ContextError {
            throw error
        } catch {
            throw ContextError("cannot write \(url.path): \(error.localizedDescription)")
        }
    }

    /// Context names: letters, digits, `.`, `_`, `-`, at most 64.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }
}
