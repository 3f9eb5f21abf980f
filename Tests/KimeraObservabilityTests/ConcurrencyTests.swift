import Foundation
import KimeraModels
import Logging
import Synchronization
import Testing

@testable import KimeraObservability

/// The concurrency defects found in review, each shown fixed (docs/ARCHITECTURE.md, "Concurrency").
@Suite struct ConcurrencyTests {
    static func log(_ message: String) -> CapturedLog {
        CapturedLog(
            seq: 0, timeNanos: Timestamp.wallNanos(), level: .info, module: "kimera.test", message: message,
            requestID: nil, metadata: [:], file: #fileID, function: #function, line: #line)
    }

    /// 8 producers append for 5 s while one reader follows the live stream: the reader sees strictly
    /// increasing seqs, none twice, and every seq is either delivered or inside a gap line.
    @Test func liveStreamUnderEightProducersIsOrderedAndComplete() async throws {
        let ring = LogRing(capacity: 5000, byteLimit: 8 * 1024 * 1024, subscriberBuffer: 1000, maxSubscribers: 4)
        let subscription = try #require(ring.subscribe(filter: LogFilter()))
        let deadline = ContinuousClock.now + .seconds(5)
        let produced = Tally()
        let producers = Task {
            await withTaskGroup(of: Void.self) { group in
                for producer in 0..<8 {
                    group.addTask {
                        var count = 0
                        // Bounded in time and count.
                        while ContinuousClock.now < deadline && count < 200_000 {
                            ring.append(Self.log("producer \(producer) record \(count)"))
                            count += 1
                            if count % 64 == 0 { await Task.yield() }
                        }
                        produced.value.add(count, ordering: .relaxed)
                    }
                }
            }
        }
        var last: UInt64 = 0
        var covered: UInt64 = 0
        var records = 0
        var gaps = 0
        var violations: [String] = []
        var producersDone = false
        while true {
            if !producersDone, ContinuousClock.now > deadline + .seconds(1) {
                await producers.value
                producersDone = true
            }
            let expected = UInt64(produced.value.load(ordering: .relaxed))
            if producersDone && covered == expected { break }
            if ContinuousClock.now > deadline + .seconds(30) { break }
            // A waker keeps the loop alive when no record is coming: `next()` returns an empty batch
            // after `wake()`, and a batch of records as soon as there are any.
            let waker = Task {
                try? await Task.sleep(for: .milliseconds(200))
                subscription.wake()
            }
            let batch = await subscription.next()
            waker.cancel()
            for item in batch ?? [] {
                switch item {
                case .record(let log):
                    if log.seq != last + 1 { violations.append("record \(log.seq) after \(last)") }
                    last = log.seq
                    records += 1
                case .gap(let range):
                    let (from, to) = (UInt64(range.fromSeq), UInt64(range.toSeq))
                    if from != last + 1 || to < from {
                        violations.append("gap \(from)-\(to) after \(last)")
                    }
                    last = to
                    gaps += 1
                }
                covered = last
            }
        }
        subscription.close()
        let total = UInt64(produced.value.load(ordering: .relaxed))
        #expect(total > 1000)
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        #expect(covered == total, "delivered or gapped up to \(covered) of \(total) (\(records) records, \(gaps) gaps)")
    }

    /// A reader that subscribes with since_seq while records are being appended gets each record once.
    @Test func backlogAndLiveFeedNeverRepeatARecord() async throws {
        let ring = LogRing(capacity: 10_000, byteLimit: 8 * 1024 * 1024, subscriberBuffer: 20_000)
        for index in 0..<100 { ring.append(Self.log("before \(index)")) }
        let writer = Task.detached {
            for index in 0..<2000 { ring.append(Self.log("during \(index)")) }
        }
        let subscription = try #require(ring.subscribe(filter: LogFilter(sinceSeq: 50)))
        await writer.value
        var seqs: [UInt64] = []
        while seqs.last != 2100 {
            guard let batch = await subscription.next() else { break }
            for case .record(let log) in batch { seqs.append(log.seq) }
        }
        subscription.close()
        #expect(seqs == Array(51...2100))
    }

    final class RecordingSink: LogSink, Sendable {
        let name = "file"
        var path: String? { nil }
        let lines = Mutex<[String]>([])
        let gate: DispatchSemaphore?
        init(gate: DispatchSemaphore? = nil) { self.gate = gate }
        func write(_ line: String) throws {
            gate?.wait()
            gate?.signal()
            lines.withLock { $0.append(line) }
        }
        var count: Int { lines.withLock { $0.count } }
    }

    /// Closing the sinks writes what was queued and ends the writer thread; later records are written
    /// inline instead of being lost.
    @Test func closingTheSinksEndsTheWriterThread() async {
        let runtime = RuntimeConfiguration(debug: false, performance: true)
        let sink = RecordingSink()
        let sinks = SinkSet(sinks: [sink], runtime: runtime, queueLimit: 10_000, humanReadableConsole: false)
        for index in 0..<500 { sinks.write(Self.log("queued \(index)")) }
        await sinks.close()
        #expect(sink.count == 500)
        let ended = await eventually { sinks.writerFinished }
        #expect(ended)
        sinks.write(Self.log("after close"))
        #expect(sink.count == 501)
    }

    /// `flush` suspends instead of spinning, and a sink that hangs cannot hold it past its timeout.
    @Test func flushWaitsForTheWriterButNotForever() async {
        let runtime = RuntimeConfiguration(debug: false, performance: true)
        let gate = DispatchSemaphore(value: 0)
        let sink = RecordingSink(gate: gate)
        let sinks = SinkSet(sinks: [sink], runtime: runtime, queueLimit: 100, humanReadableConsole: false)
        sinks.write(Self.log("stuck"))
        let started = ContinuousClock.now
        await sinks.flush(timeout: .milliseconds(300))
        let waited = ContinuousClock.now - started
        // Not forever: the sink stays stuck until after this, so a flush that waited for it would never end.
        #expect(waited >= .milliseconds(250) && waited < .seconds(15))
        #expect(sink.count == 0)
        gate.signal()
        await sinks.flush(timeout: .seconds(5))
        #expect(sink.count == 1)
        await sinks.close()
    }

    /// Stacked temporary changes from many threads at once still revert to where the operator started.
    @Test func stackedTemporaryChangesRevertToTheStart() async {
        for _ in 0..<20 {
            let runtime = RuntimeConfiguration(debug: false, performance: true)
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        for _ in 0..<200 {
                            runtime.setDebug(worker % 2 == 0, ttl: .seconds(60))
                        }
                    }
                }
            }
            runtime.expireDue(now: Date().addingTimeInterval(3600))
            #expect(runtime.debug == false)
            #expect(runtime.debugExpiresAt == nil)
        }
    }
}

final class Tally: Sendable {
    let value = Atomic<Int>(0)
}

func eventually(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}
