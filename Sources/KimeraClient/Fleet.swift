#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Several servers addressed as one: a client per instance, and a bounded fan-out over them.
///
/// At most `maxInFlight` requests run at once, each bounded by its client's timeout; every instance gets a
/// result, answered or failed, so a caller can show what came and say what did not.
public struct KimeraFleet: Sendable {
    /// The most requests in flight at once across the fleet.
    public static let maxInFlight = 8

    public let clients: [KimeraClient]

    public init(clients: [KimeraClient]) {
        precondition(!clients.isEmpty, "a fleet has at least one instance")
        self.clients = clients
    }

    /// How an instance is named in output: its `host:port`, or the whole base URL when that is ambiguous.
    public var instanceNames: [String] {
        let short = clients.map { Self.instanceName($0.baseURL) }
        return Set(short).count == short.count ? short : clients.map(\.baseURL)
    }

    /// `http://127.0.0.1:8001` → `127.0.0.1:8001`.
    public static func instanceName(_ baseURL: String) -> String {
        guard let range = baseURL.range(of: "://") else { return baseURL }
        return String(baseURL[range.upperBound...])
    }

    /// Runs `operation` against every instance, at most `maxInFlight` at once; results in instance order.
    public func each<T: Sendable>(
        _ operation: @escaping @Sendable (KimeraClient) async throws -> T
    ) async -> [InstanceResult<T>] {
        let names = instanceNames
        var results = [InstanceResult<T>?](repeating: nil, count: clients.count)
        await withTaskGroup(of: (Int, Result<T, ClientError>).self) { group in
            var next = 0
            func start() {
                let index = next
                let client = clients[index]
                next += 1
                group.addTask {
                    do {
                        return (index, .success(try await operation(client)))
                    } catch let error as ClientError {
                        return (index, .failure(error))
                    } catch is CancellationError {
                        return (index, .failure(.cancelled))
                    } catch {
                        return (index, .failure(.transport(url: client.baseURL, detail: "\(error)")))
                    }
                }
            }
            while next < clients.count && next < Self.maxInFlight { start() }
            while let (index, result) = await group.next() {
                results[index] = InstanceResult(instance: names[index], url: clients[index].baseURL, result: result)
                if next < clients.count { start() }
            }
        }
        return results.map { $0! }
    }
}

/// One instance's answer to a fan-out, or why it has none.
public struct InstanceResult<Value: Sendable>: Sendable {
    /// The instance's name in output (`host:port`).
    public var instance: String
    public var url: String
    public var result: Result<Value, ClientError>

    public init(instance: String, url: String, result: Result<Value, ClientError>) {
        self.instance = instance
        self.url = url
        self.result = result
    }

    public var value: Value? { try? result.get() }
    public var error: ClientError? {
        if case .failure(let error) = result { return error }
        return nil
    }
}
