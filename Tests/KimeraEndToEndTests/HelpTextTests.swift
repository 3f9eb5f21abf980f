import Foundation
import Testing

/// Every command's help reads well at 80 columns (issue 27): the discussion is written as paragraphs that
/// the parser wraps, and examples short enough not to be wrapped mid-command.
@Suite("Help text")
struct HelpTextTests {
    /// `kimera` and every subcommand below it, found from the help's SUBCOMMANDS sections.
    static func commands() async throws -> [[String]] {
        var found: [[String]] = []
        var queue: [[String]] = [[]]
        while let command = queue.first, found.count < 100 {
            queue.removeFirst()
            found.append(command)
            let help = try await runKimera(command + ["--help"], environment: ["COLUMNS": "1000"])
            guard command.count < 3, let start = help.stdout.range(of: "SUBCOMMANDS:\n") else { continue }
            // The section's rows, up to its blank line ("See 'kimera help …'" follows it).
            for line in help.stdout[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
                guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first
                else { break }
                if name != "help" { queue.append(command + [String(name)]) }
            }
        }
        return found
    }

    @Test("no help wraps a sentence or an example mid-way at 80 columns")
    func helpWrapsCleanly() async throws {
        let commands = try await Self.commands()
        #expect(commands.count > 20)
        for command in commands {
            let help = try await runKimera(command + ["--help"], environment: ["COLUMNS": "1000"])
            let text = help.stdout
            guard let overview = text.range(of: "OVERVIEW:"), let usage = text.range(of: "\nUSAGE:") else { continue }
            let discussion = text[overview.upperBound..<usage.lowerBound].split(separator: "\n").dropFirst()
            for line in discussion {
                if line.hasPrefix(" ") {
                    // An example or a table row: it must fit, or the parser breaks it mid-command.
                    #expect(line.count <= 80, "kimera \(command.joined(separator: " ")): \(line)")
                } else if line.count > 80 {
                    // A long line is wrapped: it must be a whole paragraph, not half a sentence.
                    #expect(
                        [".", ":", ")"].contains(line.last.map(String.init) ?? ""),
                        "kimera \(command.joined(separator: " ")): a sentence broken by hand: \(line)")
                }
            }
        }
    }

    @Test("the bundle's help says its default once; the traces help says newest first")
    func helpDetails() async throws {
        let bundle = try await runKimera(["debug", "bundle", "--help"], environment: ["COLUMNS": "1000"])
        #expect(!bundle.stdout.contains("(default 30s). (default: 30s)"))
        let traces = try await runKimera(["traces", "--help"], environment: ["COLUMNS": "1000"])
        #expect(!traces.stdout.contains("newest last"))
    }
}
