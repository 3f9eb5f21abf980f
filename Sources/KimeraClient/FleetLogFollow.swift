#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import Synchronization

/// What following the logs of several servers produced, each event naming its instance (an index into
/// `KimeraFleet.clients`).
public enum FleetLogEvent: Sendable, Equatable {
    /// A record, a gap, a disconnection or a reconnection of one instance's stream.
    case event(instance: Int, LogFollowEvent)
    /// The instance's stream could not be opened (or rejected the filters); the others go on.
    case failed(instance: Int, ClientError)
}

extension KimeraFleet {
    /// How long a record waits for earlier records of other instances before it is delivered: streams
    /// arrive with different delays, so records are released in timestamp order once this old.
    public static let reorderWindow = Duration.milliseconds(300)
    /// The most records held for reordering; past it the oldest are released early.
    public static let reorderLimit = 10_000

    /// Follows every instance's log stream, each resuming after its own `sinceSeqs[i]` and reconnecting on its
    /// own (`KimeraClient.followLogs`), merged by timestamp within `reorderWindow`. Ends when every stream
    /// ended; cancelling the consuming task (or dropping the stream) stops them all.
    public func followLogs(_ query: LogQuery, sinceSeqs: [UInt64?], reorderWindow: Duration = reorderWindow)
        -> AsyncStream<FleetLogEvent>
    {
        let (events, continuation) = AsyncStream.makeStream(of: FleetLogEvent.self)
        let state = FollowState(running: clients.count)
        /// Releases held records older than the window (all of them when `everything`), oldest timestamp first.
        @Sendable func release(everything: Bool) {
            let cutoff = ContinuousClock.now - reorderWindow
            let ready = state.held.locked { held in
                var ready: [(arrival: ContinuousClock.Instant, instance: Int, record: LogRecord)] = []
                if everything || held.count > Self.reorderLimit {
                    ready = held
                    held.removeAll()
                } else {
                    ready = held.filter { $0.arrival <= cutoff }
                    held.removeAll { $0.arrival <= cutoff }
                }
                return ready
            }
            for entry in ready.sorted(by: { ($0.record.timestamp, $0.instance) < ($1.record.timestamp, $1.instance) }) {
                continuation.yield(.event(instance: entry.instance, .record(entry.record)))
            }
        }
        var tasks: [Task<Void, Never>] = []
        for (index, client) in clients.enumerated() {
            let since = index < sinceSeqs.count ? sinceSeqs[index] : nil
            tasks.append(
                Task {
                    do {
                        for try await event in client.followLogs(query, sinceSeq: since) {
                            if case .record(let record) = event {
                                state.held.locked { $0.append((ContinuousClock.now, index, record)) }
                            } else {
                                continuation.yield(.event(instance: index, event))
                            }
                        }
                    } catch let error as ClientError {
                        if !Task.isCancelled { continuation.yield(.failed(instance: index, error)) }
                    } catch {
                        if !Task.isCancelled {
                            continuation.yield(
                                .failed(instance: index, .transport(url: client.baseURL, detail: "\(error)")))
                        }
                    }
                    if state.running.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                        release(everything: true)
                        continuation.finish()
                    }
                })
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
                release(everything: false)
            }
        }
        let all = tasks + [ticker]
        continuation.onTermination = { _ in
            for task in all { task.cancel() }
        }
        return events
    }
}

/// The records of a fleet's streams held for reordering, and how many streams still run; shared by the
/// instance tasks and the releasing ticker.
private final class FollowState: Sendable {
    /// Protects the records that arrived and were not released yet.
    let held = Mutex<[(arrival: ContinuousClock.Instant, instance: Int, record: LogRecord)]>([])
    let running: Atomic<Int>

    init(running: Int) { self.running = Atomic(running) }
}
