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
    struct State {
        var items: [Item] = []
        /// Items taken by the exporter and not yet reported exported or failed.
        var inFlight = 0
        var counts = TelemetryStatus.SignalExport.zero
        /// The exporter, suspended until a batch is full, its timer fires or the server stops.
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
        var initial = State()
        initial.items.reserveCapacity(self.capacity)
        initial.counts.capacity = Int64(self.capacity)
        state = Mutex(initial)
    }

    /// Appends `item`, or counts it dropped when the queue is full. Wakes the exporter when a batch is
    /// complete (once per batch, not per item).
    @inline(__always)
    package func offer(_ item: Item) {
        let waiter = state.locked { state -> CheckedContinuation<Void, Never>? in
            state.counts.offered += 1
            guard state.items.count + state.inFlight < capacity else {
                state.counts.dropped += 1
                return nil
            }
            state.items.append(item)
            guard state.items.count >= batchSize, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Up to `batchSize` of the oldest items, now in flight; empty when none wait, or when `fullOnly` and
    /// fewer than `batchSize` wait (the exporter then waits for a full batch or its schedule: a busy server
    /// sends full batches, not a stream of small ones as fast as the collector answers).
    package func takeBatch(fullOnly: Bool = false) -> [Item] {
        state.locked { state in
            let count = min(batchSize, state.items.count)
            guard count > 0, !fullOnly || count == batchSize else { return [] }
            let batch = Array(state.items[..<count])
            state.items.removeFirst(count)
            state.inFlight += count
            return batch
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

    /// Suspends the exporter until a batch is complete, `delay` has passed, the server stops, or the task
    /// is cancelled.
    func waitForWork(upTo delay: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            // The timer, and the way out for a cancelled exporter (a cancelled sleep ends at once).
            group.addTask { [self] in
                try? await Task.sleep(for: delay)
                wake()
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.locked { state in
                    guard !state.wakeRequested, !state.stopping, state.items.count < batchSize else { return true }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
            group.cancelAll()
        }
        // The cancelled timer woke nobody but left its request: clear it for the next wait.
        state.locked { $0.wakeRequested = false }
    }

    /// Wakes the exporter now (its timer), or at its next wait.
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
