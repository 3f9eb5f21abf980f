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
        help: ArgumentHelp(
            "The server's base URL (default: $KIMERA_URL, else \(KimeraClient.defaultURL)).", valueName: "url"))
    var url: String?

    @Option(
        help: ArgumentHelp("A bearer token (default: $KIMERA_TOKEN). Never needed on loopback.", valueName: "token"))
    var token: String?

    @Option(
        name: .customLong("token-file"), help: ArgumentHelp("Read the bearer token from a file.", valueName: "file"),
        completion: .file())
    var tokenFile: String?

    @Option(help: ArgumentHelp("How long one request may take: 5s, 500ms, 1m, or seconds.", valueName: "duration"))
    var timeout: String = "5s"

    @Option(
        name: [.customShort("o"), .customLong("output")],
        help: ArgumentHelp("table, json or ndjson (default: table on a terminal, else json).", valueName: "format"))
    var output: OutputFormat?

    @Option(
        help: ArgumentHelp(
            "auto, always or never. auto: only on a terminal, and not when NO_COLOR is set.", valueName: "when"))
    var color: ColorChoice = .auto

    func validate() throws {
        _ = try resolvedURL()
        _ = try timeoutDuration()
        _ = try resolvedToken()
    }

    /// `--url`, else `KIMERA_URL`, else the default; checked and without a trailing slash.
    func resolvedURL(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let fromEnvironment = environment["KIMERA_URL"].flatMap { $0.isEmpty ? nil : $0 }
        let text = url ?? fromEnvironment ?? KimeraClient.defaultURL
        do {
            return try KimeraClient.normalise(url: text)
        } catch let error as ClientError {
            let source = url != nil ? "--url" : "KIMERA_URL"
            throw ValidationError("\(source): \(error.message)")
        }
    }

    func timeoutDuration() throws -> Duration {
        guard let duration = DurationText.parse(timeout) else {
            throw ValidationError(
                "--timeout \(timeout) is not a duration; use e.g. 5s, 500ms, 1m or a number of seconds")
        }
        return duration
    }

    /// `--token`, else the first line of `--token-file`, else `KIMERA_TOKEN`.
    func resolvedToken(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        if let token, !token.isEmpty { return token }
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw ValidationError("--token-file \(tokenFile) cannot be read")
            }
            let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { throw ValidationError("--token-file \(tokenFile) is empty") }
            return trimmed
        }
        return environment["KIMERA_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
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
}

/// Checks of values the server would reject, made in `validate()` so a bad value exits 64 before any request.
enum ArgumentCheck {
    static func ttl(_ text: String?) throws {
        guard let text else { return }
        guard DurationText.parse(text) != nil else {
            throw ValidationError("--ttl \(text) is not a duration between 1ms and 24h; use e.g. 30s, 15m, 2h")
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
