import Foundation
import KimeraAPI
import KimeraModels
import Logging
import Synchronization

/// A destination for log records beyond the ring: the console or a file.
protocol LogSink: Sendable {
    var name: String { get }
    var path: String? { get }
    /// Writes one record now; throws when the destination fails.
    func write(_ line: String) throws
}

/// The sinks of the process and how they are written: inline (full debug, basic) or through a
/// bounded queue drained by one writer thread (performance modes), so the request path never blocks
/// on I/O. When the queue is full, records are dropped and counted.
public final class SinkSet: Sendable {
    struct Counters: Sendable {
        var written: UInt64 = 0
        var dropped: UInt64 = 0
        var failures: UInt64 = 0
        var lastError: String?
    }

    let sinks: [any LogSink]
    let runtime: RuntimeConfiguration
    let queueLimit: Int
    let humanReadableConsole: Bool
    /// Per-sink counters, indexed like `sinks`.
    private let counters: Mutex<[Counters]>
    private let queue: BoundedQueue<CapturedLog>

    init(sinks: [any LogSink], runtime: RuntimeConfiguration, queueLimit: Int, humanReadableConsole: Bool) {
        self.sinks = sinks
        self.runtime = runtime
        self.queueLimit = queueLimit
        self.humanReadableConsole = humanReadableConsole
        counters = Mutex(Array(repeating: Counters(), count: sinks.count))
        queue = BoundedQueue(limit: queueLimit)
        if !sinks.isEmpty {
            // The thread holds the queue, not the set: it ends when the queue is closed (`close()`, or
            // the set's deinit) and drained, so no engine leaves a writer behind.
            let thread = Thread { [queue, weak self] in
                while let batch = queue.takeAll() {
                    guard let self else { continue }
                    for log in batch { self.writeNow(log) }
                }
                queue.markFinished()
            }
            thread.name = "kimera-log-writer"
            thread.start()
        }
    }

    deinit { queue.close() }

    func write(_ log: CapturedLog) {
        guard !sinks.isEmpty else { return }
        guard runtime.mode.asynchronousSinks else { return writeNow(log) }
        switch queue.offer(log) {
        case .queued: break
        case .full:
            counters.locked { counters in
                for index in counters.indices { counters[index].dropped += 1 }
            }
        case .closed: writeNow(log)  // after shutdown began: written inline, never lost
        }
    }

    private func writeNow(_ log: CapturedLog) {
        // Each format is rendered at most once per record, whatever the number of sinks; the counters
        // are updated under one lock for the record, not one per sink.
        var json: String?
        var failures: [(index: Int, error: String)] = []
        for (index, sink) in sinks.enumerated() {
            let line: String
            if sink.name == "console" && humanReadableConsole {
                line = LogLine.human(log)
            } else {
                if json == nil { json = LogLine.json(log) }
                line = json!
            }
            do {
                try sink.write(line)
            } catch {
                failures.append((index, "\(error)"))
            }
        }
        counters.locked { counters in
            for index in counters.indices {
                guard let failure = failures.first(where: { $0.index == index }) else {
                    counters[index].written += 1
                    continue
                }
                counters[index].failures += 1
                counters[index].dropped += 1
                counters[index].lastError = failure.error
            }
        }
    }

    /// Waits until the writer has written everything queued so far, at most `timeout` (shutdown, tests).
    /// Suspends instead of spinning: the writer resumes it when the queue runs dry.
    func flush(timeout: Duration = .seconds(2)) async {
        await queue.drained(timeout: timeout)
    }

    /// Writes what is queued, then stops the writer thread; later records are written inline.
    func close(timeout: Duration = .seconds(2)) async {
        queue.close()
        await queue.drained(timeout: timeout)
    }

    /// Whether the writer thread has ended (tests).
    var writerFinished: Bool { sinks.isEmpty || queue.finished }

    var statuses: [SinkStatus] {
        let counters = self.counters.locked { $0 }
        let mode = runtime.mode
        let level = LogLevel(runtime.rootLevel)
        return sinks.enumerated().map { index, sink in
            SinkStatus(
                name: sink.name, level: level.rawValue, asynchronous: mode.asynchronousSinks,
                written: Int(clamping: counters[index].written), dropped: Int(clamping: counters[index].dropped),
                failures: Int(clamping: counters[index].failures), lastError: counters[index].lastError,
                path: sink.path)
        }
    }

}

/// A bounded multi-producer queue with one consumer thread that sleeps while it is empty. Closing it
/// lets the consumer drain what is left and then return nil; `drained` waits for that without spinning.
final class BoundedQueue<Element: Sendable>: Sendable {
    struct State {
        var items: [Element] = []
        /// Elements taken by the consumer and not yet finished.
        var inFlight = 0
        var closed = false
        var finished = false
        var nextWaiter = 0
        /// Callers of `drained`, resumed when nothing is queued or in flight.
        var drainWaiters: [Int: CheckedContinuation<Void, Never>] = [:]

