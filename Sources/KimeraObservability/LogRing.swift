import KimeraAPI
import KimeraModels
import Logging
import Synchronization

/// The in-memory ring of recent log records: bounded by count and by bytes, oldest dropped first,
/// drops counted. It also feeds live subscribers (`/debug/logs/stream`).
public final class LogRing: Sendable {
    struct State: Sendable {
        var slots: [CapturedLog?]
        var head = 0  // index of the oldest record
        var count = 0
        var bytes = 0
        var nextSeq: UInt64 = 1
        var dropped: UInt64 = 0
        var perLevel = [UInt64](repeating: 0, count: Logger.Level.allCases.count)
    }

    public let capacity: Int
    public let byteLimit: Int
    /// Records longer than this are cut, so that one huge message cannot empty the ring.
    let maxMessageBytes: Int
    /// Protects the slots, counters and sequence numbers.
    private let state: Mutex<State>
    package let subscriptions: LogSubscriptions

    public init(capacity: Int, byteLimit: Int, subscriberBuffer: Int = 1000, maxSubscribers: Int = 64) {
        self.capacity = max(1, capacity)
        self.byteLimit = max(4096, byteLimit)
        self.maxMessageBytes = max(1024, min(64 * 1024, byteLimit / 8))
        state = Mutex(State(slots: Array(repeating: nil, count: max(1, capacity))))
        subscriptions = LogSubscriptions(bufferSize: subscriberBuffer, limit: maxSubscribers)
    }

    /// Stores a record, assigning its seq. Returns the seq.
    @discardableResult
    func append(_ log: CapturedLog) -> UInt64 {
        var log = log
        if log.message.utf8.count > maxMessageBytes {
            log.message = String(decoding: log.message.utf8.prefix(maxMessageBytes), as: UTF8.self) + "… [truncated]"
        }
        let size = log.bytes
        // Publishing happens inside the lock, so subscribers see records in seq order, and a record is
        // either in a new subscriber's backlog or in its live feed, never both (`subscribe`). The readers
        // are woken after the lock is released.
        let (seq, waiters) = state.locked { state -> (UInt64, LogSubscriptions.Waiters) in
            log.seq = state.nextSeq
            state.nextSeq += 1
            state.perLevel[log.level.index] += 1
            while state.count > 0 && (state.count == capacity || state.bytes + size > byteLimit) {
                state.bytes -= state.slots[state.head]?.bytes ?? 0
                state.slots[state.head] = nil
                state.head = (state.head + 1) % capacity
                state.count -= 1
                state.dropped += 1
            }
            state.slots[(state.head + state.count) % capacity] = log
            state.count += 1
            state.bytes += size
            return (log.seq, subscriptions.publish(log))
        }
        for waiter in waiters { waiter.resume() }
        return seq
    }

    /// The newest `limit` records matching `filter`, oldest first; with `sinceSeq`, the first `limit`
    /// records after it, so that a reader can page forward.
    public func records(matching filter: LogFilter, limit: Int) -> [LogRecord] {
        capturedRecords(matching: filter, limit: limit).map(\.record)
    }

    func capturedRecords(matching filter: LogFilter, limit: Int) -> [CapturedLog] {
        guard limit > 0 else { return [] }
        return state.locked { state in
            var found: [CapturedLog] = []
            if filter.sinceSeq != nil {
                for offset in 0..<state.count {
                    guard let log = state.slots[(state.head + offset) % capacity] else { continue }
                    if filter.matches(log) {
                        found.append(log)
                        if found.count == limit { break }
                    }
                }
                return found
            }
            var offset = state.count - 1
            while offset >= 0 && found.count < limit {
                if let log = state.slots[(state.head + offset) % capacity], filter.matches(log) {
                    found.append(log)
                }
                offset -= 1
            }
            return found.reversed()
        }
    }

    /// Counts records per request id, for the traces' `log_count`.
    package func logCounts(for requestIDs: Set<String>) -> [String: Int] {
        guard !requestIDs.isEmpty else { return [:] }
        return state.locked { state in
            var counts: [String: Int] = [:]
            for offset in 0..<state.count {
                if let id = state.slots[(state.head + offset) % capacity]?.requestID, requestIDs.contains(id) {
                    counts[id, default: 0] += 1
                }
            }
            return counts
        }
    }

