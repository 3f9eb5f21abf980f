import KimeraObservability
import ServiceLifecycle

/// Reverts expired runtime changes (ttl) and wakes idle log streams for heartbeats.
struct RuntimeMaintenance: Service {
    let engine: ObservabilityEngine

    func run() async throws {
        var ticks = 0
        while !Task.isCancelledOrShuttingDown {
            try? await Task.sleep(for: .milliseconds(200))
            engine.expireDue()
            ticks += 1
            if ticks % 25 == 0 { engine.ring.subscriptions.wakeAll() }
        }
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool {
        Task.isCancelled || Task.isShuttingDownGracefully
    }
}
