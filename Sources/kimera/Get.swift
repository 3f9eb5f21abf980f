import ArgumentParser
import Foundation
import KimeraClient

/// `kimera get PATH [--debug]` and the shell's `get`/`post`: one request, the body pretty-printed; with
/// `--debug`, sent with `X-Kimera-Debug: 1` (docs/OPERATIONS.md "One-request escalation") and the server's
/// `Server-Timing` breakdown and incident printed on stderr, so stdout stays the body.
struct Get: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "GET one path and print its body; --debug escalates that one request.",
        discussion: """
            With --debug the request carries X-Kimera-Debug: 1: the server serves it past the response cache, \
            keeps it as an incident whatever its outcome, and answers with Server-Timing, which is printed on \
            stderr with the request id and the incident id (kimera incidents show ID). A server grants it to \
            loopback clients, or to any client with the admin token (--token); otherwise the header is ignored \
            and stderr says so. No level or mode changes.

            Examples:
              kimera get /debug/log-level
              kimera get '/kimera/geoids/search?query=dogs' --debug
            """).underKimera

    @Argument(help: ArgumentHelp("The path, with its query, e.g. /debug/log-level.", valueName: "path"))
    var path: String

    @Flag(help: "Escalate this one request (X-Kimera-Debug: 1) and print its Server-Timing breakdown on stderr.")
    var debug = false

    @OptionGroup var global: GlobalOptions

    func perform(in context: CommandContext) async throws {
        try await RawRequest.run(client: context.client, method: "GET", target: path, body: nil, debug: debug)
    }
}

/// One request as `kimera get` and the shell send it.
enum RawRequest {
    static let debugHeader = "X-Kimera-Debug"

    /// Sends it, prints the body (pretty JSON) on stdout and, when `debug`, the escalation on stderr;
    /// throws the server's error for a non-2xx answer (after the breakdown, which a failed request has too).
    static func run(client: KimeraClient, method: String, target: String, body: Data?, debug: Bool) async throws {
        // The target is sent as written (its query included), as the shell always has.
        let path = target.hasPrefix("/") ? target : "/" + target
        let response = try await client.send(method, path, body: body, headers: debug ? [(debugHeader, "1")] : [])
        if debug { Terminal.writeAll(escalationReport(response), to: STDERR_FILENO) }
        try response.requireSuccess()
        Terminal.writeAll(RawText.pretty(response.body), to: STDOUT_FILENO)
    }

    /// The `Server-Timing` breakdown, a line per entry, with the request and incident ids; or why there is
    /// none (the server ignored the header).
    static func escalationReport(_ response: RawResponse) -> String {
        let requestID = response.header("X-Request-ID") ?? "?"
        guard let timing = response.header("Server-Timing") else {
            return
                "escalation not granted (request \(requestID)): the server answers X-Kimera-Debug only from loopback or with the admin token, at most 5 a second\n"
        }
        var text = "Server-Timing of request \(requestID)"
        if let incident = response.header("X-Kimera-Incident") {
            text += " (incident \(incident): kimera incidents show \(incident))"
        }
        text += ":\n"
        for entry in ServerTiming.parse(timing) {
            let name = entry.name.padding(toLength: 14, withPad: " ", startingAt: 0)
            let duration = entry.durationMs.map { String(format: "%9.3f ms", $0) } ?? "        - ms"
            text += "  \(name)\(duration)\(entry.description.map { "  \($0)" } ?? "")\n"
        }
        return text
    }
}

/// A `Server-Timing` header (W3C Server Timing): `name;dur=1.2;desc="text", …`.
enum ServerTiming {
    struct Entry: Equatable {
        var name: String
        var durationMs: Double?
        var description: String?
    }

    static func parse(_ header: String) -> [Entry] {
        header.split(separator: ",").compactMap { metric in
            let parts = metric.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let name = parts.first, !name.isEmpty else { return nil }
            var entry = Entry(name: name)
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { continue }
                switch pair[0].lowercased() {
                case "dur": entry.durationMs = Double(pair[1])
                case "desc": entry.description = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                default: break
                }
            }
            return entry
        }
    }
}
