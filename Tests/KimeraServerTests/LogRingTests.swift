import Foundation
import KimeraAPI
import KimeraCore
import KimeraModels
import Logging
import Synchronization
import Testing

@testable import KimeraObservability
@testable import KimeraServer

@Suite("Log ring")
struct LogRingTests {
    @Test("wrapping around keeps the newest records and counts the dropped ones")
    func wrapAround() {
        let ring = LogRing(capacity: 10, byteLimit: 1 << 20)
        for index in 1...25 { ring.append(capturedLog("message \(index)")) }
        let records = ring.records(matching: LogFilter(), limit: 100)
        #expect(records.count == 10)
        #expect(records.first?.message == "message 16")
        #expect(records.last?.message == "message 25")
        #expect(records.map(\.seq) == Array(16...25))
        #expect(ring.fill.dropped == 15)
        #expect(ring.fill.nextSeq == 26)
    }

    @Test("the byte bound holds with large messages")
    func byteBound() {
        let ring = LogRing(capacity: 5000, byteLimit: 64 * 1024)
        let big = String(repeating: "x", count: 6000)
        for index in 1...100 { ring.append(capturedLog("\(index) \(big)")) }
        let fill = ring.fill
        #expect(fill.bytes <= 64 * 1024)
        #expect(fill.count < 12)
        #expect(fill.count > 5)
        #expect(fill.dropped == UInt64(100 - fill.count))
        #expect(ring.records(matching: LogFilter(), limit: 1).first?.message.hasPrefix("100 ") == true)
    }

    @Test("one huge message is cut, not allowed to empty the ring")
    func hugeMessageTruncated() {
        let ring = LogRing(capacity: 100, byteLimit: 64 * 1024)
        ring.append(capturedLog("small"))
        ring.append(capturedLog(String(repeating: "y", count: 1_000_000)))
        let records = ring.records(matching: LogFilter(), limit: 10)
        #expect(records.count == 2)
        #expect(records[1].message.hasSuffix("[truncated]"))
        #expect(ring.fill.bytes <= 64 * 1024)
    }

    @Test("level is a minimum unless exact, module matches labels below it, since_seq pages forward")
    func filters() {
        let ring = LogRing(capacity: 100, byteLimit: 1 << 20)
        ring.append(capturedLog("e", level: .error, module: "kimera.core.vault"))
        ring.append(capturedLog("c", level: .critical, module: "kimera.core"))
        ring.append(capturedLog("w", level: .warning, module: "kimera.corex"))
        ring.append(capturedLog("i", level: .info, module: "kimera.http", requestID: "abc"))
        #expect(ring.records(matching: LogFilter(level: .error), limit: 10).map(\.message) == ["e", "c"])
        #expect(ring.records(matching: LogFilter(level: .error, exact: true), limit: 10).map(\.message) == ["e"])
        #expect(ring.records(matching: LogFilter(module: "kimera.core"), limit: 10).map(\.message) == ["e", "c"])
        #expect(ring.records(matching: LogFilter(requestID: "abc"), limit: 10).map(\.message) == ["i"])
        #expect(ring.records(matching: LogFilter(sinceSeq: 1), limit: 2).map(\.message) == ["c", "w"])
        #expect(ring.records(matching: LogFilter(), limit: 2).map(\.message) == ["w", "i"])
    }

    @Test("concurrent writers from many tasks lose no records and no sequence numbers")
    func concurrentWriters() async {
        let ring = LogRing(capacity: 100_000, byteLimit: 64 << 20)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    for index in 0..<1000 { ring.append(capturedLog("\(task)-\(index)")) }
                }
            }
        }
        let records = ring.records(matching: LogFilter(), limit: 100_000)
        #expect(records.count == 16_000)
        #expect(Set(records.map(\.seq)).count == 16_000)
        #expect(ring.fill.nextSeq == 16_001)
        #expect(ring.fill.perLevel["INFO"] == 16_000)
    }
}

@Suite("Log levels")
struct LogLevelTests {
    @Test("a module level covers the labels below it and reverts when its ttl ends")
    func hierarchicalLevelsWithExpiry() {
        let runtime = RuntimeConfiguration(debug: false, performance: true)
        #expect(runtime.effectiveLevel(for: "kimera.core.vault") == .warning)
        let now = Date()
        runtime.setLevel(.debug, module: "kimera.core", ttl: .seconds(10), now: now)
        #expect(runtime.effectiveLevel(for: "kimera.core.vault") == .debug)
        #expect(runtime.effectiveLevel(for: "kimera.core") == .debug)
        #expect(runtime.effectiveLevel(for: "kimera.corex") == .warning)
        #expect(runtime.effectiveLevel(for: "kimera") == .warning)
        runtime.expireDue(now: now.addingTimeInterval(5))
        #expect(runtime.effectiveLevel(for: "kimera.core.vault") == .debug)
        let reverted = runtime.expireDue(now: now.addingTimeInterval(11))
        #expect(reverted.map(\.setting) == ["log_level.kimera.core"])
        #expect(runtime.effectiveLevel(for: "kimera.core.vault") == .warning)
    }

