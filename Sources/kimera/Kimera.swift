import ArgumentParser
import Foundation
import KimeraAPI
import KimeraModels

/// `kimera`: the hybrid server and its operator command line.
@main
struct Kimera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kimera",
        abstract: "The Kimera hybrid server and its operator command line.",
        discussion: """
            Start the server with `kimera serve`; every other command is a client of its HTTP API.

            Client options: --url, repeatable (or --context NAME, KIMERA_URL as a comma-separated list, KIMERA_CONTEXT, the current context; default http://127.0.0.1:8001), --token (or KIMERA_TOKEN, --token-file), --timeout 5s, -o table|json|ndjson (table on a terminal, else json), --color auto|always|never (NO_COLOR disables auto). Data goes to stdout, messages to stderr.

            Exit codes:
              0    success
              1    other failure
              2    timeout
              3    server unreachable (connection refused, DNS)
              4    the server answered 4xx (message printed from the error body)
              5    the server answered 5xx
              64   usage error (bad flag or value)
              130  interrupted

            Shell completion: kimera --generate-completion-script bash|zsh|fish
            """,
        version: KimeraVersion.current,
        subcommands: [
            Serve.self, Debug.self, Logs.self, Traces.self, Incidents.self, Profile.self, Stats.self, Monitor.self,
            Health.self,
            Geoids.self, Contradictions.self, Vault.self, Get.self, Shell.self, Context.self,
        ]
    )

    /// ArgumentParser's entry point, except that a usage error is one line on stderr (exit 64) rather
    /// than the message followed by the whole usage text.
    static func main() async {
        do {
            let arguments = Debug.BundleCommand.arguments(rewriting: Array(CommandLine.arguments.dropFirst()))
            var command: any ParsableCommand
            if let direct = directParse(arguments) {
                command = direct
            } else {
                command = try parseAsRoot(arguments)
            }
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                let hint = "(see '\(commandPath(CommandLine.arguments.dropFirst())) --help')"
                FileHandle.standardError.write(Data("kimera: \(usageLine(for: error)) \(hint)\n".utf8))
                Foundation.exit(code.rawValue)
            }
            exit(withError: error)
        }
    }

    /// The arguments that make ArgumentParser answer rather than parse (help, version, completion scripts):
    /// with any of them the whole tree is parsed, as it must be to answer for `kimera`.
    static let answeredByTheTree = [
        "-h", "--help", "-help", "--help-hidden", "-help-hidden", "--version", "--experimental-dump-help",
        "--generate-completion-script", "help",
    ]

    /// A leaf command (`stats`, `debug mode`, `geoids create`) parsed on its own, without the tree of every
    /// command above and beside it: the same value `parseAsRoot` gives, in less time, because ArgumentParser
    /// then reflects only that command's options (every first use of a type there is a linear search of the
    /// binary's 12,000 protocol conformances), and leaves (`underKimera`) skip its completion-script check. Nil, and the whole tree parses, when the arguments do not
    /// name a leaf, ask for help, a version or a completion script, or the leaf refuses them: the tree then
    /// gives the answer or the error message it always gave.
    static func directParse(_ arguments: [String]) -> sending (any ParsableCommand)? {
        var command: any ParsableCommand.Type = Kimera.self
        var rest = arguments[...]
        while let name = rest.first, !name.hasPrefix("-"),
            let next = command.configuration.subcommands.first(where: { $0._commandName == name })
        {
            command = next
            rest = rest.dropFirst()
        }
        guard command != Kimera.self, command.configuration.subcommands.isEmpty,
            !arguments.contains(where: { answeredByTheTree.contains($0) || $0.hasPrefix("--generate-completion-script") })
        else { return nil }
        return try? command.parseAsRoot(Array(rest))
    }

    /// A usage error on one line: ArgumentParser lists the valid values of a typed option (`--level`)
    /// one per line, which this folds into "Please provide one of the following: TRACE, DEBUG, …".
    static func usageLine(for error: any Error) -> String {
        let lines = message(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first else { return "" }
        let items = lines.dropFirst().map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }
        return items.isEmpty ? first : first + " " + items.joined(separator: ", ")
    }

    /// The subcommands named at the start of `arguments`, e.g. `kimera debug log-level`.
    static func commandPath(_ arguments: some Sequence<String>) -> String {
        var command: any ParsableCommand.Type = Kimera.self
        var path = ["kimera"]
        for argument in arguments where !argument.hasPrefix("-") {
            guard let next = command.configuration.subcommands.first(where: { $0._commandName == argument }) else {
                break
            }
            path.append(argument)
            command = next
        }
        return path.joined(separator: " ")
    }
}

extension CommandConfiguration {
    /// A leaf command's configuration, marked as a command of `kimera` (ArgumentParser's experimental
    /// `_superCommandName`). It only matters when the leaf is parsed on its own (`Kimera.directParse`):
    /// ArgumentParser then skips its check for `--generate-completion-script`, two more reflective parses of
    /// every argument (a fifth of a one-shot command's CPU); a completion-script request never takes that path.
    /// Parsed through the tree, with `kimera` as the root, the mark is not read.
    var underKimera: CommandConfiguration {
        var configuration = self
        configuration._superCommandName = "kimera"
        return configuration
    }
}
