import ArgumentParser
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraClient

/// `kimera vault status|rebalance`: the two SCAR vaults.
struct Vault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "Show or rebalance the SCAR vaults (/kimera/vault).", subcommands: [Status.self, Rebalance.self])

    /// `kimera vault status`.
    struct Status: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "Counts and weights per vault, balance, database.").underKimera

        @OptionGroup var global: GlobalOptions

        func perform(in context: CommandContext) async throws {
            let status = try await context.client.vaultStatus()
            let output = context.output
            output.emit(status) {
                func side(_ vault: VaultSideStatus) -> String {
                    "\(Format.count(vault.scarCount)) SCARs, weight \(String(format: "%.3f", vault.totalWeight))"
                }
                return Renderings.keyValues(
                    [
                        ("vault_a", Table.Cell(side(status.vaultA))), ("vault_b", Table.Cell(side(status.vaultB))),
                        (
                            "total",
                            Table.Cell(
                                "\(Format.count(status.totalScars)) SCARs, \(Format.count(status.totalGeoids)) geoids")
                        ),
                        (
                            "balance",
                            Table.Cell(
                                String(format: "%.2f", status.balanceRatio), status.balanceRatio > 1.5 ? .yellow : nil)
                        ),
                        (
                            "database",
                            Table.Cell(
                                "\(status.database.dialect) \(status.database.status.rawValue)",
                                status.database.status == .ok ? .green : .red)
                        ),
                    ], output: output)
            }
        }
    }

    /// `kimera vault rebalance [--by-weight]`.
    struct Rebalance: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "rebalance", abstract: "Move SCARs until the vaults are balanced.").underKimera

        @Flag(name: .customLong("by-weight"), help: "Balance total weight instead of counts.")
        var byWeight = false

        @OptionGroup var global: GlobalOptions

        func perform(in context: CommandContext) async throws {
            let result = try await context.client.rebalanceVaults(byWeight: byWeight)
            context.output.emit(result) { "\(result.status.rawValue): \(result.movedScars) SCARs moved" }
        }
    }
}
