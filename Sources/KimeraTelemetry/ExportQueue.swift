import KimeraAPI
import KimeraModels
import Synchronization

/// The bounded queue between the code that finishes spans or log records and the one exporter that sends
/// them (docs/OPERATIONS.md "OpenTelemetry export"). `offer` is the only thing a request does: one short
/// lock, an append into storage reserved up front, no task, no allocation. A full queue refuses the newest
/// item and counts it. The exporter takes batches, and reports each one exported or failed; every count
/// lives under the same lock as the items, so a snapshot always adds up:
/// offered = exported + dropped + failed + queued (queued counting the batch being sent).
///
/// The bound is `capacity` items in all, the ones being sent included, so memory stays within it however
/// long a collector is away.
package final class ExportQueue<Item: Sendable>: Sendable {
    struct State: ~Copyable {
        var items: Ring<Item>
        /// Items taken by the exporter and not yet reported exported or failed.
        var inFlight = 0
        var counts = TelemetryStatus.SignalExport.zero
        /// The exporter, suspended until a batch is full, its schedule comes or the server stops.
        var waiter: CheckedContinuation<Void, Never>?
        var wakeRequested = false
        var stopping = false
    }

    /// The declared bound (`OTEL_BSP_MAX_QUEUE_SIZE` / `OTEL_BLRP_MAX_QUEUE_SIZE`).
    let capacity: Int
    /// The exporter is woken when this many items wait (`*_MAX_EXPORT_BATCH_SIZE`).
    let batchSize: Int
    /// Protects the items, the counters and the exporter's wake-up.
    private let state: Mutex<State>

    package init(capacity: Int, batchSize: Int) {
        self.capacity = max(1, capacity)
        self.batchSize = max(1, min(batchSize, capacity))
        var initial = State(items: Ring(capacity: self.capacity))
        initial.counts.capacity = Int64(self.capacity)
        state = Mutex(initial)
    }

    /// Appends `item`, or counts it dropped when the queue is full. Wakes the exporter when a batch is
    /// complete (once per batch, not per item).
    @inline(__always)
    package func offer(_ item: consuming Item) {
        // Moved into the queue's storage, not copied: the closure takes it out of this box.
        var item = Optional(item)
        let waiter = state.locked { state -> CheckedContinuation<Void, Never>? in
            state.counts.offered += 1
            guard state.items.count + state.inFlight < capacity else {
                state.counts.dropped += 1
                return nil
            }
            state.items.append(item.take()!)
            guard state.items.count >= batchSize, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Up to `batchSize` of the oldest items, now in flight; empty when none wait, or when `fullOnly` and
    /// fewer than `batchSize` wait (the exporter then waits for a full batch or its schedule: a busy server
    /// sends full batches, not a stream of small ones as fast as the collector answers). The items are
    /// moved out of the queue's storage, not copied.
    package func takeBatch(fullOnly: Bool = false) -> [Item] {
        state.locked { state in
            let count = min(batchSize, state.items.count)
            guard count > 0, !fullOnly || count == batchSize else { return [] }
            state.inFlight += count
            return state.items.removeFirst(count)
        }
    }

    /// The outcome of a batch `takeBatch` gave out.
    package func complete(_ count: Int, exported: Bool, retries: Int, error: String? = nil) {
        state.locked { state in
            state.inFlight -= count
            state.counts.retries += Int64(retries)
            if exported {
                state.counts.exportedBatches += 1
                state.counts.exportedItems += Int64(count)
            } else {
                state.counts.failedBatches += 1
                state.counts.failedItems += Int64(count)
            }
        }
    }

    /// The counters, with what is queued now (waiting and in flight).
    var counts: TelemetryStatus.SignalExport {
        state.locked { state in
            var counts = state.counts
            counts.queued = Int64(state.items.count + state.inFlight)
            return counts
        }
    }

    var isStopping: Bool { state.locked { $0.stopping } }

    /// Suspends the exporter until a batch is complete, `wake` is called (its schedule, the server
    /// stopping), or the task is cancelled. No task and no timer are made per wait: the exporter's schedule
    /// is one long-lived timer task that calls `wake` (`OTLPExporter.run`).
    func waitForWork() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.locked { state in
                    if state.wakeRequested || state.stopping || state.items.count >= batchSize {
                        state.wakeRequested = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            wake()
        }
    }

    /// Wakes the exporter now, or at its next wait.
    func wake() {
        let waiter = state.locked { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.wakeRequested = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// The server is stopping: the exporter sends what is queued and ends.
    func stop() {
        state.locked { $0.stopping = true }
        wake()
    }
}

/// First-in first-out storage of a fixed capacity, allocated once: items are moved in and moved out, so
/// taking a batch neither copies an item nor shifts the ones left behind.
struct Ring<Item>: ~Copyable {
    private let base: UnsafeMutablePointer<Item>
    let capacity: Int
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        base = .allocate(capacity: self.capacity)
    }

    deinit {
        let first = min(count, capacity - head)
        (base + head).deinitialize(count: first)
        base.deinitialize(count: count - first)
        base.deallocate()
    }

    /// Appends `item`; the caller has checked that there is room.
    mutating func append(_ item: consuming Item) {
        precondition(count < capacity, "Ring.append past its capacity")
        var slot = head + count
        if slot >= capacity { slot -= capacity }
        (base + slot).initialize(to: item)
        count += 1
    }

    /// The `n` oldest items, moved out.
    mutating func removeFirst(_ n: Int) -> [Item] {
        precondition(n >= 0 && n <= count, "Ring.removeFirst of more than it holds")
        let head = head
        let taken = Array<Item>(unsafeUninitializedCapacity: n) { buffer, initialized in
            guard let destination = buffer.baseAddress else { return }
            let first = min(n, capacity - head)
            destination.moveInitialize(from: base + head, count: first)
            (destination + first).moveInitialize(from: base, count: n - first)
            initialized = n
        }
        self.head = (head + n) % capacity
        count -= n
        return taken
    }
}
