import KimeraAPI
import KimeraCore

// The vault report in the wire shapes openapi.json gives it (routes translate Core → HTTP).

extension VaultStatus {
    /// The vault status: both vaults, the totals, the database, and the original's summary.
    init(_ report: VaultReport) {
        let totals = report.totals
        self.init(
            vaultA: VaultSideStatus(scarCount: totals.countA, totalWeight: totals.weightA),
            vaultB: VaultSideStatus(scarCount: totals.countB, totalWeight: totals.weightB),
            totalScars: totals.scars, totalWeight: totals.weight, totalGeoids: report.geoids,
            balanceRatio: totals.balanceRatio,
            database: DatabaseStatus(status: .ok, dialect: report.dialect, message: "The vault database answered."),
            initialized: true, timestamp: report.timestamp, vaults: VaultsSummary(report))
    }
}

extension VaultStats {
    /// `GET /kimera/vault/stats`, the Python original's summary.
    init(_ report: VaultReport) {
        self.init(totalGeoids: report.geoids, totalScars: report.totals.scars, vaults: VaultsSummary(report))
    }
}

extension GeoidCountResponse {
    /// `count`, and `geoid_count` (the Python original's name) for the same number.
    init(_ count: Int) { self.init(count: count, geoidCount: count) }
}

extension ScarCountResponse {
    /// Per vault and the total, also as `scar_count` (the Python original's name).
    init(_ totals: VaultTotals) {
        self.init(vaultA: totals.countA, vaultB: totals.countB, total: totals.scars, scarCount: totals.scars)
    }
}

extension RebalanceResponse {
    /// `rebalanced` when SCARs moved, `balanced` when nothing needed to.
    init(moved: Int, byWeight: Bool) {
        self.init(status: moved > 0 ? .rebalanced : .balanced, movedScars: moved, byWeight: byWeight)
    }
}

extension VaultsSummary {
    init(_ report: VaultReport) {
        let totals = report.totals
        self.init(
            vaultA: VaultSummary(count: totals.countA, weight: totals.weightA),
            vaultB: VaultSummary(count: totals.countB, weight: totals.weightB), totalCount: totals.scars,
            totalWeight: totals.weight, balanceRatio: totals.balanceRatio)
    }
}
