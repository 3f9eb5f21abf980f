import Foundation
import KimeraAPI
import KimeraModels
import Logging
import Testing

@testable import KimeraObservability
@testable import KimeraServer

/// Exemplars (docs/OPERATIONS.md "Metrics and exemplars"): per latency bucket the latest request, the
/// slowest request, the p99's request in the statistics, and OpenMetrics on `/metrics` when asked for.
@Suite("Exemplars")
struct ExemplarTests {
    static func trace(_ id: String, route: String = "/r", micros: Int64, wallNanos: Int64 = Timestamp.wallNanos())
        -> CompactTrace
    {
        CompactTrace(
            requestID: id, method: "GET", path: route, query: nil, route: route, status: 200,
            durationNanos: micros * 1000, startedWallNanos: wallNanos, bytesIn: 0, bytesOut: 0, cache: nil,
            slow: false, error: nil)
    }

    static func tracer() -> RequestTracer {
        RequestTracer(
            runtime: RuntimeConfiguration(debug: false, performance: true), limits: StoreLimits(),
            logger: Logger(label: "test"))
    }

    static func finish(_ tracer: RequestTracer, _ trace: CompactTrace) {
        tracer.begin()
        tracer.finish(trace)
    }

    @Test("a duration falls in the first bucket whose bound is at or above it; past the last, in +Inf")
    func bucketIndex() {
        #expect(LatencyBuckets.index(ofNanos: 0) == 0)
        #expect(LatencyBuckets.index(ofNanos: 10_000) == 0)
        #expect(LatencyBuckets.index(ofNanos: 10_001) == 1)
        #expect(LatencyBuckets.index(ofNanos: 1_000_000) == LatencyBuckets.boundsMs.firstIndex(of: 1))
        #expect(LatencyBuckets.index(ofNanos: 10_000_000_000) == LatencyBuckets.boundsMs.count - 1)
        #expect(LatencyBuckets.index(ofNanos: 10_000_000_001) == LatencyBuckets.boundsMs.count)
        #expect(LatencyBuckets.count == LatencyBuckets.boundsMs.count + 1)
    }

    @Test("each bucket keeps the latest request that fell in it, the max the slowest; no id, no exemplar")
    func latestPerBucketAndSlowest() throws {
        let tracer = Self.tracer()
        Self.finish(tracer, Self.trace("first-fast", micros: 20, wallNanos: 1_000_000_000))
        Self.finish(tracer, Self.trace("slowest", micros: 3000, wallNanos: 2_000_000_000))
        Self.finish(tracer, Self.trace("second-fast", micros: 22, wallNanos: 3_000_000_000))
        Self.finish(tracer, Self.trace("a-bit-slow", micros: 2000, wallNanos: 4_000_000_000))
        let recorder = try #require(tracer.recorders().first { $0.route == "/r" }?.recorder)
        #expect(recorder.exemplars.count == LatencyBuckets.count)
        let fastBucket = LatencyBuckets.index(ofNanos: 20_000)
        #expect(recorder.exemplars[fastBucket]?.requestID == "second-fast")
        #expect(recorder.exemplars[fastBucket]?.nanos == 22_000)
        #expect(recorder.exemplars[fastBucket]?.wallNanos == 3_000_000_000)
        #expect(recorder.exemplars[LatencyBuckets.index(ofNanos: 3_000_000)]?.requestID == "slowest")
        #expect(recorder.exemplars[LatencyBuckets.index(ofNanos: 2_000_000)]?.requestID == "a-bit-slow")
        #expect(recorder.exemplars.compactMap { $0 }.count == 3)
        #expect(recorder.maxExemplar?.requestID == "slowest")

        // The profiler's recorders carry no request: they keep no exemplar and allocate no slots.
        var plain = LatencyRecorder()
        plain.record(nanos: 5000, error: false)
        #expect(plain.exemplars.isEmpty && plain.maxExemplar == nil)
        #expect(plain.exemplar(atMs: 0.005) == nil)
    }

