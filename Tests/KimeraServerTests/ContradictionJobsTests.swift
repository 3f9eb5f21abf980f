import Foundation
import KimeraCore
import KimeraModels
import KimeraVaultSQLite
import Testing

@testable import KimeraObservability
@testable import KimeraServer

/// Asynchronous processing takes part in shutdown: running jobs are waited for, new ones refused.
@Suite struct ContradictionJobsTests {
    @Test func shutdownWaitsForRunningJobsAndRefusesNewOnes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kimera-jobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let service = try KimeraService.open(dataDirectory: directory.path)
        for text in ["the sky is blue", "the sky is not blue", "water is wet"] {
            _ = try await service.createGeoid(try GeoidConstruction.draft(content: text))
        }
        let trigger = try await service.createGeoid(try GeoidConstruction.draft(content: "the sky is green"))
        let engine = ObservabilityEngine(
            runtime: RuntimeConfiguration(debug: false, performance: true), limits: StoreLimits(),
            consoleEnabled: false)
        let jobs = ContradictionJobs(store: service.store, owner: "test")
        var ids: [String] = []
        for _ in 0..<8 {
            let id = try await jobs.start(
                trigger: trigger.geoidID, searchLimit: 5, forceCollapse: false, service: service,
                profiler: engine.profiler
            ) { _ in }
            ids.append(id)
        }
        await jobs.drain()
        #expect(jobs.running == 0)
        for id in ids { #expect(try await jobs.state(id)?.status == .completed) }
        await #expect {
            _ = try await jobs.start(
                trigger: trigger.geoidID, searchLimit: 5, forceCollapse: false, service: service,
                profiler: engine.profiler
            ) { _ in }
        } throws: { error in
            let refusal = error as? APIError
            return refusal?.status == .serviceUnavailable && refusal?.message.contains("shutting down") == true
        }
    }

    @Test("each refusal names its limit: too many running, a table full of running jobs")
    func refusalsSayWhichLimit() throws {
        let limits = JobLimits(capacity: 3, runningLimit: 1, retentionSeconds: 600)
        #expect(ContradictionJobs.refusal(.accepted, limits: limits) == nil)
        let running = try #require(ContradictionJobs.refusal(.tooManyRunning, limits: limits))
        #expect(running.status == .serviceUnavailable && running.code == .unavailable)
        #expect(running.message == "Too many contradiction jobs are running (1); retry when one finishes.")
        let full = try #require(ContradictionJobs.refusal(.full, limits: limits))
        #expect(full.status == .serviceUnavailable)
        #expect(full.message == "The job table is full: 3 jobs are kept and none has finished; retry when one finishes.")
    }
}
