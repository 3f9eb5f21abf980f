import Benchmark
import KimeraServer
import Logging

/// The per-call costs the hybrid server's promise rests on: a filtered-out log call, a log record
/// into the ring, a latency record, and the tracer's work for one request.
let benchmarks: @Sendable () -> Void = {
    // 1000 calls per sample; the figures are per call. The harness itself allocates a little per
    // sample: "empty loop" shows that floor, so a benchmark at the same count adds no allocation.
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(3),
        maxIterations: 100_000)

    let runtime = RuntimeConfiguration(debug: false, performance: true)
    let engine = ObservabilityEngine(runtime: runtime, limits: StoreLimits(), consoleEnabled: false)
    let logger = engine.logger("kimera.bench")

    Benchmark("empty loop (harness floor)") { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(index)
        }
    }

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
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            recorder.record(nanos: Int64(1000 + index % 5000), error: false)
        }
        benchmark.stopMeasurement()
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