    @Test("statistics show the p99's bucket's latest request and the slowest, with duration and start")
    func statisticsExemplars() throws {
        let tracer = Self.tracer()
        // 980 fast and 20 slow: the p99 (the 990th) is a slow one, in the 5 ms bucket.
        for index in 0..<980 { Self.finish(tracer, Self.trace("fast-\(index)", micros: 20)) }
        for index in 0..<20 { Self.finish(tracer, Self.trace("slow-\(index)", micros: 3000)) }
        Self.finish(tracer, Self.trace("slowest", micros: 4000, wallNanos: 1_700_000_000_123_456_000))
        let endpoint = try #require(tracer.statistics().endpoints["/r"])
        let exemplars = try #require(endpoint.exemplars)
        #expect(endpoint.timing.p99Ms >= 2.5 && endpoint.timing.p99Ms <= 5)
        // The slowest shares the p99's bucket and came last.
        #expect(exemplars.p99.requestID == "slowest")
        #expect(exemplars.max.requestID == "slowest")
        #expect(exemplars.max.durationMs == 4)
        #expect(exemplars.max.startedAt == "2023-11-14T22:13:20.123456Z")

        // 995 fast and 5 slow: the p99 is fast, and so is its exemplar.
        let mostlyFast = Self.tracer()
        for index in 0..<995 { Self.finish(mostlyFast, Self.trace("fast-\(index)", micros: 20)) }
        for index in 0..<5 { Self.finish(mostlyFast, Self.trace("slow-\(index)", micros: 3000)) }
        let fast = try #require(mostlyFast.statistics().endpoints["/r"]?.exemplars)
        #expect(fast.p99.requestID == "fast-994")
        #expect(fast.p99.durationMs == 0.02)
        #expect(fast.max.requestID == "slow-4")

        // JSON: the documented field names, and a body without the field (an older server) still decodes.
        let json = String(decoding: try JSONEncoder().encode(endpoint), as: UTF8.self)
        #expect(json.contains(#""exemplars":{"#) && json.contains(#""request_id":"slowest""#))
        #expect(json.contains(#""duration_ms":4"#) && json.contains(#""started_at":"2023-11-14T22:13:20.123456Z""#))
        var old = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        old["exemplars"] = nil
        let decoded = try JSONDecoder().decode(
            EndpointStatistics.self, from: JSONSerialization.data(withJSONObject: old))
        #expect(decoded.exemplars == nil && decoded.timing == endpoint.timing)
    }

    @Test("the p99 exemplar is the nearest kept one at or above the p99's bucket, else below")
    func nearestBucket() {
        var recorder = LatencyRecorder()
        recorder.record(nanos: 20_000, error: false, requestID: "fast", wallNanos: 1)
        recorder.record(nanos: 40_000_000, error: false, requestID: "slow", wallNanos: 2)
        #expect(recorder.exemplar(atMs: 0.02)?.requestID == "fast")
        #expect(recorder.exemplar(atMs: 1)?.requestID == "slow")
        #expect(recorder.exemplar(atMs: 40)?.requestID == "slow")
        #expect(recorder.exemplar(atMs: 9000)?.requestID == "slow")
    }

    @Test("merging methods keeps each bucket's later request and the slower max")
    func merge() {
        var get = LatencyRecorder()
        get.record(nanos: 20_000, error: false, requestID: "get-old", wallNanos: 1)
        get.record(nanos: 9_000_000, error: false, requestID: "get-slow", wallNanos: 2)
        var post = LatencyRecorder()
        post.record(nanos: 21_000, error: false, requestID: "post-new", wallNanos: 3)
        var overall = LatencyRecorder()
        overall.merge(get)
        overall.merge(post)
        #expect(overall.exemplars[LatencyBuckets.index(ofNanos: 20_000)]?.requestID == "post-new")
        #expect(overall.maxExemplar?.requestID == "get-slow")
        var reversed = LatencyRecorder()
        reversed.merge(post)
        reversed.merge(get)
        #expect(reversed.exemplars == overall.exemplars)
        #expect(reversed.maxExemplar == overall.maxExemplar)
    }

