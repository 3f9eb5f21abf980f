#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import Hummingbird
import KimeraObservability
import Logging
import NIOCore

/// `GET /debug/pprof/*` (issue 25): CPU profiles in pprof format or as folded stacks, and every thread's
/// stack. They sit under `/debug/`, so access control treats them as every debug endpoint. A profile holds
/// function names and counts only, never request data.
enum PprofRoutes {
    static let formats = ["pprof", "folded"]

    static func register<Context: RequestContext>(on routes: RouteTable<Context>, engine: ObservabilityEngine) {
        routes.get("/debug/pprof/profile") { request, _ in
            let query = QueryReader(request)
            let seconds = try query.integer("seconds", default: 30, in: CPUProfiler.secondsRange)
            let hz = try query.integer("hz", default: 100, in: CPUProfiler.hzRange)
            let format = try query.choice("format", default: "pprof", allowed: formats)
            let sampled: SampledProfile
            do throws(CPUProfiler.Failure) {
                sampled = try await CPUProfiler.record(for: .seconds(seconds), hz: hz)
            } catch {
                throw refusal(error)
            }
            return try answer(
                sampled, format: format, file: "kimera-cpu.pb.gz", engine: engine,
                audit: "cpu profile taken", ["seconds": .stringConvertible(seconds), "hz": .stringConvertible(hz)])
        }

        // Allocations sampled with their stacks while the window lasts (not since start, as Go's allocs
        // profile: counting costs nothing until asked).
        routes.get("/debug/pprof/allocs") { request, _ in
            let query = QueryReader(request)
            let seconds = try query.integer("seconds", default: 30, in: CPUProfiler.secondsRange)
            let rate = try query.integer("rate", default: CPUProfiler.defaultRate, in: CPUProfiler.rateRange)
            let format = try query.choice("format", default: "pprof", allowed: formats)
            let sampled: SampledProfile
            do throws(CPUProfiler.Failure) {
                sampled = try await CPUProfiler.recordAllocations(for: .seconds(seconds), rate: rate)
            } catch {
                throw refusal(error)
            }
            return try answer(
                sampled, format: format, file: "kimera-allocs.pb.gz", engine: engine,
                audit: "allocation profile taken",
                ["seconds": .stringConvertible(seconds), "rate": .stringConvertible(rate)])
        }

        routes.get("/debug/pprof/threads") { request, _ in
            let format = try QueryReader(request).choice("format", default: "text", allowed: ["text", "pprof"])
            let threads: [ThreadStack]
            do throws(CPUProfiler.Failure) {
                threads = try CPUProfiler.threadStacks()
            } catch {
                throw refusal(error)
            }
            if format == "pprof" {
                return try pprof(SymbolizedProfile(threads: threads, at: Date()), file: "kimera-threads.pb.gz")
            }
            var body = "\(threads.count) threads\n"
            for thread in threads {
                body += "\nthread \(thread.id) \"\(thread.name)\"\n"
                for (index, frame) in thread.frames.enumerated() { body += "  #\(index) \(frame)\n" }
            }
            return text(body)
        }
    }

    /// A profile taken: noted in the audit log, then answered as folded stacks or as a pprof download.
    static func answer(
        _ sampled: SampledProfile, format: String, file: String, engine: ObservabilityEngine, audit message: String,
        _ metadata: Logger.Metadata
    ) throws -> Response {
        engine.audit.notice(
            "\(message)",
            metadata: metadata.merging(
                [
                    "samples": .stringConvertible(sampled.sampleCount),
                    "dropped": .stringConvertible(sampled.dropped),
                ], uniquingKeysWith: { first, _ in first }))
        let profile = SymbolizedProfile(sampled)
        if format == "folded" {
            return text(profile.folded())
        }
        return try pprof(profile, file: file)
    }

    static func refusal(_ failure: CPUProfiler.Failure) -> APIError {
        switch failure {
        case .busy:
            return APIError(
                .conflict, code: .conflict,
                message:
                    "A CPU or allocation profile or a thread dump is running (one at a time); retry when it has finished.")
        case .unsupported:
            return APIError(
                .notImplemented, code: .notImplemented,
                message: "Allocation sampling needs the interposed allocator, which sanitizer builds do not have.")
        case .system(let code):
            return APIError(
                .internalServerError, code: .internal,
                message: "The system refused the profiling timer or signal handler (errno \(code)).")
        }
    }

    /// A profile as gzipped pprof, offered as a download named `file`.
    static func pprof(_ profile: SymbolizedProfile, file: String) throws -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "application/octet-stream", .contentDisposition: "attachment; filename=\"\(file)\"",
                .cacheControl: "no-store",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try profile.pprofGzipped())))
    }

    static func text(_ body: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