        var idle: Bool { (items.isEmpty && inFlight == 0) || finished }

        mutating func takeWaiters() -> [CheckedContinuation<Void, Never>] {
            let waiters = Array(drainWaiters.values)
            drainWaiters.removeAll()
            return waiters
        }
    }

    let limit: Int
    /// Protects the queued elements, the consumer's progress and the drain waiters.
    private let state = Mutex<State>(State())
    private let wakeup = DispatchSemaphore(value: 0)

    init(limit: Int) { self.limit = max(1, limit) }

    enum Offer { case queued, full, closed }

    /// Adds an element unless the queue is full (the caller counts the drop) or closed.
    func offer(_ element: Element) -> Offer {
        let result = state.locked { state -> Offer in
            if state.closed { return .closed }
            guard state.items.count < limit else { return .full }
            state.items.append(element)
            return .queued
        }
        if result == .queued { wakeup.signal() }
        return result
    }

    /// Blocks until there is something, then takes everything; nil once closed and empty. The previous
    /// batch counts as done.
    func takeAll() -> [Element]? {
        while true {
            let (batch, waiters, closed) = state.locked { state in
                state.inFlight = 0
                let batch = state.items
                state.items.removeAll(keepingCapacity: true)
                state.inFlight = batch.count
                return (batch, batch.isEmpty ? state.takeWaiters() : [], state.closed)
            }
            for waiter in waiters { waiter.resume() }
            if !batch.isEmpty { return batch }
            if closed { return nil }
            wakeup.wait()
        }
    }

    /// Called by the consumer when it has returned for good.
    func markFinished() {
        let waiters = state.locked { state in
            state.finished = true
            return state.takeWaiters()
        }
        for waiter in waiters { waiter.resume() }
    }

    func close() {
        state.locked { $0.closed = true }
        wakeup.signal()
    }

    var finished: Bool { state.locked { $0.finished } }
    var pending: Int { state.locked { $0.items.count + $0.inFlight } }

