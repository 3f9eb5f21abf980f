import ArgumentParser
import CLibEdit
import Foundation
import KimeraAPI
import KimeraClient
import KimeraModels
import Synchronization

/// Values only the server knows, fetched after each command for TAB completion.
struct ShellLiveValues: Sendable {
    var modules: [String] = []
    /// Route templates (`/kimera/geoids/{id}`), without the method.
    var routes: [String] = []
    /// Recent request ids, newest first.
    var requestIDs: [String] = []

    /// What the shell itself asks after each command, left out of the request ids offered.
    static let probeRoutes: Set<String> = ["/", "/debug/log-level", "/performance/stats", "/debug/traces"]
    /// How many request ids TAB offers.
    static let requestIDLimit = 20

    /// The ids of the newest traces (the server lists them newest first) that are not the shell's own probes.
    static func recentRequestIDs(_ traces: [Trace]) -> [String] {
        let others = traces.filter { !($0.method == "GET" && probeRoutes.contains($0.route)) }
        return others.prefix(requestIDLimit).map(\.requestID)
    }

    /// `GET /debug/info` → `/debug/info`.
    static func route(of endpoint: String) -> String {
        guard let space = endpoint.firstIndex(of: " ") else { return endpoint }
        return String(endpoint[endpoint.index(after: space)...])
    }
}

/// TAB completion of the shell: command names, subcommands, flags (read from each command's help, so
/// they never drift from the parser), levels, and the live values.
final class ShellCompleter: Sendable {
    /// The latest live values; written by the refresh task, read by libedit's completion callback.
    private let live = Mutex(ShellLiveValues())

    func update(_ values: ShellLiveValues) {
        live.locked { $0 = values }
    }

    static let formats = OutputFormat.allCases.map(\.rawValue)
    static let colors = ColorChoice.allCases.map(\.rawValue)
    static let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

    /// The commands a line may start with.
    static var commandNames: [String] {
        ShellSession.builtins
            + Kimera.configuration.subcommands.filter { $0 != Serve.self && $0 != Shell.self }.map { $0._commandName }
    }

    /// The candidates for `text`, the word being typed, after the words `before` it.
    func candidates(before: [String], text: String) -> [String] {
        let live = self.live.locked { $0 }
        var options: [String]
        if before.isEmpty {
            options = Self.commandNames
        } else if let values = values(after: before.last!, live: live) {
            options = values
        } else if before.count == 1 && (before[0] == "get" || before[0] == "post") {
            options = live.routes
        } else if before.count == 1 && before[0] == "help" {
            options = Self.commandNames
        } else if before.count == 1 && before[0] == "connect" {
            options = Self.contextNames()
        } else {
            let (command, path) = Self.resolve(before)
            if text.hasPrefix("-") {
                options = command.map { Self.flags(of: $0) } ?? []
            } else {
                options = command?.configuration.subcommands.map { $0._commandName } ?? []
                options += positionals(path: path, live: live)
            }
        }
        var seen = Set<String>()
        return options.filter { $0.hasPrefix(text) && seen.insert($0).inserted }.sorted()
    }

    /// Values of the option named by `previous`, or nil when it is not an option taking a known value.
    private func values(after previous: String, live: ShellLiveValues) -> [String]? {
        switch previous {
        case "--level": return LogLevel.allowed
        case "--module": return live.modules
        case "--request-id": return live.requestIDs
        case "--path": return live.routes
        case "--method": return Self.methods
        case "-o", "--output": return Self.formats
        case "--color": return Self.colors
        case "--context": return Self.contextNames()
        default: return nil
        }
    }

    /// Arguments that are not subcommands: the level of `debug log-level`, on/off of `debug mode`.
    private func positionals(path: [String], live: ShellLiveValues) -> [String] {
        switch path {
        case ["debug", "log-level"]: return LogLevel.allowed
        case ["debug", "mode"]: return Switch.allCases.map(\.rawValue)
        case ["context", "use"], ["context", "remove"]: return Self.contextNames()
        default: return []
        }
    }

