import ArgumentParser
import Foundation
import KimeraClient

/// `kimera context add|use|list|remove`: named sets of servers, kept in `$XDG_CONFIG_HOME/kimera/contexts.json`
/// (mode 0600). A context stores URLs and the path of a token file, never a token.
struct Context: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "context",
        abstract: "Save, choose, list and remove named sets of servers (contexts).",
        discussion: """
            Contexts live in $XDG_CONFIG_HOME/kimera/contexts.json (else ~/.config/kimera/contexts.json), mode 0600. A client command uses --url, else --context NAME, else KIMERA_URL, else KIMERA_CONTEXT, else the context chosen with `kimera context use`.

            Examples:
              kimera context add prod --url http://10.0.0.1:8001 \\
                --url http://10.0.0.2:8001 --token-file ~/.kimera/prod.token
              kimera context use prod
              kimera health                  # both servers of prod
              kimera logs -f --context prod  # without choosing it
            """,
        subcommands: [Add.self, Use.self, List.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Save a context (replacing one of the same name).").underKimera

        @Argument(help: "The context's name: letters, digits, '.', '_', '-'.")
        var name: String

        @Option(
            name: .customLong("url"), help: ArgumentHelp("A server's base URL; repeat for several.", valueName: "url"))
        var urls: [String] = []

        @Option(
            name: .customLong("token-file"),
            help: ArgumentHelp(
                "A file whose first line is the bearer token (the path is saved, not the token).", valueName: "file"),
            completion: .file())
        var tokenFile: String?

        @Flag(help: "Also make it the current context.")
        var use = false

        func validate() throws {
            guard ContextStore.isValidName(name) else {
                throw ValidationError("context name '\(name)' must be 1-64 letters, digits, '.', '_' or '-'")
            }
            guard !urls.isEmpty else { throw ValidationError("context add needs at least one --url") }
            for url in urls {
                do { _ = try KimeraClient.normalise(url: url) } catch let error as ClientError {
                    throw ValidationError("--url: \(error.message)")
                }
            }
        }

        func run() throws {
            var store = try ContextCommand.load()
            let normalised = try urls.map { try KimeraClient.normalise(url: $0) }
            let file = tokenFile.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            store.contexts[name] = FleetContext(urls: normalised, tokenFile: file)
            if use || store.current == nil { store.current = name }
            try ContextCommand.save(store)
            let servers = normalised.count == 1 ? "1 server" : "\(normalised.count) servers"
            ContextCommand.say("context \(name) saved (\(servers))" + (store.current == name ? ", current" : ""))
        }
    }

    struct Use: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "use", abstract: "Make a context the current one.").underKimera

        @Argument(help: "The context's name.", completion: .custom(ContextCompletion.names))
        var name: String

        func run() throws {
            var store = try ContextCommand.load()
            guard store.contexts[name] != nil else { throw ContextCommand.unknown(name, store) }
            store.current = name
            try ContextCommand.save(store)
            ContextCommand.say("now using context \(name)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List the contexts; the current one is marked with *.").underKimera

        @Option(
            name: [.customShort("o"), .customLong("output")],
            help: ArgumentHelp("table, json or ndjson (default: table on a terminal, else json).", valueName: "format"))
        var output: OutputFormat?

        /// One context in JSON output.
        struct Row: Encodable {
            var name: String
            var current: Bool
            var urls: [String]
            var tokenFile: String?

            enum CodingKeys: String, CodingKey {
                case name, current, urls
                case tokenFile = "token_file"
            }
        }

        func run() throws {
            let store = try ContextCommand.load()
            let terminal = Terminal.isTerminal(STDOUT_FILENO)
            let printer = Output(
                format: output ?? (terminal ? .table : .json), style: TextStyle(enabled: false),
                width: terminal ? Terminal.size(STDOUT_FILENO)?.columns : nil, sink: .standard)
            let rows = store.contexts.keys.sorted().map { name in
                let context = store.contexts[name]!
                return Row(name: name, current: store.current == name, urls: context.urls, tokenFile: context.tokenFile)
            }
            printer.emit(rows, records: rows) {
                guard !rows.isEmpty else { return "no contexts (add one with `kimera context add NAME --url URL`)\n" }
                var table = Table([
                    Table.Column(" ", minWidth: 1), Table.Column("NAME"), Table.Column("SERVERS", flexible: true),
                    Table.Column("TOKEN FILE", flexible: true, optional: true),
                ])
                for row in rows {
                    table.append([
                        Table.Cell(row.current ? "*" : ""), Table.Cell(row.name),
                        Table.Cell(row.urls.joined(separator: " ")), Table.Cell(row.tokenFile ?? "-"),
                    ])
                }
                return table.render(width: printer.width, style: printer.style)
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Delete a context.").underKimera

        @Argument(help: "The context's name.", completion: .custom(ContextCompletion.names))
        var name: String

        func run() throws {
            var store = try ContextCommand.load()
            guard store.contexts.removeValue(forKey: name) != nil else { throw ContextCommand.unknown(name, store) }
            if store.current == name { store.current = nil }
            try ContextCommand.save(store)
            ContextCommand.say("context \(name) removed")
        }
    }
}

/// What the `context` subcommands share: loading and saving with errors as exits.
enum ContextCommand {
    static func load() throws -> ContextStore {
        do { return try ContextStore.load() } catch let error as ContextError {
            throw CommandRunner.exit(.failure(error.message), output: notices)
        }
    }

    static func save(_ store: ContextStore) throws {
        do { try store.save() } catch let error as ContextError {
            throw CommandRunner.exit(.failure(error.message), output: notices)
        }
    }

    static func unknown(_ name: String, _ store: ContextStore) -> ExitCode {
        let known = store.contexts.keys.sorted()
        return CommandRunner.exit(
            .usage(
                "no context named \(name)"
                    + (known.isEmpty ? "" : "; known: \(known.joined(separator: ", "))")), output: notices)
    }

    static func say(_ text: String) { notices.notice(text) }

    static let notices = Output(format: .table, style: TextStyle(enabled: false), width: nil, sink: .standard)
}

/// Shell completion of context names (read from the contexts file when the shell asks).
enum ContextCompletion {
    @Sendable static func names(_ arguments: [String], _ index: Int, _ prefix: String) -> [String] {
        ((try? ContextStore.load())?.contexts.keys.sorted() ?? []).filter { $0.hasPrefix(prefix) }
    }
}