    /// Subscribes to new records matching `filter`, after replaying those already held past `sinceSeq`.
    /// Registering inside the lock means no record falls between the backlog and the live feed.
    ///
    /// - Parameters:
    ///   - tap: the subscriber also gets the records `tap(_:)` publishes (below the ring's levels).
    ///   - ownRequestID: the stream's own request: its records are never fed back to it.
    ///   - onClose: run once when the subscription closes (a tap's release).
    package func subscribe(
        filter: LogFilter, tap: Bool = false, ownRequestID: String? = nil, onClose: (@Sendable () -> Void)? = nil
    ) -> LogSubscription? {
        state.locked { state -> LogSubscription? in
            guard
                let subscription = subscriptions.add(
                    filter: filter, tap: tap, ownRequestID: ownRequestID, onClose: onClose)
            else { return nil }
            if filter.sinceSeq != nil {
                for offset in 0..<state.count {
                    if let log = state.slots[(state.head + offset) % capacity], filter.matches(log) {
                        _ = subscription.offer(log)
                    }
                }
            }
            return subscription
        }
    }

    /// Publishes a record the ring does not keep (below its level) to the tap subscribers it matches
    /// (docs/OPERATIONS.md "Log taps"). It takes the next seq, so that readers see one order; the ring's
    /// own records then skip that number.
    func tap(_ log: CapturedLog) {
        var log = log
        if log.message.utf8.count > maxMessageBytes {
            log.message = String(decoding: log.message.utf8.prefix(maxMessageBytes), as: UTF8.self) + "… [truncated]"
        }
        let waiters = state.locked { state -> LogSubscriptions.Waiters in
            log.seq = state.nextSeq
            state.nextSeq += 1
            return subscriptions.publish(log, tapsOnly: true)
        }
        for waiter in waiters { waiter.resume() }
    }

    public struct Fill: Sendable {
        public var count: Int
        public var bytes: Int
        public var dropped: UInt64
        public var nextSeq: UInt64
        public var perLevel: [String: UInt64]
    }

    public var fill: Fill {
        state.locked { state in
            var perLevel: [String: UInt64] = [:]
            for level in Logger.Level.allCases { perLevel[LogLevelName.name(level)] = state.perLevel[level.index] }
            return Fill(
                count: state.count, bytes: state.bytes, dropped: state.dropped, nextSeq: state.nextSeq,
                perLevel: perLevel)
        }
    }
}

extension Logger.Level {
    var index: Int {
        switch self {
        case .trace: return 0
        case .debug: return 1
        case .info: return 2
        case .notice: return 3
        case .warning: return 4
        case .error: return 5
        case .critical: return 6
        }
    }
}

/// The live subscribers of a ring, each with its own bounded buffer.
package final class LogSubscriptions: Sendable {
    package let bufferSize: Int
    package let limit: Int
    /// Fast check so that publishing costs one load when nobody listens.
    private let active = Atomic<Int>(0)
    /// Protects the subscriber list.
    private let subscribers = Mutex<[ObjectIdentifier: LogSubscription]>([:])

    package init(bufferSize: Int, limit: Int) {
        self.bufferSize = max(1, bufferSize)
        self.limit = max(1, limit)
    }

    package var count: Int { active.load(ordering: .relaxed) }

    package func add(
        filter: LogFilter, tap: Bool = false, ownRequestID: String? = nil, onClose: (@Sendable () -> Void)? = nil
    ) -> LogSubscription? {
        let subscription = LogSubscription(
            filter: filter, capacity: bufferSize, owner: self, tap: tap, ownRequestID: ownRequestID, onClose: onClose)
        let added = subscribers.locked { subscribers -> Bool in
            guard subscribers.count < limit else { return false }
            subscribers[ObjectIdentifier(subscription)] = subscription
            return true
        }
        guard added else { return nil }
        active.add(1, ordering: .relaxed)
        return subscription
    }

    package func remove(_ subscription: LogSubscription) {
        let removed = subscribers.locked { $0.removeValue(forKey: ObjectIdentifier(subscription)) != nil }
        if removed { active.subtract(1, ordering: .relaxed) }
    }

    /// Wakes every idle reader (called periodically for heartbeats).
    package func wakeAll() {
        guard active.load(ordering: .relaxed) > 0 else { return }
        for subscription in subscribers.locked({ Array($0.values) }) { subscription.wake() }
    }

    package typealias Waiters = [CheckedContinuation<Void, Never>]

    /// Offers `log` to every matching subscriber; returns the readers to wake once the caller has
    /// released its lock. Costs one atomic load when nobody listens.
    package func publish(_ log: CapturedLog, tapsOnly: Bool = false) -> Waiters {
        guard active.load(ordering: .relaxed) > 0 else { return [] }
        return subscribers.locked { subscribers in
            var waiters: Waiters = []
            for subscription in subscribers.values
            where (!tapsOnly || subscription.tap) && subscription.filter.matches(log)
                && (subscription.ownRequestID == nil || log.requestID != subscription.ownRequestID)
            {
                if let waiter = subscription.offer(log) { waiters.append(waiter) }
            }
            return waiters
        }
    }
}