    @Test("Accept chooses the format: OpenMetrics when named with a quality above 0 and not below text's")
    func negotiation() {
        typealias Format = PrometheusExposition.Format
        let prometheus =
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
            + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        #expect(Format.negotiated(accept: prometheus) == .openMetrics)
        #expect(Format.negotiated(accept: "application/openmetrics-text") == .openMetrics)
        #expect(Format.negotiated(accept: "Application/OpenMetrics-Text; version=1.0.0") == .openMetrics)
        #expect(Format.negotiated(accept: nil) == .text)
        #expect(Format.negotiated(accept: "") == .text)
        #expect(Format.negotiated(accept: "*/*") == .text)
        #expect(Format.negotiated(accept: "text/plain") == .text)
        #expect(Format.negotiated(accept: "application/openmetrics-text;q=0") == .text)
        #expect(Format.negotiated(accept: "text/plain, application/openmetrics-text;q=0.5") == .text)
        #expect(Format.negotiated(accept: "text/plain;q=0.2, application/openmetrics-text;q=0.5") == .openMetrics)
        #expect(Format.openMetrics.contentType == "application/openmetrics-text; version=1.0.0; charset=utf-8")
        #expect(Format.text.contentType == "text/plain; version=0.0.4; charset=utf-8")
    }

    /// The lines that change between two renders of an idle server.
    static func steady(_ text: String) -> [Substring] {
        text.split(separator: "\n").filter {
            !$0.hasPrefix("process_") && !$0.hasPrefix("kimera_uptime_seconds")
        }
    }

    @Test("OpenMetrics is the text format plus exemplars, counter families without _total and # EOF")
    func openMetricsDiffersOnlyWhereTheFormatSays() throws {
        let server = TestServer()
        let tracer = server.engine.tracer
        Self.finish(tracer, Self.trace("om-fast", route: "/health", micros: 20, wallNanos: 1_700_000_000_123_456_789))
        Self.finish(tracer, Self.trace("om-slow", route: "/health", micros: 30_000_000))
        let long = String(repeating: "x", count: 121)
        Self.finish(tracer, Self.trace(long, route: "/long", micros: 20))
        let text = PrometheusExposition.render(engine: server.engine)
        let openMetrics = PrometheusExposition.render(engine: server.engine, format: .openMetrics)

        #expect(!text.contains("# EOF") && !text.contains(" # {"))
        #expect(openMetrics.hasSuffix("\n# EOF\n"))
        #expect(
            openMetrics.contains(
                #"kimera_http_request_duration_seconds_bucket{route="/health",method="GET",le="2.5e-05"} 1"#
                    + #" # {trace_id="om-fast"} 2e-05 1700000000.123"#))
        #expect(
            openMetrics.contains(
                #"kimera_http_request_duration_seconds_bucket{route="/health",method="GET",le="+Inf"} 2"#
                    + #" # {trace_id="om-slow"} 30.0 "#))
        // An id past OpenMetrics' 128-character label set is left off (Prometheus would refuse the sample).
        #expect(!openMetrics.contains(long))
        #expect(openMetrics.contains("# TYPE kimera_http_requests counter\n"))
        #expect(openMetrics.contains("kimera_http_requests_total{route=\"/health\",method=\"GET\"} 2\n"))
        #expect(text.contains("# TYPE kimera_http_requests_total counter\n"))

        // Undo exactly those differences: the rest is the text format, line for line.
        let lines = Self.steady(openMetrics)
        let counters = lines.filter { $0.hasPrefix("# TYPE ") && $0.hasSuffix(" counter") }.map {
            String($0.split(separator: " ")[2])
        }
        var undone: [String] = []
        for line in lines where line != "# EOF" {
            var line = String(line)
            for family in counters {
                for prefix in ["# HELP ", "# TYPE "] where line.hasPrefix(prefix + family + " ") {
                    line = prefix + family + "_total" + line.dropFirst(prefix.count + family.count)
                }
            }
            if let mark = line.range(of: " # {") { line = String(line[..<mark.lowerBound]) }
            undone.append(line)
        }
        #expect(counters.count >= 10)
        #expect(undone == Self.steady(text).map(String.init))
    }
}
