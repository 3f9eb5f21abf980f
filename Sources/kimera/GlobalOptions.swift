import ArgumentParser
import Foundation
import KimeraClient
import KimeraModels
import Logging

/// `-o/--output`: how data is printed on stdout.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Aligned columns sized to the terminal, for people.
    case table
    /// The server's model re-encoded, pretty-printed, with sorted keys: stable for scripts.
    case json
    /// One JSON object a line: a record a line for lists (logs, traces), else the whole answer.
    case ndjson
}

/// `--color`.
enum ColorChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto, always, never
}

/// The options every client command takes: where the server is, how to authenticate, how long to wait,
/// and how to print. Environment variables fill in what the flags leave out.
struct GlobalOptions: ParsableArguments, Sendable {
    @Option(
        name: .customLong("url"),
        help: ArgumentHelp(
            "A server's base URL; repeat for several (default: $KIMERA_URL, comma-separated, else the context, else \(KimeraClient.defaultURL)).",
            valueName: "url"))
    var urls: [String] = []

    @Option(
        help: ArgumentHelp(
            "A saved context: its servers and token file (default: $KIMERA_CONTEXT, else `kimera context use`).",
            valueName: "name"),
        completion: .custom(ContextCompletion.names))
    var context: String?

    /// The first `--url`, for the shell's one-line overrides.
    var url: String? { urls.first }

    @Option(
        help: ArgumentHelp("A bearer token (default: $KIMERA_TOKEN). Never needed on loopback.", valueName: "token"))
    var token: String?

    @Option(
        name: .customLong("token-file"), help: ArgumentHelp("Read the bearer token from a file.", valueName: "file"),
        completion: .file())
    var tokenFile: String?

    @Option(
        help: ArgumentHelp("How long one request may take: 5s, 500ms, 1m, or seconds (default: 5s).", valueName: "duration"),
        transform: DurationArgument.parse)
    var timeout: DurationArgument?

    @Option(
        name: [.customShort("o"), .customLong("output")],
        help: ArgumentHelp("table, json or ndjson (default: table on a terminal, else json).", valueName: "format"))
    var output: OutputFormat?

    @Option(
        help: ArgumentHelp(
            "auto, always or never. auto: only on a terminal, and not when NO_COLOR is set.", valueName: "when"))
    var color: ColorChoice = .auto

    func validate() throws {
        _ = try resolvedTargets()
        _ = try resolvedToken()
    }

    /// The servers to talk to and where they came from: `--url` (repeated), else `--context`, else
    /// `KIMERA_URL` (comma-separated), else `KIMERA_CONTEXT`, else the current context, else the default.
    struct Targets: Equatable {
        var urls: [String]
        /// The context they came from, when one did.
        var contextName: String?
        var context: FleetContext?
    }