/// One reader of the live stream. Its buffer is bounded: when the reader falls behind, new records are
/// not queued but remembered as a gap, which the reader gets as one `{"gap": …}` line.
package final class LogSubscription: Sendable {
    package struct State {
        var queue: [Item] = []
        var gap: StreamGap.GapPayload?
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
        /// The highest seq offered so far.
        var lastSeq: UInt64 = 0
    }

    package enum Item: Sendable {
        case record(CapturedLog)
        case gap(StreamGap.GapPayload)
    }

    package let filter: LogFilter
    package let capacity: Int
    /// Also gets records below the ring's levels (`LogRing.tap`).
    package let tap: Bool
    /// The stream's own request, whose records it never gets.
    let ownRequestID: String?
    private let onClose: (@Sendable () -> Void)?
    private weak let owner: LogSubscriptions?
    /// Protects the queue, the pending gap and the waiting reader.
    private let state = Mutex<State>(State())

    package init(
        filter: LogFilter, capacity: Int, owner: LogSubscriptions, tap: Bool = false, ownRequestID: String? = nil,
        onClose: (@Sendable () -> Void)? = nil
    ) {
        self.filter = filter
        self.capacity = capacity
        self.owner = owner
        self.tap = tap
        self.ownRequestID = ownRequestID
        self.onClose = onClose
    }

    /// Queues `log` (or widens the pending gap); returns the waiting reader for the caller to resume.
    /// Records at or below the last seq offered are ignored, so a reader never gets one twice.
    package func offer(_ log: CapturedLog) -> CheckedContinuation<Void, Never>? {
        state.locked { state in
            if state.closed || log.seq <= state.lastSeq { return nil }
            state.lastSeq = log.seq
            if state.queue.count >= capacity {
                if var gap = state.gap {
                    gap.toSeq = Int(clamping: log.seq)
                    state.gap = gap
                } else {
                    state.gap = StreamGap.GapPayload(fromSeq: Int(clamping: log.seq), toSeq: Int(clamping: log.seq))
                }
            } else {
                // A gap is reported at the position where records went missing.
                if let gap = state.gap {
                    state.queue.append(.gap(gap))
                    state.gap = nil
                }
                state.queue.append(.record(log))
            }
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
    }

    /// Wakes a waiting reader with nothing new, so it can send a heartbeat (and find out that its
    /// client has gone).
    package func wake() {
        let waiter: CheckedContinuation<Void, Never>? = state.locked { state in
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Waits for the next batch; an empty batch after `wake()`; nil once closed.
    package func next() async -> [Item]? {
        var woken = false
        while true {
            let batch: [Item]?? = state.locked { state in
                if state.closed { return .some(nil) }
                if state.queue.isEmpty && state.gap == nil { return woken ? .some([]) : nil }
                var items = state.queue
                state.queue.removeAll(keepingCapacity: true)
                if let gap = state.gap {
                    items.append(.gap(gap))
                    state.gap = nil
                }
                return .some(items)
            }
            if let batch { return batch }
            await withCheckedContinuation { continuation in
                let resumeNow = state.locked { state -> Bool in
                    if state.closed || !state.queue.isEmpty || state.gap != nil { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            woken = true
        }
    }

    /// Stops the subscription and frees its buffer.
    package func close() {
        let (waiter, first): (CheckedContinuation<Void, Never>?, Bool) = state.locked { state in
            let first = !state.closed
            state.closed = true
            state.queue = []
            let waiter = state.waiter
            state.waiter = nil
            return (waiter, first)
        }
        waiter?.resume()
        owner?.remove(self)
        if first { onClose?() }
    }

}
