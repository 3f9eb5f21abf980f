import ArgumentParser
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraClient

/// `kimera contradictions process TRIGGER`: one contradiction-processing run, waited for.
struct Contradictions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contradictions",
        abstract: "Process contradictions around a trigger geoid (/kimera/contradiction).",
        subcommands: [Process.self])

    /// `kimera contradictions process TRIGGER [--search-limit 5] [--force-collapse]`.
    struct Process: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "process",
            abstract: "Compare a geoid with its nearest neighbours and resolve the tensions found (sync).",
            discussion: "Example: kimera contradictions process geoid_0123… --search-limit 10").underKimera

        @Argument(help: ArgumentHelp("The trigger geoid id.", valueName: "trigger"))
        var trigger: String

        @Option(
            name: .customLong("search-limit"),
            help: ArgumentHelp("How many similar geoids to compare with (default 5).", valueName: "n"))
        var searchLimit: Int = 5

        @Flag(name: .customLong("force-collapse"), help: "Collapse every tension regardless of pulse and stability.")
        var forceCollapse = false

        @OptionGroup var global: GlobalOptions

        func validate() throws { try ArgumentCheck.positive(searchLimit, flag: "--search-limit") }

        func perform(in context: CommandContext) async throws {
            let result = try await context.client.processContradictions(
                ProcessRequest(triggerGeoidID: trigger, searchLimit: searchLimit, forceCollapse: forceCollapse))
            let output = context.output
            output.emit(result, records: result.results) {
                var text = Renderings.keyValues(
                    [
                        ("trigger", Table.Cell(result.triggerGeoidID)),
                        (
                            "detected",
                            Table.Cell(
                                "\(result.contradictionsDetected) contradictions among \(result.geoidsAnalyzed) geoids, "
                                    + "\(result.scarsCreated) SCARs created")
                        ),
                        ("cycle", Table.Cell("\(result.cycleCount), \(Format.ms(result.processingTime * 1000)) ms")),
                    ], output: output)
                guard !result.results.isEmpty else { return text }
                var table = Table([
                    Table.Column("TENSION", .right), Table.Column("PULSE", .right), Table.Column("DECISION"),
                    Table.Column("WITH", flexible: true, minWidth: 10),
                    Table.Column("SCAR", flexible: true, minWidth: 10),
                ])
                for processed in result.results {
                    let other = processed.tension.geoidsInvolved.first { $0 != result.triggerGeoidID } ?? "-"
                    table.append([
                        Table.Cell(String(format: "%.3f", processed.tension.score)),
                        Table.Cell(String(format: "%.3f", processed.pulseStrength)),
                        Table.Cell(processed.decision.rawValue, processed.decision == .collapse ? .yellow : nil),
                        Table.Cell(other),
                        Table.Cell(processed.scarID),
                    ])
                }
                text += "\n" + table.render(width: output.width, style: output.style)
                return text
            }
        }
    }
}
