import Logging
import Synchronization

/// Once the server is being closed on purpose (a second signal, the grace period over), the framework's
/// own complaints about it — `Already closed`, `CancellationError()` from the services it cancels — are
/// expected events, not failures: this handler, wrapped around the logger Hummingbird and ServiceLifecycle
/// write to, says them at NOTICE from then on. Before that, records pass through unchanged.
struct StoppingLogHandler: LogHandler {
    /// Set once closing is deliberate; shared by every copy of the handler.
    final class Switch: Sendable {
        let closing = Atomic<Bool>(false)
    }

    var base: any LogHandler
    let state: Switch

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        if event.level > .notice && state.closing.load(ordering: .relaxed) { event.level = .notice }
        base.log(event: event)
    }
}