    /// Returns once everything offered before the call is written, or after `timeout`.
    func drained(timeout: Duration) async {
        if state.locked({ $0.idle }) { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitUntilIdle() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitUntilIdle() async {
        let id = state.locked { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.locked { state -> Bool in
                    if state.idle || Task.isCancelled { return true }
                    state.drainWaiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.locked { $0.drainWaiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// Standard error, written with one writev(2) per line: the line and its newline in one system call,
/// without copying the line to append the newline.
///
/// A console nobody reads (a full pipe) must not stop the server: synchronous modes write inline, on
/// the request's thread. So a line waits at most `maximumWaitMillis` for room, and while the pipe stays
/// full the next lines wait not at all: they are dropped and counted (`sinks[]` in `/debug/info`) until
/// the reader catches up.
final class ConsoleSink: LogSink {
    let name = "console"
    var path: String? { nil }
    let descriptor: Int32
    /// Set when a line found no room within the wait: later lines do not wait until one finds room.
    private let blocked = Atomic<Bool>(false)
    static let maximumWaitMillis: Int32 = 100

    init(descriptor: Int32 = 2) { self.descriptor = descriptor }

    func write(_ line: String) throws {
        var target = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        let wait = blocked.load(ordering: .relaxed) ? 0 : Self.maximumWaitMillis
        if poll(&target, 1, wait) == 0 {
            blocked.store(true, ordering: .relaxed)
            throw SinkError("stderr is not being read (its pipe is full); the line was dropped")
        }
        blocked.store(false, ordering: .relaxed)
        if LineWriter.write(line, to: descriptor) < 0 { throw SinkError("stderr write failed (errno \(errno))") }
    }
}

/// Writes a line and its newline with one writev(2).
enum LineWriter {
    private static let newline: [UInt8] = [UInt8(ascii: "\n")]

    /// The bytes written, or -1 (errno set).
    static func write(_ line: String, to descriptor: Int32) -> Int {
        var line = line
        return line.withUTF8 { text in
            newline.withUnsafeBufferPointer { end in
                var vectors = (
                    iovec(iov_base: UnsafeMutableRawPointer(mutating: text.baseAddress), iov_len: text.count),
                    iovec(iov_base: UnsafeMutableRawPointer(mutating: end.baseAddress), iov_len: 1)
                )
                return withUnsafePointer(to: &vectors) { pointer in
                    pointer.withMemoryRebound(to: iovec.self, capacity: 2) { writev(descriptor, $0, 2) }
                }
            }
        }
    }
}

public struct SinkError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// JSON lines in a file, rotated by size (`file`, `file.1`, … `file.N`). A file that cannot be opened
/// or written is reported and retried on later records; serving goes on. Once a second it checks
/// that the path still names the open file, and reopens it when it was moved or removed (external
/// log rotation), so a replaced file is picked up and a vanished one is reported.
final class FileSink: LogSink {
    struct State {
        var descriptor: Int32 = -1
        var size = 0
        var lastAttempt: Int64 = 0
        var lastPathCheck: Int64 = 0
        var device: UInt64 = 0
        var inode: UInt64 = 0
    }
    let name = "file"
    let filePath: String
    let maxBytes: Int
    let keepFiles: Int
    /// Protects the open descriptor and the byte count of the current file.
    private let state = Mutex<State>(State())

    var path: String? { filePath }

    init(path: String, maxBytes: Int, keepFiles: Int) {
        filePath = path
        self.maxBytes = max(4096, maxBytes)
        self.keepFiles = max(1, keepFiles)
    }

    func write(_ line: String) throws {
        let lineBytes = line.utf8.count + 1
        try state.locked { state in
            let now = Timestamp.monotonicNanos()
            if state.descriptor >= 0 && now - state.lastPathCheck >= 1_000_000_000 {
                state.lastPathCheck = now
                var info = stat()
                if stat(filePath, &info) != 0 || UInt64(info.st_dev) != state.device
                    || UInt64(info.st_ino) != state.inode
                {
                    Foundation.close(state.descriptor)
                    state.descriptor = -1
                    state.lastAttempt = 0
                }
            }
            if state.descriptor < 0 {
                // Retry a failed open at most once a second, so a bad path costs nothing per record.
                if state.lastAttempt != 0 && now - state.lastAttempt < 1_000_000_000 {
                    throw SinkError("log file \(filePath) is not writable")
                }
                state.lastAttempt = now
                try open(&state)
            }
            if state.size + lineBytes > maxBytes {
                rotate(&state)
                try open(&state)
            }
            let written = LineWriter.write(line, to: state.descriptor)
            if written < 0 {
                let code = errno
                Foundation.close(state.descriptor)
                state.descriptor = -1
                throw SinkError("write to \(filePath) failed: \(String(cString: strerror(code)))")
            }
            state.size += written
        }
    }

    private func open(_ state: inout State) throws {
        let descriptor = Foundation.open(filePath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            throw SinkError("cannot open log file \(filePath): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        fstat(descriptor, &info)
        state.descriptor = descriptor
        state.size = Int(info.st_size)
        state.device = UInt64(info.st_dev)
        state.inode = UInt64(info.st_ino)
        state.lastPathCheck = Timestamp.monotonicNanos()
    }

    private func rotate(_ state: inout State) {
        if state.descriptor >= 0 { Foundation.close(state.descriptor) }
        state.descriptor = -1
        for index in stride(from: keepFiles - 1, through: 1, by: -1) {
            Foundation.rename("\(filePath).\(index)", "\(filePath).\(index + 1)")
        }
        Foundation.rename(filePath, "\(filePath).1")
        Foundation.unlink("\(filePath).\(keepFiles + 1)")
    }
}

/// The two line formats: JSON (files, non-terminals) and a compact human form (terminals).
/// JSON is written by hand: it runs once per record on the sink path, where Foundation's encoder
/// would cost more than everything else together.
enum LogLine {
    static func json(_ log: CapturedLog) -> String {
        var out = "{\"seq\":\(log.seq),\"timestamp\":\""
        out += Timestamp.iso8601(nanos: log.timeNanos)
        out += "\",\"level\":\""
        out += LogLevelName.name(log.level)
        out += "\",\"module\":"
        appendString(log.module, to: &out)
        out += ",\"message\":"
        appendString(log.message, to: &out)
        out += ",\"request_id\":"
        if let id = log.requestID { appendString(id, to: &out) } else { out += "null" }
        out += ",\"metadata\":{"
        var first = true
        for (key, value) in log.metadata.sorted(by: { $0.key < $1.key }) {
            if !first { out += "," }
            first = false
            appendString(key, to: &out)
            out += ":"
            appendString(value, to: &out)
        }
        out += "},\"source\":{\"file\":"
        appendString(log.file, to: &out)
        out += ",\"function\":"
        appendString(log.function, to: &out)
        out += ",\"line\":\(log.line)}}"
        return out
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func appendString(_ text: String, to out: inout String) {
        out += "\""
        var clean = true
        for byte in text.utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            clean = false
            break
        }
        if clean {
            out += text
        } else {
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    static func human(_ log: CapturedLog) -> String {
        var line =
            "\(Timestamp.iso8601(nanos: log.timeNanos)) \(LogLevelName.name(log.level)) \(log.module): \(log.message)"
        if let id = log.requestID { line += " [request_id=\(id)]" }
        if !log.metadata.isEmpty {
            line += " " + log.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        return line
    }
}