    @Test("the ring captures DEBUG while the console prints only WARNING")
    func ringCapturesBelowConsole() async {
        let server = TestServer(debug: true)
        server.engine.runtime.setLevel(.warning, module: nil)
        let logger = server.engine.logger("kimera.core.vault")
        logger.debug("debug detail")
        logger.info("info detail")
        logger.warning("warning detail")
        await server.engine.flushSinks()
        let ring = server.engine.ring.records(matching: LogFilter(module: "kimera.core"), limit: 10).map(\.message)
        #expect(ring == ["debug detail", "info detail", "warning detail"])
        #expect(server.console.all.count == 1)
        #expect(server.console.all.first?.contains("warning detail") == true)
    }

    @Test("a filtered-out call never builds its message")
    func filteredOutIsLazy() {
        let server = TestServer(debug: false)
        let logger = server.engine.logger("kimera.test")
        let built = Atomic<Int>(0)
        func expensive() -> String {
            built.add(1, ordering: .relaxed)
            return "expensive"
        }
        logger.debug("\(expensive())")
        logger.trace("\(expensive())")
        #expect(built.load(ordering: .relaxed) == 0)
        logger.info("\(expensive())")
        #expect(built.load(ordering: .relaxed) == 1)
    }

    @Test("switching debug mode changes the ring level for the next record")
    func modeSwitchChangesCapture() {
        let server = TestServer(debug: false)
        let logger = server.engine.logger("kimera.test")
        logger.debug("before")
        server.engine.runtime.setDebug(true)
        logger.debug("after")
        let messages = server.engine.ring.records(matching: LogFilter(), limit: 10).map(\.message)
        #expect(messages == ["after"])
    }

    @Test("a full asynchronous sink queue drops and counts without blocking the caller")
    func fullQueueDrops() {
        let blocking = BlockingSink()
        let runtime = RuntimeConfiguration(debug: true, performance: true)
        var limits = StoreLimits()
        limits.sinkQueue = 10
        let engine = ObservabilityEngine(runtime: runtime, limits: limits, sinks: [blocking])
        let logger = engine.logger("kimera.test")
        let start = ContinuousClock.now
        for index in 0..<500 { logger.warning("record \(index)") }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(2))
        let status = engine.loggingMetrics.sinks.first!
        #expect(status.dropped >= 400)
        #expect(status.asynchronous)
        #expect(engine.ring.fill.count == 500)
        blocking.release()
    }

    @Test("a sink that cannot write is counted and reported; logging goes on")
    func failingFileSink() {
        let runtime = RuntimeConfiguration(debug: true, performance: false)
        let sink = FileSink(path: "/nonexistent-dir/kimera.log", maxBytes: 1 << 20, keepFiles: 2)
        let engine = ObservabilityEngine(runtime: runtime, limits: StoreLimits(), sinks: [sink])
        let logger = engine.logger("kimera.test")
        for index in 0..<5 { logger.error("record \(index)") }
        let status = engine.loggingMetrics.sinks.first!
        #expect(status.failures == 5)
        #expect(status.lastError?.contains("/nonexistent-dir/kimera.log") == true)
        #expect(engine.ring.fill.count == 5)
    }

    @Test("secrets in metadata and messages are masked before any sink sees them")
    func redaction() async {
        let server = TestServer(debug: true)
        let logger = server.engine.logger("kimera.test")
        logger.warning("calling with Bearer abc123", metadata: ["api_key": "k-999", "user": "ann"])
        await server.engine.flushSinks()
        let record = server.engine.ring.records(matching: LogFilter(), limit: 1).first!
        #expect(record.message == "calling with Bearer ***")
        #expect(record.metadata["api_key"] == "***")
        #expect(record.metadata["user"] == "ann")
        #expect(!server.console.all.joined().contains("abc123"))
        #expect(!server.console.all.joined().contains("k-999"))
    }
}

/// A sink whose writes block until released: stands for a stalled disk or terminal.
final class BlockingSink: LogSink, Sendable {
    let name = "file"
    var path: String? { "/blocked" }
    private let gate = DispatchSemaphore(value: 0)
    func write(_ line: String) throws { gate.wait(); gate.signal() }
    func release() { gate.signal() }
}

@Suite("Log line formats")
struct LogLineTests {
    @Test("the hand-written JSON line decodes to the same record, escapes included")
    func jsonLineRoundTrip() throws {
        var log = capturedLog("quote \" backslash \\ newline \n tab \t bell \u{7} unicode é 🚀", requestID: "r-1")
        log.seq = 42
        log.metadata = ["b": "2", "a": "line\nbreak"]
        let decoded = try JSONDecoder().decode(LogRecord.self, from: Data(LogLine.json(log).utf8))
        #expect(decoded == log.record)
        var anonymous = capturedLog("no request")
        anonymous.seq = 1
        #expect(LogLine.json(anonymous).contains("\"request_id\":null"))
    }
}
