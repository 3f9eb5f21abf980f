import ArgumentParser
import CLibEdit
import Dispatch
import Foundation
import KimeraClient
import Synchronization

/// `kimera shell`: a libedit REPL over the same commands. Each line is split like a POSIX shell would
/// (quotes honoured) and parsed by `Kimera.parseAsRoot`, so a command inside the shell is the command
/// of the command line, run against the shell's connection.
struct Shell: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "An interactive shell over the client commands (history, TAB completion).",
        discussion: """
            Every client command works without the `kimera` prefix (logs --level ERROR --limit 5), plus help, connect URL, get PATH, post PATH [JSON] and exit (or Ctrl-D). Ctrl-C stops the running command, not the shell. History is kept in ~/.kimera_history (1000 lines; KIMERA_HISTORY moves it).

            With piped input: no prompt, no colour, one command a line; the exit code is the last failure's.

            Examples:
              kimera shell --url http://127.0.0.1:8001
              printf 'health\\nstats\\n' | kimera shell
            """).underKimera

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let session = try ShellSession(global: global)
        let code = await session.run()
        await session.close()
        // Exited directly: an ExitCode of 64 thrown from here would read as a usage error of `shell` itself.
        if code != 0 { Foundation.exit(code) }
    }
}

/// One run of the shell: its connection, prompt, history and the command being run.
final class ShellSession {
    /// The shell's own options: the server the commands talk to until `connect`, the token, the timeout.
    let global: GlobalOptions
    let transport = KimeraTransport()
    var client: KimeraClient
    /// The other servers of the fleet the shell is connected to (empty for one server).
    var others: [KimeraClient] = []
    /// The context the servers came from, for the prompt.
    var contextName: String?
    /// How many of the fleet's servers answered the last probe.
    var up: Int?
    /// Whether stdin is a terminal: prompt, line editing, history and completion only then.
    let interactive: Bool
    let history: ShellHistory?
    let interrupt = ShellInterrupt()
    /// `[debug]` or the like after the server in the prompt; nil when the server did not answer.
    var mode: String?
    /// The exit code of the last command that failed (piped input ends with it).
    var lastFailure: Int32 = 0
    private let input = DispatchQueue(label: "kimera.shell.input")

    /// Names the shell understands besides the client commands.
    static let builtins = ["help", "connect", "get", "post", "exit", "quit"]

    init(global: GlobalOptions) throws {
        self.global = global
        interactive = Terminal.isTerminal(STDIN_FILENO)
        do {
            let fleet = try global.makeFleet(transport: transport)
            client = fleet.clients[0]
            others = Array(fleet.clients.dropFirst())
            contextName = try global.resolvedTargets().contextName
        } catch {
            throw CommandRunner.exit(CLIExit.from(error), output: global.makeOutput())
        }
        history = interactive ? ShellHistory(path: ShellHistory.defaultPath()) : nil
        if interactive {
            // libedit keeps the pointer (for `~/.editrc` conditionals): a copy that lives as long as the process.
            kimera_set_readline_name(strdup("kimera"))
            kimera_set_catch_signals(0)
            kimera_set_attempted_completion_function { text, start, _ in
                ShellCompleter.complete(text: text, start: start)
            }
            history?.load()
        }
    }

    func close() async {
        interrupt.stop()
        await transport.shutdown()
    }

    /// Reads and runs lines until end of input or `exit`; returns the exit code.
    func run() async -> Int32 {
        if interactive {
            await refreshMode()
            refreshLiveValues()
        }
        while true {
            guard let line = await readLine() else {
                if interactive { Terminal.writeAll("\n", to: STDOUT_FILENO) }
                return interactive ? 0 : lastFailure
            }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            history?.append(trimmed)
            let words: [String]
            do {
                words = try ShellWords.split(trimmed)
            } catch {
                fail(.usage("\(error)"))
                continue
            }
            if words.first == "exit" || words.first == "quit" {
                if words.count > 1, let code = Int32(words[1]) { return code }
                return interactive ? 0 : lastFailure
            }
            if let failure = await execute(words) {
                // The terminal echoed ^C; the prompt starts on a line of its own.
                if interactive && failure == .interrupted { Terminal.writeAll("\n", to: STDOUT_FILENO) }
                fail(failure)
            }
            if interactive {
                await refreshMode()
                refreshLiveValues()
            }
        }
    }

    /// Prints a failure's one line and remembers its code.
    private func fail(_ failure: CLIExit) {
        if let message = failure.message {
            let line = message.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? message
            Terminal.writeAll("kimera: \(line)\n", to: STDERR_FILENO)
        }
        lastFailure = failure.code
    }

