import Benchmark
import KimeraServer
import Logging

/// The per-call costs the hybrid server's promise rests on: a filtered-out log call, a log record
/// into the ring, a latency record, and the tracer's work for one request.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .instructions], maxDuration: .seconds(3), maxIterations: 1_000_000)

    let runtime = RuntimeConfiguration(debug: false, performance: true)
    let engine = ObservabilityEngine(runtime: runtime, limits: StoreLimits(), consoleEnabled: false)
    let logger = engine.logger("kimera.bench")

    Benchmark("filtered-out log call (DEBUG in performance mode)") { benchmark in
        for index in benchmark.scaledIterations {
            logger.debug("value \(index)")
        }
    }

    Benchmark("log record into the ring (INFO)") { benchmark in
        for _ in benchmark.scaledIterations {
            logger.info("request handled")
        }
    }

    Benchmark("latency histogram record") { benchmark in
        var recorder = LatencyRecorder()
        for index in benchmark.scaledIterations {
            recorder.record(nanos: Int64(1000 + index % 5000), error: false)
        }
        blackHole(recorder.timing)
    }

    Benchmark("tracer per request (id, stats, trace ring)") { benchmark in
        let tracer = engine.tracer
        for index in benchmark.scaledIterations {
            let id = RequestIdentity.generate()
            tracer.begin()
            tracer.finish(
                CompactTrace(
                    requestID: id, method: "GET", path: "/health", query: nil, route: "/health", status: 200,
                    durationNanos: Int64(20_000 + index % 1000), startedWallNanos: Timestamp.wallNanos(), bytesIn: 0,
                    bytesOut: 106, cache: nil, slow: false, error: nil))
        }
    }
}
