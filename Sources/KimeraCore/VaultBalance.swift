import KimeraModels

extension VaultID {
    /// The vault with this wire id.
    /// - Throws: `DomainError.notFound(.vault, …)` for anything but `vault_a` / `vault_b`.
    public init(wire id: String) throws(DomainError) {
        guard let vault = VaultID(rawValue: id) else { throw .notFound(.vault, id: id) }
        self = vault
    }
}

/// SCAR count and weight sum per vault.
public struct VaultTotals: Sendable, Equatable {
    public var countA: Int
    public var countB: Int
    public var weightA: Double
    public var weightB: Double

    public init(countA: Int, countB: Int, weightA: Double, weightB: Double) {
        self.countA = countA
        self.countB = countB
        self.weightA = weightA
        self.weightB = weightB
    }

    public func count(_ vault: VaultID) -> Int { vault == .vaultA ? countA : countB }
    public func weight(_ vault: VaultID) -> Double { vault == .vaultA ? weightA : weightB }
    /// SCARs in both vaults.
    public var scars: Int { countA + countB }
    /// Weight in both vaults.
    public var weight: Double { weightA + weightB }
    /// max count ÷ max(min count, 1).
    public var balanceRatio: Double { VaultBalance.balanceRatio(countA: countA, countB: countB) }
}

/// The vaults as the service reports them: what the vault status and the vault stats show (their wire
/// shapes are the document's `VaultStatus` and `VaultStats`, built by the routes).
public struct VaultReport: Sendable, Equatable {
    public var totals: VaultTotals
    public var geoids: Int
    /// The store behind the vaults: `sqlite` or `postgresql`.
    public var dialect: String
    /// When the totals were read, ISO-8601 UTC.
    public var timestamp: String
}

/// One SCAR as rebalancing sees it.
public struct RebalanceCandidate: Sendable, Equatable {
    public var scarID: String
    public var weight: Double

    public init(scarID: String, weight: Double) {
        self.scarID = scarID
        self.weight = weight
    }
}

/// Placement and rebalancing of the dual vaults (docs/DOMAIN.md "Decision and SCAR", "Vaults").
public enum VaultBalance {
    /// A side is too heavy when it exceeds the other by this factor.
    public static let imbalanceFactor = 1.5

    /// A new SCAR goes to the vault holding fewer SCARs; a tie goes to vault_a.
    public static func placement(countA: Int, countB: Int) -> VaultID {
        countB < countA ? .vaultB : .vaultA
    }

    /// max count ÷ max(min count, 1).
    public static func balanceRatio(countA: Int, countB: Int) -> Double {
        Double(max(countA, countB)) / Double(max(min(countA, countB), 1))
    }

    /// One side > 1.5 × the other; both 0 is balanced.
    public static func isUnbalanced(_ x: Double, _ y: Double) -> Bool {
        x > imbalanceFactor * y || y > imbalanceFactor * x
    }

    /// The heavier vault (by count, or by weight) and the other, or nil when balanced.
    public static func direction(_ totals: VaultTotals, byWeight: Bool) -> (from: VaultID, to: VaultID)? {
        let a = byWeight ? totals.weightA : Double(totals.countA)
        let b = byWeight ? totals.weightB : Double(totals.countB)
        guard isUnbalanced(a, b) else { return nil }
        return a > b ? (.vaultA, .vaultB) : (.vaultB, .vaultA)
    }

    /// Which SCARs of the heavier vault to move. `candidates` are that vault's SCARs, lowest weight first.
    /// By count: ⌈(from − to) ÷ 2⌉, at least 1. By weight: lowest-weight SCARs until the moved weight
    /// reaches (from − to) ÷ 2.
    public static func scarsToMove(
        _ candidates: [RebalanceCandidate], totals: VaultTotals, from: VaultID, byWeight: Bool
    ) -> [String] {
        let to = from.other
        if byWeight {
            let target = (totals.weight(from) - totals.weight(to)) / 2
            var moved = 0.0
            var ids: [String] = []
            for candidate in candidates where moved < target {
                ids.append(candidate.scarID)
                moved += candidate.weight
            }
            return ids
        }
        let difference = totals.count(from) - totals.count(to)
        let count = max(1, (difference + 1) / 2)
        return candidates.prefix(count).map(\.scarID)
    }
}