    /// Runs one line already split into words; nil on success.
    func execute(_ words: [String]) async -> CLIExit? {
        guard let name = words.first else { return nil }
        switch name {
        case "help":
            help(words.dropFirst().first)
            return nil
        case "connect":
            guard words.count >= 2 else { return .usage("usage: connect URL [URL …] | connect CONTEXT") }
            do {
                try connect(Array(words.dropFirst()))
            } catch {
                return CLIExit.from(error)
            }
            return nil
        case "get", "post":
            return await raw(words)
        default:
            break
        }
        guard Kimera.configuration.subcommands.contains(where: { $0._commandName == name }) else {
            return .usage("unknown command '\(name)' (type help for the list)")
        }
        let parsed: any ParsableCommand
        do {
            parsed = try Kimera.parseAsRoot(Debug.BundleCommand.arguments(rewriting: words))
        } catch {
            let code = Kimera.exitCode(for: error)
            if code == .success {
                Terminal.writeAll(Kimera.fullMessage(for: error) + "\n", to: STDOUT_FILENO)
                return nil
            }
            let hint = "(see 'help \(Kimera.commandPath(words).dropFirst("kimera ".count))')"
            let text = code == .validationFailure ? Kimera.usageLine(for: error) : Kimera.message(for: error)
            return code == .validationFailure ? .usage("\(text) \(hint)") : .failure(text)
        }
        guard let command = parsed as? any ClientCommand else {
            if parsed is Shell || parsed is Serve { return .usage("\(name) is not available inside the shell") }
            // A group without its subcommand (`geoids`): its help, as `kimera geoids` would print.
            Terminal.writeAll(Kimera.helpMessage(for: type(of: parsed)) + "\n", to: STDOUT_FILENO)
            return nil
        }
        let context: CommandContext
        do {
            context = try self.context(for: command.global)
        } catch {
            return CLIExit.from(error)
        }
        return await interrupt.run { try await command.perform(in: context) }
    }

    /// `connect URL [URL …]` or `connect CONTEXT`: the servers later commands talk to.
    private func connect(_ targets: [String]) throws {
        if targets.count == 1, !targets[0].contains("://") {
            let store = try ContextStore.load()
            guard let saved = store.contexts[targets[0]] else {
                throw ValidationError(
                    "no context or URL '\(targets[0])' (contexts: \(store.contexts.keys.sorted().joined(separator: ", ")))"
                )
            }
            let token =
                try saved.tokenFile.map { try GlobalOptions.readToken(file: $0, source: "the context's token file") }
                ?? client.token
            let clients = try saved.urls.map {
                try KimeraClient(url: $0, token: token, timeout: client.timeout, transport: transport)
            }
            client = clients[0]
            others = Array(clients.dropFirst())
            contextName = targets[0]
            return
        }
        let clients = try targets.map { try client.connecting(to: $0) }
        client = clients[0]
        others = Array(clients.dropFirst())
        contextName = nil
    }

    /// The connection and output a command runs with: the shell's, except where the line gives its own
    /// `--url`, `--token`, `--timeout` or `-o`.
    private func context(for options: GlobalOptions) throws -> CommandContext {
        var output = options.makeOutput()
        if !interactive && options.color != .always { output.style.enabled = false }
        var commandClient = client
        let token = try options.resolvedToken() ?? client.token
        let timeout = options.timeout?.value ?? client.timeout
        if options.urls.count > 1 {
            let urls = try options.resolvedTargets().urls
            let clients = try urls.map {
                try KimeraClient(url: $0, token: token, timeout: timeout, transport: transport)
            }
            return CommandContext(fleet: KimeraFleet(clients: clients), output: output)
        }
        if options.url != nil || token != client.token || timeout != client.timeout {
            let url = options.url != nil ? try options.resolvedURL() : client.baseURL
            commandClient = try KimeraClient(url: url, token: token, timeout: timeout, transport: transport)
        }
        if options.url == nil && !others.isEmpty {
            let rest = try others.map {
                try KimeraClient(url: $0.baseURL, token: token, timeout: timeout, transport: transport)
            }
            return CommandContext(fleet: KimeraFleet(clients: [commandClient] + rest), output: output)
        }
        return CommandContext(client: commandClient, output: output)
    }

