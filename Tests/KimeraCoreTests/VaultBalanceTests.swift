import KimeraModels
import Testing

@testable import KimeraCore

@Suite("Vault placement and rebalancing")
struct VaultBalanceTests {
    @Test("a new SCAR goes to the vault with fewer SCARs; a tie goes to vault_a")
    func placement() {
        #expect(VaultBalance.placement(countA: 0, countB: 0) == .vaultA)
        #expect(VaultBalance.placement(countA: 1, countB: 0) == .vaultB)
        #expect(VaultBalance.placement(countA: 1, countB: 1) == .vaultA)
        #expect(VaultBalance.placement(countA: 2, countB: 3) == .vaultA)
    }

    @Test("balance ratio = max ÷ max(min, 1)")
    func ratio() {
        #expect(VaultBalance.balanceRatio(countA: 6, countB: 2) == 3)
        #expect(VaultBalance.balanceRatio(countA: 0, countB: 3) == 3)
        #expect(VaultBalance.balanceRatio(countA: 0, countB: 0) == 0)
        #expect(VaultBalance.balanceRatio(countA: 4, countB: 4) == 1)
    }

    @Test("unbalanced means one side > 1.5 × the other; both 0 is balanced")
    func unbalanced() {
        #expect(!VaultBalance.isUnbalanced(0, 0))
        #expect(!VaultBalance.isUnbalanced(3, 2))
        #expect(VaultBalance.isUnbalanced(4, 2))
        #expect(VaultBalance.isUnbalanced(0, 1))
    }

    static func candidates(_ weights: [Double]) -> [RebalanceCandidate] {
        weights.enumerated().map { RebalanceCandidate(scarID: "s\($0.offset)", weight: $0.element) }
    }

    @Test("by count: 10 vs 2 moves ⌈8 ÷ 2⌉ = 4, lowest weight first")
    func byCount() throws {
        let totals = VaultTotals(countA: 10, countB: 2, weightA: 10, weightB: 2)
        let direction = try #require(VaultBalance.direction(totals, byWeight: false))
        #expect(direction.from == .vaultA && direction.to == .vaultB)
        let moved = VaultBalance.scarsToMove(
            Self.candidates(Array(repeating: 1, count: 10)), totals: totals, from: .vaultA, byWeight: false)
        #expect(moved == ["s0", "s1", "s2", "s3"])
    }

    @Test("by count: 5 vs 2 moves ⌈3 ÷ 2⌉ = 2; 1 vs 0 moves 1; 3 vs 2 is balanced")
    func byCountRounding() {
        let five = VaultTotals(countA: 2, countB: 5, weightA: 2, weightB: 5)
        #expect(VaultBalance.direction(five, byWeight: false)?.from == .vaultB)
        #expect(
            VaultBalance.scarsToMove(Self.candidates([1, 1, 1, 1, 1]), totals: five, from: .vaultB, byWeight: false)
                .count == 2)
        let one = VaultTotals(countA: 1, countB: 0, weightA: 1, weightB: 0)
        #expect(VaultBalance.scarsToMove(Self.candidates([1]), totals: one, from: .vaultA, byWeight: false).count == 1)
        #expect(
            VaultBalance.direction(VaultTotals(countA: 3, countB: 2, weightA: 3, weightB: 2), byWeight: false) == nil)
    }

    @Test("by weight: 7.5 vs 1.5 moves the lightest until 3 is reached: 0.5, 1, 2")
    func byWeight() throws {
        let totals = VaultTotals(countA: 4, countB: 3, weightA: 7.5, weightB: 1.5)
        #expect(VaultBalance.direction(totals, byWeight: false) == nil)
        let direction = try #require(VaultBalance.direction(totals, byWeight: true))
        #expect(direction.from == .vaultA)
        let moved = VaultBalance.scarsToMove(
            Self.candidates([0.5, 1, 2, 4]), totals: totals, from: .vaultA, byWeight: true)
        #expect(moved == ["s0", "s1", "s2"])
    }

    @Test("vault ids: vault_a and vault_b, anything else is not found")
    func vaultIDs() throws {
        #expect(try VaultID(wire: "vault_b") == .vaultB)
        #expect(throws: DomainError.notFound(.vault, id: "vault_c")) { try VaultID(wire: "vault_c") }
    }
}
