import CKimeraProfiler
import Synchronization

/// The route a request's task serves, as a pprof label (`route`) on the CPU samples taken while it runs
/// (`GET /debug/pprof/profile`; docs/OPERATIONS.md "CPU profiles"). While no profile runs, `withRoute` costs
/// one atomic load. The names are route templates of the route table, so they are few; past `limit` distinct
/// names, the rest share one label.
public enum ProfileLabels {
    static let limit = 512
    static let overflow = "<other>"

    private struct Registry {
        var ids: [String: Int32] = [:]
        var names: [String] = []
    }

    private static let registry = Mutex(Registry())

    static func id(for route: String) -> Int32 {
        registry.withLock { registry in
            if let id = registry.ids[route] { return id }
            let name = registry.names.count < limit - 1 ? route : overflow
            if let id = registry.ids[name] { return id }
            let id = Int32(registry.names.count)
            registry.ids[name] = id
            registry.names.append(name)
            return id
        }
    }

    static func name(_ id: Int32) -> String? {
        registry.withLock { id >= 0 && Int(id) < $0.names.count ? $0.names[Int(id)] : nil }
    }

    /// Runs `body` with the current task labelled `route` for the CPU samples taken meanwhile, when a profile
    /// runs.
    public static func withRoute<T>(_ route: String, _ body: () async throws -> T) async rethrows -> T {
        guard kimera_profiler_running() != 0 else { return try await body() }
        let slot = kimera_profiler_label_begin(id(for: route))
        defer { kimera_profiler_label_end(slot) }
        return try await body()
    }
}
