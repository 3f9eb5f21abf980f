import KimeraModels
import Synchronization

/// One request served with `X-Kimera-Debug: 1` from a client allowed to ask (docs/OPERATIONS.md
/// "One-request escalation"). Its profiled operations are timed into it, whether or not profiling is on,
/// and answered as a `Server-Timing` header; the request skips the response cache and becomes an incident
/// whatever its outcome. No level, mode or other request changes.
///
/// While no escalated request is being served, the profiler and the JSON encoder pay one relaxed atomic
/// load (`anyActive`) and never read the task-local.
public final class RequestEscalation: Sendable {
    /// What `Server-Timing` breaks a request into: the first segment of the profiled operation's name
    /// (`vault.create_geoid` → `vault`), the response's JSON encoding, and the rest.
    public enum Category: String, Sendable, CaseIterable {
        case vault, embedding, contradiction, cycle, serialization, other

        init(operation name: String) {
            let head = name.split(separator: ".", maxSplits: 1).first.map(String.init) ?? name
            self = Category(rawValue: head) ?? .other
        }
    }

    /// Escalated requests being served now, in this process.
    private static let active = Atomic<Int>(0)

    /// Total nanoseconds and operation count per category, indexed as `Category.allCases`; fixed size.
    private let totals = Mutex<[(nanos: Int64, count: Int)]>(
        Array(repeating: (0, 0), count: Category.allCases.count))

    public init() {}

    /// True while some request of this process is escalated: one relaxed load.
    @inline(__always)
    public static var anyActive: Bool { active.load(ordering: .relaxed) > 0 }

    /// Runs `body` (the rest of the request) with this escalation in scope.
    public func serving<T>(_ body: () async throws -> T) async rethrows -> T {
        Self.active.add(1, ordering: .relaxed)
        defer { Self.active.subtract(1, ordering: .relaxed) }
        return try await RequestScope.$escalation.withValue(self) { try await body() }
    }

    /// Adds one timed operation.
    public func add(_ category: Category, nanos: Int64) {
        let index = Category.allCases.firstIndex(of: category)!
        totals.locked { totals in
            totals[index].nanos += nanos
            totals[index].count += 1
        }
    }

    /// Times `body` into the escalated request in scope, if any (the JSON encoding of a response).
    @inline(__always)
    public static func timed<T>(_ category: Category, _ body: () throws -> T) rethrows -> T {
        guard anyActive, let escalation = RequestScope.escalation else { return try body() }
        let start = Timestamp.monotonicNanos()
        defer { escalation.add(category, nanos: Timestamp.monotonicNanos() - start) }
        return try body()
    }

    /// The `Server-Timing` value (W3C Server Timing): each category that ran, in milliseconds with
    /// microsecond precision, with how many operations it counts, then `total` for the whole request:
    /// `vault;dur=1.204;desc="1 op", serialization;dur=0.031;desc="1 op", total;dur=1.911`.
    public func serverTiming(totalNanos: Int64) -> String {
        let totals = totals.locked { $0 }
        var parts: [String] = []
        for (index, category) in Category.allCases.enumerated() where totals[index].count > 0 {
            let count = totals[index].count
            parts.append(
                "\(category.rawValue);dur=\(Self.milliseconds(totals[index].nanos));desc=\"\(count) op\(count == 1 ? "" : "s")\""
            )
        }
        parts.append("total;dur=\(Self.milliseconds(totalNanos))")
        return parts.joined(separator: ", ")
    }

    /// Milliseconds with three decimals.
    static func milliseconds(_ nanos: Int64) -> String {
        let micros = max(0, nanos) / 1000
        let fraction = String(micros % 1000)
        return "\(micros / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