    func resolvedTargets(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Targets {
        func normalised(_ texts: [String], source: String) throws -> [String] {
            var seen = Set<String>()
            var result: [String] = []
            for text in texts {
                do {
                    let url = try KimeraClient.normalise(url: text)
                    if seen.insert(url).inserted { result.append(url) }
                } catch let error as ClientError {
                    throw ValidationError("\(source): \(error.message)")
                }
            }
            guard !result.isEmpty else { throw ValidationError("\(source) names no server") }
            return result
        }
        func fromContext(_ name: String, source: String) throws -> Targets {
            let store: ContextStore
            do { store = try ContextStore.load(environment: environment) } catch let error as ContextError {
                throw ValidationError(error.message)
            }
            guard let saved = store.contexts[name] else {
                let known = store.contexts.keys.sorted()
                throw ValidationError(
                    "\(source) \(name): no such context"
                        + (known.isEmpty
                            ? " (add one with `kimera context add`)" : "; known: \(known.joined(separator: ", "))"))
            }
            return Targets(
                urls: try normalised(saved.urls, source: "context \(name)"), contextName: name, context: saved)
        }
        if !urls.isEmpty { return Targets(urls: try normalised(urls, source: "--url")) }
        if let context { return try fromContext(context, source: "--context") }
        if let list = environment["KIMERA_URL"], !list.isEmpty {
            let parts = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            return Targets(urls: try normalised(parts, source: "KIMERA_URL"))
        }
        if let name = environment["KIMERA_CONTEXT"], !name.isEmpty {
            return try fromContext(name, source: "KIMERA_CONTEXT")
        }
        // A contexts file that cannot be read is an error naming it, never a silent fall-back to the default
        // server (a command meant for production must not go to 127.0.0.1).
        let store: ContextStore
        do { store = try ContextStore.load(environment: environment) } catch let error as ContextError {
            throw ValidationError(error.message)
        }
        if let current = store.current {
            return try fromContext(current, source: "the current context")
        }
        return Targets(urls: [KimeraClient.defaultURL])
    }

    /// The first target, checked and without a trailing slash.
    func resolvedURL(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        try resolvedTargets(environment: environment).urls[0]
    }

    /// How long one request may take: `--timeout`, else 5 s.
    func timeoutDuration() -> Duration { timeout?.value ?? KimeraClient.defaultTimeout }

    /// `--token`, else the first line of `--token-file`, else `KIMERA_TOKEN`.
    func resolvedToken(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        if let token, !token.isEmpty { return token }
        if let tokenFile { return try Self.readToken(file: tokenFile, source: "--token-file") }
        if let fromEnvironment = environment["KIMERA_TOKEN"].flatMap({ $0.isEmpty ? nil : $0 }) {
            return fromEnvironment
        }
        // A context's token file is read last: an explicit token or KIMERA_TOKEN overrides it.
        if urls.isEmpty, let file = (try? resolvedTargets(environment: environment))?.context?.tokenFile {
            return try Self.readToken(file: file, source: "the context's token file")
        }
        return nil
    }

    /// The first line of `file`, trimmed; unreadable or empty is a usage error naming `source`.
    static func readToken(file: String, source: String) throws -> String {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ValidationError("\(source) \(file) cannot be read")
        }
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw ValidationError("\(source) \(file) is empty") }
        return trimmed
    }

    /// How this process prints: the format and colour decided for its stdout.
    func makeOutput(environment: [String: String] = ProcessInfo.processInfo.environment) -> Output {
        let terminal = Terminal.isTerminal(STDOUT_FILENO)
        let format = output ?? (terminal ? .table : .json)
        var width: Int?
        if terminal {
            width = Terminal.size(STDOUT_FILENO)?.columns
        } else if let columns = environment["COLUMNS"].flatMap({ Int($0) }), columns > 0 {
            width = columns
        }
        let colour = Terminal.colorEnabled(choice: color, isTerminal: terminal, environment: environment)
        return Output(format: format, style: TextStyle(enabled: colour), width: width, sink: .standard)
    }

    /// A client of the chosen server over `transport`. Call after `validate()`.
    func makeClient(transport: KimeraTransport) throws -> KimeraClient {
        try KimeraClient(url: resolvedURL(), token: resolvedToken(), timeout: timeoutDuration(), transport: transport)
    }

    /// A client of every target over `transport`, in the order given. Call after `validate()`.
    func makeFleet(transport: KimeraTransport) throws -> KimeraFleet {
        let token = try resolvedToken()
        let timeout = timeoutDuration()
        return KimeraFleet(
            clients: try resolvedTargets().urls.map {
                try KimeraClient(url: $0, token: token, timeout: timeout, transport: transport)
            })
    }
}

/// Checks of values the server would reject, made in `validate()` so a bad value exits 64 before any request.
enum ArgumentCheck {
    static func ttl(_ text: String?) throws {
        guard let text else { return }
        guard DurationText.parse(text) != nil else {
            throw ValidationError(
                "--ttl \(text) is not a duration; use a positive number and a unit, e.g. 30s, 15m, 2h (at most 24h)")
        }
    }

    static func positive(_ value: Int?, flag: String) throws {
        if let value, value <= 0 { throw ValidationError("\(flag) must be a positive integer, not \(value)") }
    }
}

/// `on` or `off`, as `debug mode` and `profile` take it.
enum Switch: String, ExpressibleByArgument, CaseIterable, Sendable {
    case on, off

    var enabled: Bool { self == .on }
}

/// Levels typed in any case (`warn` → `WARNING`); a bad one exits 64 with the list of valid names.
extension LogLevel: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
    public static var allValueStrings: [String] { allowed }
    public var defaultValueDescription: String { rawValue }
}
