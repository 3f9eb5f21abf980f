import Foundation
import Hummingbird
import HummingbirdTesting
import KimeraCore
import KimeraModels
import Logging
import Testing

@testable import KimeraObservability
@testable import KimeraServer

@Suite("Request tracer")
struct RequestTracerTests {
    func trace(route: String, method: String = "GET", status: Int = 200, micros: Int64, id: String = "t")
        -> CompactTrace
    {
        CompactTrace(
            requestID: id, method: method, path: route, query: nil, route: route, status: status,
            durationNanos: micros * 1000, startedWallNanos: Timestamp.wallNanos(), bytesIn: 0, bytesOut: 0, cache: nil,
            slow: false, error: nil)
    }

    @Test("percentiles are within 1 % of a known distribution")
    func percentiles() {
        let runtime = RuntimeConfiguration(debug: false, performance: true)
        let tracer = RequestTracer(runtime: runtime, limits: StoreLimits(), logger: Logger(label: "test"))
        // 1 ms … 10 000 ms in 1 ms steps, shuffled: the p-th percentile is p % of 10 000 ms.
        for millis in (1...10_000).shuffled() {
            tracer.begin()
            tracer.finish(trace(route: "/health", micros: Int64(millis) * 1000))
        }
        let stats = tracer.statistics().endpoints["/health"]!.timing
        #expect(stats.count == 10_000)
        for (value, expected) in [
            (stats.p50Ms, 5000.0), (stats.p90Ms, 9000), (stats.p95Ms, 9500), (stats.p99Ms, 9900), (stats.p999Ms, 9990),
        ] {
            #expect(abs(value - expected) / expected < 0.01, "\(value) vs \(expected)")
        }
        #expect(stats.minTimeMs == 1)
        #expect(stats.maxTimeMs == 10_000)
        #expect(abs(stats.avgTimeMs - 5000.5) < 0.001)
    }

    @Test("concurrent requests from many tasks lose no counts")
    func concurrentCounts() async {
        let runtime = RuntimeConfiguration(debug: false, performance: true)
        let tracer = RequestTracer(runtime: runtime, limits: StoreLimits(), logger: Logger(label: "test"))
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<2000 {
                        tracer.begin()
                        tracer.finish(
                            self.trace(route: "/r\(task % 4)", status: index % 10 == 0 ? 500 : 200, micros: 100))
                    }
                }
            }
        }
        let stats = tracer.statistics()
        #expect(stats.totalRequests == 16_000)
        #expect(stats.activeRequests == 0)
        #expect(stats.endpoints.values.reduce(0) { $0 + $1.timing.count } == 16_000)
        #expect(stats.endpoints["/r0"]?.errors == 400)
        #expect(abs(stats.errorRate - 0.1) < 1e-9)
    }

    @Test("past the series cap new route templates share <overflow>")
    func seriesCap() {
        let runtime = RuntimeConfiguration(debug: false, performance: true)
        var limits = StoreLimits()
        limits.series = 50
        let tracer = RequestTracer(runtime: runtime, limits: limits, logger: Logger(label: "test"))
        for index in 0..<500 {
            tracer.begin()
            tracer.finish(trace(route: "/route/\(index)", micros: 10))
        }
        let stats = tracer.statistics()
        #expect(stats.series == 51)
        #expect(stats.endpoints[RequestTracer.overflow]?.timing.count == 450)
    }

    @Test("10,000 distinct unmatched paths make one <unmatched> series")
    func unmatchedPaths() async throws {
        let server = TestServer()
        try await server.test { client in
            for index in 0..<10_000 {
                try await client.execute(uri: "/no/such/path/\(index)", method: .get) { response in
                    if index == 0 {
                        #expect(response.status == .notFound)
                        #expect(response.object["error"] as? String == "not_found")
                    }
                }
            }
        }
        let stats = server.engine.tracer.statistics()
        #expect(stats.endpoints[RequestTracer.unmatched]?.timing.count == 10_000, "\(stats.endpoints.keys.sorted())")
        #expect(stats.series == 1)
        let fill = server.engine.buffers["traces"]!
        #expect(fill.used <= fill.limit)
        #expect(fill.bytes <= fill.bytesLimit)
    }

    @Test("a slow request is flagged, logged at WARNING with its id, and kept in the slow ring")
    func slowDetection() async throws {
        var live = LiveSettings()
        // A threshold well above what /health takes on a loaded CI machine (a 20 ms threshold once
        // flagged a /health there), and a sleep well above the threshold.
        live.slowThresholdMs = 150
        let server = TestServer(live: live)
        try await server.test(extraRoutes: { router in
            router.get("/test/sleep") { _, _ in
                try await Task.sleep(for: .milliseconds(200))
                return "slept"
            }
        }) { client in
            try await client.execute(uri: "/test/sleep", method: .get, headers: [.requestID: "slow-one"]) { response in
                #expect(response.headers[.requestID] == "slow-one")
            }
            for _ in 0..<50 { try await client.execute(uri: "/health", method: .get) { _ in } }
        }
        let slow = server.engine.tracer.traces(
            matching: {
                var f = TraceFilter(); f.slowOnly = true; return f
            }(), limit: 10)
        #expect(slow.map(\.requestID) == ["slow-one"])
        #expect(slow.first?.route == "/test/sleep")
        let warnings = server.engine.ring.records(
            matching: LogFilter(level: .warning, module: "kimera.http"), limit: 10)
        #expect(
            warnings.contains {
                $0.message == "slow request" && $0.requestID == "slow-one" && $0.metadata["route"] == "/test/sleep"
            })
        #expect(server.engine.tracer.statistics().slowRequests == 1)
    }

    @Test("a log line written inside a handler carries that request's id")
    func logCorrelation() async throws {
        let server = TestServer(debug: true)
        let logger = server.engine.logger("kimera.core.test")
        try await server.test(extraRoutes: { router in
            router.get("/test/log") { _, _ in
                logger.info("inside the handler")
                return "ok"
            }
        }) { client in
            try await client.execute(uri: "/test/log", method: .get, headers: [.requestID: "req-42"]) { _ in }
            let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            try await client.execute(uri: "/test/log", method: .get, headers: [.traceparent: traceparent]) { response in
                #expect(response.headers[.requestID] == "4bf92f3577b34da6a3ce929d0e0e4736")
            }
            try await client.execute(uri: "/test/log", method: .get, headers: [.requestID: "bad id with spaces"]) {
                response in
                let id = response.headers[.requestID] ?? ""
                #expect(id != "bad id with spaces")
                #expect(id.count == 15)
            }
        }
        let records = server.engine.ring.records(matching: LogFilter(module: "kimera.core.test"), limit: 10)
        #expect(records.map(\.requestID) == ["req-42", "4bf92f3577b34da6a3ce929d0e0e4736", records.last?.requestID])
        #expect(records.last?.requestID?.count == 15)
        let traces = DebugRoutes.traces(
            server.engine,
            {
                var f = TraceFilter(); f.requestID = "req-42"; return f
            }(), limit: 5)
        #expect(traces.first?.logCount == 1)
    }

    @Test("generated ids are unique and short enough to live inline")
    func generatedIDs() {
        let ids = (0..<10_000).map { _ in RequestIdentity.generate() }
        #expect(Set(ids).count == 10_000)
        #expect(ids.allSatisfy { $0.utf8.count == 15 && RequestIdentity.isValid($0) })
    }
}

