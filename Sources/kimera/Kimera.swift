import ArgumentParser
import Foundation
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
            var command = try parseAsRoot(
                Debug.BundleCommand.arguments(rewriting: Array(CommandLine.arguments.dropFirst())))
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