    /// The names of the saved contexts (`kimera context list`), read anew at each TAB so that a context
    /// added from another terminal is offered; none when the file is missing or unreadable.
    static func contextNames() -> [String] {
        ((try? ContextStore.load())?.contexts.keys).map(Array.init) ?? []
    }

    /// The command the words name (`debug log-level` → `Debug.LogLevel`) and its path.
    static func resolve(_ words: [String]) -> ((any ParsableCommand.Type)?, [String]) {
        guard let first = words.first,
            var command = Kimera.configuration.subcommands.first(where: { $0._commandName == first })
        else { return (nil, []) }
        var path = [first]
        for word in words.dropFirst() where !word.hasPrefix("-") {
            guard let next = command.configuration.subcommands.first(where: { $0._commandName == word }) else { break }
            command = next
            path.append(word)
        }
        return (command, path)
    }

    /// The flags the command's help lists (`--level`, `-f`, …).
    static func flags(of command: any ParsableCommand.Type) -> [String] {
        let help = Kimera.helpMessage(for: command)
        var flags: [String] = []
        for line in help.split(separator: "\n") where line.hasPrefix("  -") {
            for token in line.split(whereSeparator: { " ,<>=[]".contains($0) }) where token.hasPrefix("-") {
                let name = String(token)
                if name.count > 1 && name.dropFirst().allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) {
                    flags.append(name)
                }
            }
        }
        return flags
    }

    /// The usage line of the command the words name, shown when TAB has nothing to offer.
    static func usage(_ words: [String]) -> String? {
        guard let command = resolve(words).0 else { return nil }
        let help = Kimera.helpMessage(for: command)
        guard let line = help.split(separator: "\n").first(where: { $0.hasPrefix("USAGE:") }) else { return nil }
        return line.replacingOccurrences(of: "USAGE: kimera ", with: "usage: ")
    }
}

/// The one completer libedit's C callback reaches (a C function pointer cannot capture context).
let shellCompleter = ShellCompleter()

extension ShellCompleter {
    /// libedit's `rl_attempted_completion_function`: an array of malloc'd strings, the common prefix
    /// first, NULL-terminated; NULL when nothing matches. Filename completion is turned off.
    static func complete(text: UnsafePointer<CChar>?, start: Int32) -> UnsafeMutablePointer<
        UnsafeMutablePointer<CChar>?
    >? {
        kimera_set_attempted_completion_over(1)
        let word = text.map { String(cString: $0) } ?? ""
        var before: [String] = []
        if let buffer = kimera_line_buffer() {
            let bytes = Array(String(cString: buffer).utf8).prefix(Int(max(0, start)))
            before = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(
                String.init)
        }
        let matches = shellCompleter.candidates(before: before, text: word)
        if matches.isEmpty {
            // The hint libedit allows: the command's usage under the line, then the line again.
            if word.isEmpty, let usage = usage(before) {
                Terminal.writeAll("\n" + usage + "\n", to: STDOUT_FILENO)
                rl_forced_update_display()
            }
            return nil
        }
        kimera_set_completion_append_character(matches.count == 1 ? 32 : 0)
        var common = matches[0]
        for match in matches.dropFirst() {
            while !match.hasPrefix(common) { common.removeLast() }
        }
        let entries = (matches.count == 1 ? [] : [common]) + matches
        // libedit frees the array and its strings with free(): both come from malloc. It also reads
        // `matches[2]` to tell a single match, even when `matches[1]` is the terminating NULL: with only two
        // slots that read went past the allocation, and whatever lay there decided whether the space was
        // appended ("vau" TAB gave "vault" or "vault " at random; the AddressSanitizer run showed it). At
        // least three slots, every one after the entries NULL.
        let slots = max(entries.count + 1, 3)
        guard let memory = calloc(slots, MemoryLayout<UnsafeMutablePointer<CChar>?>.stride) else { return nil }
        let array = memory.bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: slots)
        for (index, entry) in entries.enumerated() { array[index] = strdup(entry) }
        return array
    }
}
