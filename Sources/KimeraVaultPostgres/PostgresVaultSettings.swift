import Foundation
import KimeraCore
import KimeraModels
import PostgresNIO

/// A `postgres://` / `postgresql://` vault URL, parsed: where the server is, who connects, which database.
/// `description` and `target` never contain the password.
public struct PostgresVaultSettings: Sendable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file, `<dir>/.s.PGSQL.<port>`.
        case unixSocket(path: String)
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    /// The URL with the password masked.
    public var maskedURL: String

    /// - Throws: `VaultError` naming what is wrong with the URL (never showing its password).
    public init(url: String) throws {
        let masked = VaultLocation.mask(url)
        func invalid(_ problem: String) -> VaultError {
            VaultError(operation: "use the vault URL \(masked)", detail: problem)
        }
        // URLComponents refuses a percent-encoded socket path as host on some platforms: parse the
        // authority ourselves, and the rest with URLComponents.
        guard let schemeEnd = url.range(of: "://") else { throw invalid("it is not a postgres:// URL") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw invalid("the scheme must be postgres:// or postgresql://")
        }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = String(rest[..<authorityEnd])
        let tail = String(rest[authorityEnd...])
        var hostPort = authority
        var user: String?
        var password: String?
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = String(authority[authority.index(after: at)...])
            if let colon = userInfo.firstIndex(of: ":") {
                user = String(userInfo[..<colon]).removingPercentEncoding
                password = String(userInfo[userInfo.index(after: colon)...]).removingPercentEncoding
            } else {
                user = String(userInfo).removingPercentEncoding
            }
        }
        var host = hostPort
        var port = 5432
        if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
            host = String(hostPort[..<colon])
            guard let number = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(number) else {
                throw invalid("the port \"\(hostPort[hostPort.index(after: colon)...])\" is not a number 1-65535")
            }
            port = number
        }
        host = host.removingPercentEncoding ?? host
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }

        let components = URLComponents(string: "x://h" + tail)
        var database = components?.path.removingPercentEncoding ?? ""
        if database.hasPrefix("/") { database.removeFirst() }
        for item in components?.queryItems ?? [] {
            switch item.name {
            case "host": if let value = item.value, !value.isEmpty { host = value }
            case "port":
                guard let value = item.value.flatMap({ Int($0) }), (1...65535).contains(value) else {
                    throw invalid("the port parameter is not a number 1-65535")
                }
                port = value
            case "user": user = item.value
            case "password": password = item.value
            case "dbname": database = item.value ?? database
            case "sslmode":
                // Loopback and Unix sockets only, for now: say so rather than connect in clear text.
                guard item.value == "disable" || item.value == "allow" || item.value == "prefer" else {
                    throw invalid("sslmode=\(item.value ?? "") is not supported; Kimera connects without TLS")
                }
            default: break
            }
        }
        guard let user, !user.isEmpty else { throw invalid("it names no user (postgres://USER:PASSWORD@HOST/DB)") }
        if host.isEmpty { host = "127.0.0.1" }
        username = user
        self.password = password
        self.database = database.isEmpty ? user : database
        maskedURL = masked
        if host.hasPrefix("/") {
            endpoint = .unixSocket(path: (host as NSString).appendingPathComponent(".s.PGSQL.\(port)"))
        } else {
            endpoint = .tcp(host: host, port: port)
        }
    }

    /// `host:port/database` or `socket/database`: what a log line or `/ready` names.
    public var target: String {
        switch endpoint {
        case .tcp(let host, let port): return "\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        case .unixSocket(let path): return "\(path)/\(database)"
        }
    }

    public var description: String { maskedURL }

    func clientConfiguration(connectTimeout: Duration, maximumConnections: Int) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch endpoint {
        case .tcp(let host, let port):
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database,
                tls: .disable)
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: username, password: password, database: database)
        }
        configuration.options.connectTimeout = connectTimeout
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 1
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(10))
        return configuration
    }

    func connectionConfiguration(connectTimeout: Duration) -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch endpoint {
        case .tcp(let host, let port):
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database,
                tls: .disable)
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: username, password: password, database: database)
        }
        configuration.options.connectTimeout = .milliseconds(connectTimeout.milliseconds)
        return configuration
    }
}

