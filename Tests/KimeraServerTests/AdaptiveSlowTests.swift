import Foundation
import KimeraModels
import Logging
import Testing

@testable import KimeraObservability
@testable import KimeraServer

/// Adaptive slow detection (`tracing.slow_adaptive`) and the escalation rate limit, with time given.
@Suite("Adaptive slow detection and escalation limits")
struct AdaptiveSlowTests {
    static let second: Int64 = 1_000_000_000

    func trace(_ route: String, micros: Int64, atSecond second: Int64) -> CompactTrace {
        CompactTrace(
            requestID: "r", method: "GET", path: route, query: nil, route: route, status: 200,
            durationNanos: micros * 1000, startedWallNanos: 1_900_000_000 * Self.second + second * Self.second,
            bytesIn: 0, bytesOut: 0, cache: nil, slow: false, error: nil)
    }

    @Test("a request over 3x its route's p99 of the previous window is slow; the floor and the sample minimum hold")
    func adaptiveThresholds() {
        let tracer = RequestTracer(
            runtime: RuntimeConfiguration(debug: false, performance: true), limits: StoreLimits(),
            logger: Logger(label: "test"))
        let adaptive = SlowAdaptive(factor: 3, floorMs: 1)
        // Window 1: 100 requests of 1 ms on /a; no threshold is known yet, whatever the duration.
        for _ in 0..<100 { #expect(tracer.adaptiveThreshold(trace("/a", micros: 1000, atSecond: 0), adaptive) == nil) }
        #expect(tracer.adaptiveThreshold(trace("/a", micros: 900_000, atSecond: 1), adaptive) == nil)
        // Window 2 (30 s later): the threshold is 3 × p99 of window 1 (~1 ms; the 900 ms request is its 1 %).
        let slow = tracer.adaptiveThreshold(trace("/a", micros: 20_000, atSecond: 31), adaptive)
        let threshold = try? #require(slow)
        #expect(threshold.map { $0 >= 2_900_000 && $0 <= 3_100_000 } == true, "\(String(describing: threshold))")
        #expect(tracer.adaptiveThreshold(trace("/a", micros: 2500, atSecond: 32), adaptive) == nil)
        // Another route has its own window: /b has no p99 yet.
        #expect(tracer.adaptiveThreshold(trace("/b", micros: 900_000, atSecond: 33), adaptive) == nil)
        // The floor: p99 of 10 µs × 3 is 30 µs, but nothing under 1 ms is slow.
        for _ in 0..<60 { _ = tracer.adaptiveThreshold(trace("/c", micros: 10, atSecond: 0), adaptive) }
        #expect(tracer.adaptiveThreshold(trace("/c", micros: 500, atSecond: 31), adaptive) == nil)
        #expect(tracer.adaptiveThreshold(trace("/c", micros: 1500, atSecond: 31), adaptive) == 1_000_000)
        // Fewer than 50 requests in a window: its p99 is not trusted, the last trusted one stays.
        for _ in 0..<10 { _ = tracer.adaptiveThreshold(trace("/c", micros: 50_000, atSecond: 40), adaptive) }
        #expect(tracer.adaptiveThreshold(trace("/c", micros: 1500, atSecond: 75), adaptive) == 1_000_000)
    }

    @Test("an adaptively slow request is slow where a slow request is: counted, and an incident naming the threshold")
    func adaptiveSlowBecomesAnIncident() {
        var live = LiveSettings()
        live.slowThresholdMs = 10_000
        live.slowAdaptive = SlowAdaptive(factor: 3, floorMs: 1)
        let engine = ObservabilityEngine(
            runtime: RuntimeConfiguration(debug: false, performance: true, live: live), limits: StoreLimits(),
            consoleEnabled: false)
        let recording = RequestRecording(engine: engine)
        for _ in 0..<60 {
            engine.tracer.begin()
            #expect(recording.finish(trace("/kimera/geoids", micros: 2000, atSecond: 0)) == nil)
        }
        engine.tracer.begin()
        let incident = recording.finish(trace("/kimera/geoids", micros: 50_000, atSecond: 31))
        let id = try? #require(incident)
        let kept = id.flatMap { engine.incidents.incident(id: $0) }
        #expect(kept?.summary.cause.rawValue == "slow")
        #expect(kept?.reason.contains("over 3x-p99 of its route (6") == true, "\(kept?.reason ?? "none")")
        #expect(engine.tracer.statistics().slowRequests == 1)
    }

    @Test("SlowAdaptive reads NxP99 and writes it back")
    func grammar() {
        #expect(SlowAdaptive.parse("3x-p99")?.factor == 3)
        #expect(SlowAdaptive.parse("2.5x-p99")?.text == "2.5x-p99")
        #expect(SlowAdaptive.parse("3x-p99")?.text == "3x-p99")
        #expect(SlowAdaptive.parse("0x-p99") == nil && SlowAdaptive.parse("x-p99") == nil)
        #expect(SlowAdaptive.parse("3x-p95") == nil)
    }

    @Test("escalations: a burst of 10, then 5 a second")
    func escalationLimiter() {
        let limiter = EscalationLimiter()
        let start = Timestamp.monotonicNanos()
        let burst = (0..<20).filter { _ in limiter.take(now: start) }.count
        #expect(burst == 10)
        #expect(!limiter.take(now: start + Self.second / 10))
        #expect(limiter.take(now: start + Self.second / 5))
        let later = (0..<20).filter { _ in limiter.take(now: start + 2 * Self.second) }.count
        #expect(later == 9 || later == 10, "\(later)")
    }

    @Test("Server-Timing: categories that ran, in ms with µs, and the total")
    func serverTiming() {
        let escalation = RequestEscalation()
        escalation.add(.vault, nanos: 1_204_567)
        escalation.add(.vault, nanos: 1_000)
        escalation.add(.serialization, nanos: 31_000)
        #expect(
            escalation.serverTiming(totalNanos: 1_911_000)
                == #"vault;dur=1.205;desc="2 ops", serialization;dur=0.031;desc="1 op", total;dur=1.911"#)
        #expect(RequestEscalation.Category(operation: "contradiction.process") == .contradiction)
        #expect(RequestEscalation.Category(operation: "something") == .other)
    }
}
