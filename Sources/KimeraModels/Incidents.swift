/// Why a finished request was kept as an incident (docs/OPERATIONS.md "Incidents").
public enum IncidentCause: String, Codable, Sendable, CaseIterable {
    /// Slower than the slow threshold, fixed or adaptive.
    case slow
    /// Answered with a 5xx.
    case error
    /// Sent with `X-Kimera-Debug: 1` by a client allowed to (docs/OPERATIONS.md "One-request escalation").
    case escalated
}

/// An incident: a request kept because it ended badly — slower than the slow threshold, or a 5xx — with
/// everything needed to say what happened to it afterwards: its trace, all of its log records (DEBUG
/// included, whatever the ring keeps), its route's latency at that moment and the process's figures
/// (docs/OPERATIONS.md "Incidents"). Repeats of one route and cause within a minute count on one entry.
public struct IncidentSummary: Codable, Sendable, Equatable {
    /// `inc-` and the first request's id.
    public var id: String
    /// `slow`, `error` or `escalated` (`IncidentCause`).
    public var cause: String
    public var route: String
    public var method: String
    public var status: Int
    public var durationMs: Double
    /// The first request kept on this entry.
    public var requestID: String
    /// The newest request counted on this entry.
    public var lastRequestID: String
    public var firstSeen: String
    public var lastSeen: String
    /// Requests of this route and cause counted on this entry (the first included).
    public var count: Int

    public init(
        id: String, cause: String, route: String, method: String, status: Int, durationMs: Double, requestID: String,
        lastRequestID: String, firstSeen: String, lastSeen: String, count: Int
    ) {
        self.id = id
        self.cause = cause
        self.route = route
        self.method = method
        self.status = status
        self.durationMs = durationMs
        self.requestID = requestID
        self.lastRequestID = lastRequestID
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.count = count
    }

    enum CodingKeys: String, CodingKey {
        case id, cause, route, method, status, count
        case durationMs = "duration_ms"
        case requestID = "request_id"
        case lastRequestID = "last_request_id"
        case firstSeen = "first_seen"
        case lastSeen = "last_seen"
    }
}

/// The process when an incident was kept.
public struct IncidentProcess: Codable, Sendable, Equatable {
    public var rssBytes: Int64
    public var cpuSeconds: Double
    public var threads: Int
    public var activeRequests: Int

    public init(rssBytes: Int64, cpuSeconds: Double, threads: Int, activeRequests: Int) {
        self.rssBytes = rssBytes
        self.cpuSeconds = cpuSeconds
        self.threads = threads
        self.activeRequests = activeRequests
    }

    enum CodingKeys: String, CodingKey {
        case threads
        case rssBytes = "rss_bytes"
        case cpuSeconds = "cpu_seconds"
        case activeRequests = "active_requests"
    }
}

/// One incident in full (`GET /debug/incidents/{id}`).
public struct Incident: Codable, Sendable, Equatable {
    public var summary: IncidentSummary
    /// The first request's trace, headers redacted as in `/debug/traces`.
    public var trace: Trace
    /// The first request's log records, every level, oldest first.
    public var logs: [LogRecord]
    /// Records of that request beyond the per-request bound, not kept.
    public var logsDropped: Int
    /// The route's latency (every method) when the incident was kept; null before its first request ended.
    public var routeLatency: TimingStats?
    public var process: IncidentProcess
    /// The server mode then: `performance`, `performance+debug`, `full-debug` or `basic`.
    public var mode: String
    /// Why it was kept, in words.
    public var reason: String

    public init(
        summary: IncidentSummary, trace: Trace, logs: [LogRecord], logsDropped: Int, routeLatency: TimingStats?,
        process: IncidentProcess, mode: String, reason: String
    ) {
        self.summary = summary
        self.trace = trace
        self.logs = logs
        self.logsDropped = logsDropped
        self.routeLatency = routeLatency
        self.process = process
        self.mode = mode
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case summary, trace, logs, process, mode, reason
        case logsDropped = "logs_dropped"
        case routeLatency = "route_latency"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(summary, forKey: .summary)
        try container.encode(trace, forKey: .trace)
        try container.encode(logs, forKey: .logs)
        try container.encode(logsDropped, forKey: .logsDropped)
        // null, not absent, before the route has a finished request.
        try container.encode(routeLatency, forKey: .routeLatency)
        try container.encode(process, forKey: .process)
        try container.encode(mode, forKey: .mode)
        try container.encode(reason, forKey: .reason)
    }
}

/// `GET /debug/incidents`: newest first, and the store's fill.
public struct IncidentList: Codable, Sendable, Equatable {
    public var incidents: [IncidentSummary]
    /// Entries matching the filters (before `limit`).
    public var total: Int
    public var buffer: BufferFill

    public init(incidents: [IncidentSummary], total: Int, buffer: BufferFill) {
        self.incidents = incidents
        self.total = total
        self.buffer = buffer
    }
}
