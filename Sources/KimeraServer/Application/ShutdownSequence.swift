#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraObservability
import Logging
import ServiceLifecycle
import Synchronization

/// What happens between the first SIGTERM/SIGINT and the end of `KimeraApplication.run`
/// (docs/OPERATIONS.md "Rolling restarts"), each phase logged under `kimera.server`:
///
/// 1. drain: `/ready` answers 503, responses carry `Connection: close`, everything else is served as usual,
///    for `ShutdownSettings.drain`;
/// 2. stop accepting: the service group shuts down gracefully — the listener closes, idle connections close,
///    in-flight requests go on — for up to `ShutdownSettings.timeout`;
/// 3. close what is left: every connection still open, half-received requests included, and the services
///    are cancelled (running contradiction jobs end as `failed`).
///
/// A second signal goes straight to 3.
final class ShutdownSequence: Sendable {
    struct State: Sendable {
        var signals = 0
        var startedAt: ContinuousClock.Instant?
        /// The drain and grace waits; cancelled when serving ends first or a second signal arrives.
        var phases: Task<Void, Never>?
        var finished = false
    }

    let settings: ShutdownSettings
    let readiness: Readiness
    let connections: ConnectionRegistry
    let serviceGroup: ServiceGroup
    /// The task running `serviceGroup`; cancelled when the grace period ends.
    let serving: Task<Void, any Error>
    let logger: Logger
    /// Set when connections are closed on purpose: the framework's errors about it are expected from then on.
    let closing: StoppingLogHandler.Switch
    /// Protects the signal count and the phase task.
    private let state = Mutex(State())

    init(
        settings: ShutdownSettings, readiness: Readiness, connections: ConnectionRegistry, serviceGroup: ServiceGroup,
        serving: Task<Void, any Error>, logger: Logger, closing: StoppingLogHandler.Switch = .init()
    ) {
        self.closing = closing
        self.settings = settings
        self.readiness = readiness
        self.connections = connections
        self.serviceGroup = serviceGroup
        self.serving = serving
        self.logger = logger
    }

    /// Whether a stop signal has arrived (errors of the services after it are part of stopping).
    var requested: Bool { state.locked { $0.signals > 0 } }

    /// Time since the first signal.
    var elapsed: Duration? { state.locked { $0.startedAt.map { ContinuousClock.now - $0 } } }

    /// A stop signal arrived (`name` for the log).
    func signal(_ name: String) {
        enum Action { case started, closeNow, ignore }
        let action = state.locked { state -> Action in
            guard !state.finished else { return .ignore }
            state.signals += 1
            switch state.signals {
            case 1:
                state.startedAt = .now
                readiness.setDraining()
                connections.closingAfterResponse.store(true, ordering: .relaxed)
                // Created under the lock, so that a second signal always finds it to cancel.
                state.phases = Task { await self.runPhases(signal: name) }
                return .started
            case 2:
                state.phases?.cancel()
                return .closeNow
            default: return .ignore
            }
        }
        switch action {
        case .started:
            break
        case .closeNow:
            Task { await self.closeNow(reason: "second \(name)") }
        case .ignore:
            break
        }
    }

    /// Serving has ended: the remaining waits are moot.
    func finish() {
        let phases = state.locked { state in
            state.finished = true
            return state.phases
        }
        phases?.cancel()
    }

    private func runPhases(signal name: String) async {
        if settings.drain > .zero {
            logger.notice(
                "\(name): draining for \(ShutdownSettings.text(settings.drain)) — /ready answers 503, responses carry Connection: close, then the server stops accepting"
            )
            do { try await Task.sleep(for: settings.drain) } catch { return }
        } else {
            logger.notice("\(name): /ready answers 503; no drain (shutdown.drain 0s), the server stops accepting now")
        }
        let inFlight = await connections.inFlight()
        logger.notice(
            "no longer accepting connections; waiting up to \(ShutdownSettings.text(settings.timeout)) for \(inFlight.count) in-flight request(s) on \(connections.count) connection(s)"
        )
        await serviceGroup.triggerGracefulShutdown()
        do { try await Task.sleep(for: settings.timeout) } catch { return }
        await closeNow(reason: "grace period of \(ShutdownSettings.text(settings.timeout)) over")
    }

    /// Closes every connection and cancels the services.
    private func closeNow(reason: String) async {
        let inFlight = await connections.inFlight()
        let detail =
            inFlight.isEmpty
            ? "none in flight" : "still in flight: " + inFlight.map(\.description).joined(separator: "; ")
        logger.warning("\(reason): closing \(connections.count) connection(s); \(detail)")
        closing.closing.store(true, ordering: .relaxed)
        await serviceGroup.triggerGracefulShutdown()
        connections.closeAll()
        serving.cancel()
    }
}