@Suite("Response cache")
struct ResponseCacheTests {
    @Test("hit, miss, bypass, expiry and headers on GET /")
    func hitMissBypassExpiry() async throws {
        var live = LiveSettings()
        // Long enough that a loaded machine cannot expire the entry between the first two requests.
        live.cacheTTLSeconds = 3
        let server = TestServer(live: live)
        try await server.test { client in
            var first = ""
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.headers[.xCache] == "MISS")
                #expect(response.headers[.cacheControl] == "public, max-age=3")
                first = response.text
            }
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.headers[.xCache] == "HIT")
                #expect(response.headers[.xCacheAge]?.contains(".") == true)
                #expect(response.text == first)
                #expect(!response.headers.contains { $0.name.canonicalName == "x-kimera-route" })
            }
            try await client.execute(uri: "/?bypass_cache=true", method: .get) { response in
                #expect(response.headers[.xCache] == "BYPASSED")
            }
            try await Task.sleep(for: .milliseconds(3100))
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.headers[.xCache] == "MISS")
                #expect(response.text != first)
            }
        }
        let stats = server.engine.cache.stats
        #expect(stats.hits == 1)
        #expect(stats.misses == 2)
        #expect(stats.entries == 1)
        let traces = server.engine.tracer.traces(matching: TraceFilter(), limit: 10)
        #expect(traces.map(\.cache) == [.miss, .bypassed, .hit, .miss])
        #expect(traces.allSatisfy { $0.route == "/" })
    }

    @Test("the cache is off without the performance flag")
    func offInBasicMode() async throws {
        let server = TestServer(performance: false)
        try await server.test { client in
            for _ in 0..<2 {
                try await client.execute(uri: "/", method: .get) { response in
                    #expect(response.headers[.xCache] == nil)
                }
            }
        }
        #expect(server.engine.cache.stats.entries == 0)
    }

    @Test("LRU eviction by entries and by bytes, and invalidation by prefix")
    func evictionAndInvalidation() {
        let runtime = RuntimeConfiguration(debug: false, performance: true)
        let cache = ResponseCache(runtime: runtime, maxEntries: 3, maxBytes: 1 << 20)
        for key in ["/a", "/b", "/c"] {
            cache.store(key, status: .ok, headers: [:], body: ByteBuffer(string: key), ttlSeconds: 60)
        }
        _ = cache.lookup("/a")  // /a is now the most recent; /b the least
        cache.store("/d", status: .ok, headers: [:], body: ByteBuffer(string: "d"), ttlSeconds: 60)
        #expect(cache.lookup("/b") == nil)
        #expect(cache.lookup("/a") != nil)
        #expect(cache.stats.evictions == 1)

        let small = ResponseCache(runtime: runtime, maxEntries: 100, maxBytes: 4096)
        for index in 0..<20 {
            small.store(
                "/k/\(index)", status: .ok, headers: [:], body: ByteBuffer(string: String(repeating: "z", count: 700)),
                ttlSeconds: 60)
        }
        #expect(small.stats.bytes <= 4096)
        #expect(small.stats.entries < 20)
        #expect(small.lookup("/k/19") != nil)
        small.invalidate(prefix: "/k/1")
        #expect(small.lookup("/k/19") == nil)
    }
}
