import Synchronization

/// Whether the server can take traffic: the vault is open and the server is not draining.
public final class Readiness: Sendable {
    private let vaultOpen = Atomic<Bool>(false)
    private let draining = Atomic<Bool>(false)
    /// Why the vault cannot serve now (a shared database away), nil while it can.
    private let vaultProblem: @Sendable () -> String?

    public init(vaultProblem: @escaping @Sendable () -> String? = { nil }) {
        self.vaultProblem = vaultProblem
    }

    public func setVaultOpen(_ open: Bool) { vaultOpen.store(open, ordering: .relaxed) }
    public func setDraining() { draining.store(true, ordering: .relaxed) }

    /// Nil when ready, else why not.
    public var problem: String? {
        if draining.load(ordering: .relaxed) { return "The server is shutting down." }
        if !vaultOpen.load(ordering: .relaxed) { return "The vault is not open yet." }
        return vaultProblem()
    }
}
