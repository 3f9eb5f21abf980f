import KimeraAPI
import KimeraModels
import Logging
import Synchronization

/// The log records of the request a task serves, at every level, kept until the request ends: dropped
/// when it ends well, copied into an incident when it ends badly (docs/OPERATIONS.md "Incidents").
/// Bounded by records and bytes; what does not fit is counted.
public final class RequestLogTail: Sendable {
    static let maxRecords = 256
    static let maxBytes = 128 * 1024

    private struct State {
        var records: [CapturedLog] = []
        var bytes = 0
        var dropped = 0
    }
    private let state = Mutex(State())

    public init() {}

    func append(_ log: CapturedLog) {
        let size = log.bytes
        state.locked { state in
            guard state.records.count < Self.maxRecords, state.bytes + size <= Self.maxBytes else {
                state.dropped += 1
                return
            }
            state.records.append(log)
            state.bytes += size
        }
    }

    var taken: (records: [CapturedLog], bytes: Int, dropped: Int) {
        state.locked { ($0.records, $0.bytes, $0.dropped) }
    }
}

extension IncidentCause {
    /// An escalated request is kept whatever its outcome; otherwise a 5xx is an error whatever its
    /// duration, and a slow request is slow.
    package static func of(_ trace: CompactTrace) -> IncidentCause? {
        if trace.escalated { return .escalated }
        if trace.status >= 500 { return .error }
        return trace.slow ? .slow : nil
    }
}

/// Which incidents a reader wants (`GET /debug/incidents`).
public struct IncidentFilter: Sendable {
    public var route: String?
    public var cause: IncidentCause?
    /// Only entries seen (last) at or after this wall-clock time, nanoseconds.
    public var sinceNanos: Int64?

    public init(route: String? = nil, cause: IncidentCause? = nil, sinceNanos: Int64? = nil) {
        self.route = route
        self.cause = cause
        self.sinceNanos = sinceNanos
    }
}

/// The incidents of this process: bounded by entries and bytes (oldest evicted first, counted), with
/// repeats of one route and cause within `window` counted on the entry already kept.
public final class IncidentStore: Sendable {
    struct Entry {
        var incident: Incident
        var cause: IncidentCause
        var firstNanos: Int64
        var lastNanos: Int64
        var bytes: Int
    }

    struct State {
        /// Oldest first.
        var entries: [Entry] = []
        var bytes = 0
        var evicted: UInt64 = 0
        var counted: UInt64 = 0
    }

    public let capacity: Int
    public let byteLimit: Int
    /// Repeats within this many nanoseconds of an entry's first request count on it.
    let windowNanos: Int64
    private let state = Mutex(State())

    public init(capacity: Int, byteLimit: Int, window: Duration = .seconds(60)) {
        self.capacity = max(1, capacity)
        self.byteLimit = max(16 * 1024, byteLimit)
        windowNanos = window.nanoseconds
    }

    /// Keeps `trace` as an incident of `cause` (or counts it on the entry of the same route and cause of
    /// the last minute); returns the incident's id. `details` makes the full incident only when a new
    /// entry is kept.
    package func record(
        _ trace: CompactTrace, cause: IncidentCause, now: Int64, details: () -> (Incident, Int)
    ) -> String {
        // Each escalated request is one an operator asked about: kept on an entry of its own.
        let repeated = state.locked { state -> String? in
            guard cause != .escalated,
                let index = state.entries.lastIndex(where: {
                    $0.cause == cause && $0.incident.summary.route == trace.route && now - $0.firstNanos < windowNanos
                })
            else { return nil }
            state.entries[index].incident.summary.count += 1
            state.entries[index].incident.summary.lastRequestID = trace.requestID
            state.entries[index].incident.summary.lastSeen = Timestamp.iso8601(nanos: now)
            state.entries[index].lastNanos = now
            state.counted += 1
            return state.entries[index].incident.summary.id
        }
        if let repeated { return repeated }
        // Made outside the lock: it reads the tracer and the process.
        let (incident, bytes) = details()
        let size = min(bytes, byteLimit)
        state.locked { state in
            while !state.entries.isEmpty && (state.entries.count >= capacity || state.bytes + size > byteLimit) {
                state.bytes -= state.entries.removeFirst().bytes
                state.evicted += 1
            }
            state.entries.append(Entry(incident: incident, cause: cause, firstNanos: now, lastNanos: now, bytes: size))
            state.bytes += size
        }
        return incident.summary.id
    }

    /// Newest (last seen) first, at most `limit`, and how many matched.
    public func list(_ filter: IncidentFilter, limit: Int) -> (incidents: [IncidentSummary], total: Int) {
        state.locked { state in
            let matching = state.entries.filter { entry in
                if let route = filter.route, entry.incident.summary.route != route { return false }
                if let cause = filter.cause, entry.cause != cause { return false }
                if let since = filter.sinceNanos, entry.lastNanos < since { return false }
                return true
            }
            .sorted { $0.lastNanos > $1.lastNanos }
            return (matching.prefix(limit).map(\.incident.summary), matching.count)
        }
    }

    public func incident(id: String) -> Incident? {
        state.locked { state in state.entries.last { $0.incident.summary.id == id }?.incident }
    }

    public var fill: BufferFill {
        state.locked { state in
            BufferFill(
                used: state.entries.count, limit: capacity, bytes: state.bytes, bytesLimit: byteLimit,
                dropped: Int(clamping: state.evicted))
        }
    }
}