    /// `get PATH` / `post PATH [JSON]`: the answer pretty-printed, an error status as one line.
    /// `get PATH [--debug]`, `post PATH [JSON] [--debug]`: one request through `RawRequest`, as `kimera get`.
    private func raw(_ words: [String]) async -> CLIExit? {
        let method = words[0].uppercased()
        let debug = words.contains("--debug")
        let words = words.filter { $0 != "--debug" }
        guard words.count == 2 || (method == "POST" && words.count == 3) else {
            return .usage(method == "GET" ? "usage: get PATH [--debug]" : "usage: post PATH [JSON] [--debug]")
        }
        var body: Data?
        if words.count == 3 {
            body = Data(words[2].utf8)
            guard (try? JSONSerialization.jsonObject(with: body!, options: [.fragmentsAllowed])) != nil else {
                return .usage("the body of post is not JSON: \(words[2])")
            }
        } else if method == "POST" {
            body = Data("{}".utf8)
        }
        let client = self.client
        let prepared = body
        return await interrupt.run {
            try await RawRequest.run(client: client, method: method, target: words[1], body: prepared, debug: debug)
        }
    }

    private func help(_ topic: String?) {
        if let topic, let command = Kimera.configuration.subcommands.first(where: { $0._commandName == topic }) {
            Terminal.writeAll(Kimera.helpMessage(for: command) + "\n", to: STDOUT_FILENO)
            return
        }
        var text = "Commands (as on the command line, without `kimera`):\n"
        for command in Kimera.configuration.subcommands where command != Serve.self && command != Shell.self {
            text +=
                "  " + command._commandName.padding(toLength: 16, withPad: " ", startingAt: 0)
                + command.configuration.abstract + "\n"
        }
        text += """
            Shell commands:
              help [COMMAND]  this list, or a command's options
              connect URL…|CONTEXT  talk to other servers
              get PATH [--debug]  GET a path, e.g. get /debug/log-level (--debug: escalate it, print Server-Timing)
              post PATH [JSON] [--debug]  POST a path with a JSON body, e.g. post /kimera/geoids '{"content": "x"}'
              exit            leave (or Ctrl-D)
            TAB completes commands, flags, levels, modules, routes and request ids; Ctrl-C stops a command.

            """
        Terminal.writeAll(text, to: STDOUT_FILENO)
    }

    /// The next line: through libedit with the prompt on a terminal, else a plain line of stdin. Read on
    /// a queue of its own so the blocking read does not hold one of the few cooperative threads.
    private func readLine() async -> String? {
        let prompt = interactive ? self.prompt : nil
        let input = self.input
        return await withCheckedContinuation { continuation in
            input.async {
                guard let prompt else {
                    continuation.resume(returning: Swift.readLine(strippingNewline: true))
                    return
                }
                guard let pointer = CLibEdit.readline(prompt) else {
                    continuation.resume(returning: nil)
                    return
                }
                let line = String(cString: pointer)
                free(pointer)
                continuation.resume(returning: line)
            }
        }
    }

    /// `kimera 127.0.0.1:8001 [debug]> `.
    var prompt: String {
        var host = client.baseURL
        if let range = host.range(of: "://") { host = String(host[range.upperBound...]) }
        if !others.isEmpty {
            let name = contextName ?? "\(others.count + 1) servers"
            return "kimera \(name) (\(up ?? 0)/\(others.count + 1) up) [\(mode ?? "offline")]> "
        }
        return "kimera \(host) [\(mode ?? "offline")]> "
    }

    /// Asks `GET /` for the server's mode (bounded by a short timeout, so a dead server does not stall the prompt).
    func refreshMode() async {
        if !others.isEmpty {
            let probes = ([client] + others).compactMap {
                try? KimeraClient(url: $0.baseURL, token: $0.token, timeout: .seconds(2), transport: transport)
            }
            up = await KimeraFleet(clients: probes).each { try await $0.health() }.filter { $0.value != nil }.count
        }
        guard
            let probe = try? KimeraClient(
                url: client.baseURL, token: client.token, timeout: .seconds(2), transport: transport),
            let root = try? await probe.root(bypassCache: true)
        else {
            mode = nil
            return
        }
        var parts: [String] = []
        if root.mode.debug { parts.append("debug") }
        if root.mode.performance { parts.append("performance") }
        if root.mode.profiling { parts.append("profiling") }
        mode = parts.isEmpty ? "basic" : parts.joined(separator: "+")
    }

    /// Fetches module names, route templates and recent request ids for completion, in the background.
    func refreshLiveValues() {
        guard
            let probe = try? KimeraClient(
                url: client.baseURL, token: client.token, timeout: .seconds(2), transport: transport)
        else { return }
        Task.detached {
            async let levels = try? await probe.logLevels()
            async let stats = try? await probe.performanceStats()
            // More than are offered: the shell's own probes (these four GETs) are left out.
            async let traces = try? await probe.traces(TraceQuery(limit: 100))
            let values = ShellLiveValues(
                modules: (await levels)?.modules.map(\.module) ?? [],
                routes: (await stats)?.requestStatistics.endpoints.keys.map { ShellLiveValues.route(of: $0) } ?? [],
                requestIDs: ShellLiveValues.recentRequestIDs((await traces)?.traces ?? []))
            shellCompleter.update(values)
        }
    }
}

