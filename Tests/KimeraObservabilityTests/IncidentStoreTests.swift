import KimeraAPI
import KimeraModels
import Testing

@testable import KimeraObservability

/// The incident store's bounds and its counting of repeats, on traces made here.
@Suite struct IncidentStoreTests {
    func trace(_ route: String, status: Int = 200, slow: Bool = true, id: String = "r") -> CompactTrace {
        CompactTrace(
            requestID: id, method: "GET", path: route, query: nil, route: route, status: status,
            durationNanos: 5_000_000, startedWallNanos: 1_000_000_000, bytesIn: 0, bytesOut: 10, cache: nil,
            slow: slow, error: nil)
    }

    func details(_ trace: CompactTrace, bytes: Int = 2000) -> () -> (Incident, Int) {
        {
            let summary = IncidentSummary(
                id: "inc-\(trace.requestID)", cause: .slow, route: trace.route, method: "GET", status: trace.status,
                durationMs: 5, requestID: trace.requestID, lastRequestID: trace.requestID, firstSeen: "t",
                lastSeen: "t", count: 1)
            let incident = Incident(
                summary: summary, trace: trace.trace(logCount: 0), logs: [], logsDropped: 0, routeLatency: nil,
                process: IncidentProcess(rssBytes: 1, cpuSeconds: 0, threads: 1, activeRequests: 0),
                mode: .performance, reason: "r")
            return (incident, bytes)
        }
    }

    @Test func causeIsErrorForA5xxElseSlowElseNone() {
        #expect(IncidentCause.of(trace("/a", status: 503, slow: false)) == .error)
        #expect(IncidentCause.of(trace("/a", status: 500, slow: true)) == .error)
        #expect(IncidentCause.of(trace("/a", status: 404, slow: true)) == .slow)
        #expect(IncidentCause.of(trace("/a", status: 200, slow: false)) == nil)
    }

    @Test func repeatsWithinTheWindowCountOnOneEntry() {
        let store = IncidentStore(capacity: 10, byteLimit: 1 << 20, window: .seconds(60))
        var made = 0
        for index in 0..<1000 {
            let trace = trace("/a", id: "r\(index)")
            let id = store.record(trace, cause: .slow, now: Int64(index) * 1_000_000) {
                made += 1
                return details(trace)()
            }
            #expect(id == "inc-r0")
        }
        #expect(made == 1)
        let listed = store.list(IncidentFilter(), limit: 10)
        #expect(listed.total == 1 && listed.incidents.first?.count == 1000)
        #expect(listed.incidents.first?.lastRequestID == "r999")
        // Past the window, or another cause, or another route: a new entry.
        let later = trace("/a", id: "late")
        _ = store.record(later, cause: .slow, now: 61_000_000_000, details: details(later))
        let error = trace("/a", status: 500, id: "err")
        _ = store.record(error, cause: .error, now: 61_000_000_001, details: details(error))
        #expect(store.list(IncidentFilter(), limit: 10).total == 3)
        #expect(store.list(IncidentFilter(cause: .error), limit: 10).total == 1)
        #expect(store.list(IncidentFilter(sinceNanos: 61_000_000_000), limit: 10).total == 2)
    }

    @Test func entriesAndBytesStayWithinTheirBounds() {
        let store = IncidentStore(capacity: 5, byteLimit: 20_000, window: .seconds(60))
        for index in 0..<50 {
            let trace = trace("/route\(index)", id: "r\(index)")
            _ = store.record(trace, cause: .slow, now: Int64(index), details: details(trace, bytes: 6000))
            let fill = store.fill
            #expect(fill.used <= 5 && fill.bytes <= 20_000)
        }
        let fill = store.fill
        #expect(fill.used == 3 && fill.dropped == 47)
        #expect(store.incident(id: "inc-r49") != nil && store.incident(id: "inc-r0") == nil)
    }
}