/// Ctrl-C inside the shell: a SIGINT cancels the command running (a `logs -f`) and never the shell.
final class ShellInterrupt: Sendable {
    /// The task of the command running now, if any; set and cleared by `run`, cancelled by the signal.
    private let current = Mutex<Task<Void, any Error>?>(nil)
    private let source: DispatchSourceReference

    init() {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        self.source = DispatchSourceReference(source: source)
        source.setEventHandler { [weak self] in self?.cancelCurrent() }
        source.resume()
    }

    private func cancelCurrent() {
        current.locked { $0?.cancel() }
    }

    /// Runs `work` as the current command; nil on success, else how it ended (`.interrupted` after Ctrl-C).
    func run(_ work: @escaping @Sendable () async throws -> Void) async -> CLIExit? {
        let task = Task { try await work() }
        current.locked { $0 = task }
        let result = await task.result
        current.locked { $0 = nil }
        switch result {
        case .success: return task.isCancelled ? .interrupted : nil
        case .failure(let error):
            if task.isCancelled { return .interrupted }
            return CLIExit.from(error)
        }
    }

    func stop() {
        source.source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}

/// A shell line split into words: blanks separate words; 'single quotes' keep everything, "double
/// quotes" and a backslash outside quotes escape the next character.
enum ShellWords {
    struct UnterminatedQuote: Error, CustomStringConvertible {
        var quote: Character
        var description: String { "unterminated \(quote) quote" }
    }

    static func split(_ line: String) throws -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in line {
            if escaped {
                word.append(character)
                escaped = false
                continue
            }
            if let open = quote {
                if character == open {
                    quote = nil
                } else if character == "\\" && open == "\"" {
                    escaped = true
                } else {
                    word.append(character)
                }
                continue
            }
            switch character {
            case "'", "\"":
                quote = character
                inWord = true
            case "\\":
                escaped = true
                inWord = true
            case " ", "\t":
                if inWord { words.append(word) }
                word = ""
                inWord = false
            default:
                word.append(character)
                inWord = true
            }
        }
        if let quote { throw UnterminatedQuote(quote: quote) }
        if inWord { words.append(word) }
        return words
    }
}

/// A raw answer as the shell prints it: JSON pretty-printed with sorted keys, anything else as it came.
enum RawText {
    static func pretty(_ body: Data) -> String {
        if body.isEmpty { return "" }
        guard let value = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]),
            let data = try? JSONSerialization.data(
                withJSONObject: value,
                options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        else {
            let text = String(decoding: body, as: UTF8.self)
            return text.hasSuffix("\n") ? text : text + "\n"
        }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// The shell's history file: plain lines, the newest last, at most `limit`, rewritten after each line
/// so a killed shell loses nothing.
final class ShellHistory {
    /// How many lines the file and libedit keep.
    static let limit = 1000
    let path: String
    private var lines: [String] = []

    init(path: String) {
        self.path = path
    }

    /// `KIMERA_HISTORY`, else `~/.kimera_history`.
    static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let path = environment["KIMERA_HISTORY"], !path.isEmpty { return path }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".kimera_history")
    }

    func load() {
        stifle_history(Int32(Self.limit))
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        // A history written by an earlier version may be world-readable, and may hold a token line.
        chmod(path, 0o600)
        lines = text.split(separator: "\n").map(String.init).filter { !Self.carriesSecret($0) }.suffix(Self.limit)
        for line in lines { add_history(line) }
    }

    func append(_ line: String) {
        // A line that carries a credential is not kept, in the file or in libedit's list.
        guard lines.last != line, !Self.carriesSecret(line) else { return }
        lines.append(line)
        if lines.count > Self.limit { lines.removeFirst(lines.count - Self.limit) }
        add_history(line)
        write()
    }

    /// Whether a line holds a token (`--token T`, `--token=T`): such a line never reaches the history.
    static func carriesSecret(_ line: String) -> Bool {
        line.split(whereSeparator: { $0 == " " || $0 == "\t" }).contains { word in
            word == "--token" || word.hasPrefix("--token=")
        }
    }

    /// Rewrites the file, readable by its owner only (0600), through a temporary file and a rename.
    private func write() {
        let temporary = path + ".tmp-\(getpid())"
        let text = lines.joined(separator: "\n") + "\n"
        guard
            FileManager.default.createFile(
                atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { return }
        chmod(temporary, 0o600)
        if rename(temporary, path) != 0 { unlink(temporary) }
    }
}
