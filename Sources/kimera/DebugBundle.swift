import ArgumentParser
import Foundation
import KimeraAPI
import KimeraClient
import KimeraModels
import KimeraObservability
import Synchronization

extension Debug {
    /// `kimera debug bundle`: a redacted `.tar.gz` of what an operator needs to look at later, from every
    /// instance: `/debug/info`, the logs (the backlog, then following for the window), traces, histograms,
    /// statistics, `/metrics` snapshots every interval, and profiles (profiling switched on for the window and
    /// restored after), with `manifest.json`. Ctrl-C archives what was captured so far.
    struct BundleCommand: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "bundle",
            abstract: "Capture a redacted .tar.gz of info, logs, traces, metrics and profiles from every instance.",
            discussion: """
                The archive holds manifest.json and a folder per instance: info.json, logs.ndjson, traces.json, \
                histograms.json, stats.json, profiles.json, incidents.json (and incidents/ID.json, the newest 20 \
                with their log records), cpu.pb.gz (a CPU profile covering the window, for `go tool pprof -top`) \
                and metrics/NNN.prom (one snapshot every --interval). \
                The bearer token and secret header values never reach it. Ctrl-C stops the window early and \
                archives what was captured.

                Examples:
                  kimera debug bundle
                  kimera debug bundle --context prod --duration 2m --interval 15s \\
                    --file prod.tar.gz
                """).underKimera

        @Option(
            help: ArgumentHelp("How long to follow logs and take snapshots (default: 30s, at most 1h).", valueName: "duration"),
            transform: DurationArgument.parse)
        var duration = DurationArgument(default: "30s", .seconds(30))

        @Option(
            help: ArgumentHelp("How often to snapshot /metrics (default: 10s).", valueName: "duration"), transform: DurationArgument.parse)
        var interval = DurationArgument(default: "10s", .seconds(10))

        @Option(
            name: .customLong("file"),
            help: ArgumentHelp("The archive to write (default: kimera-bundle-DATE.tar.gz here).", valueName: "file"),
            completion: .file(extensions: ["gz"]))
        var file: String?

        /// `-o/--output` is the print format in every command; before `--file` existed, `debug bundle
        /// --output FILE` named the archive. A value that is no format is still taken as the archive, with a
        /// one-line notice; `--output json` is the format.
        static func arguments(
            rewriting arguments: [String], notice: (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
        ) -> [String] {
            let words = arguments.filter { !$0.hasPrefix("-") }
            guard words.count >= 2, words[0] == "debug", words[1] == "bundle" else { return arguments }
            var result: [String] = []
            var index = 0
            while index < arguments.count {
                let argument = arguments[index]
                var value: String?
                if argument == "--output", index + 1 < arguments.count {
                    value = arguments[index + 1]
                } else if argument.hasPrefix("--output=") {
                    value = String(argument.dropFirst("--output=".count))
                }
                if let value, OutputFormat(rawValue: value) == nil {
                    notice("kimera: debug bundle --output FILE is now --file FILE (-o/--output is the print format)\n")
                    result += ["--file", value]
                    index += argument == "--output" ? 2 : 1
                    continue
                }
                result.append(argument)
                index += 1
            }
            return result
        }

        @OptionGroup var global: GlobalOptions

        /// The most log records kept per instance.
        static let maxLogLines = 100_000

        func validate() throws {
            guard duration.value > .zero, duration.value <= .seconds(3600) else {
                throw ValidationError("--duration \(duration) must be a duration from 1ms to 1h, e.g. 30s")
            }
            guard interval.value >= .milliseconds(100) else {
                throw ValidationError("--interval \(interval) must be a duration of at least 100ms, e.g. 10s")
            }
        }

        func perform(in context: CommandContext) async throws {
            let (window, step) = (duration.value, interval.value)
            let archive = URL(fileURLWithPath: file ?? Self.defaultName(Date()))
            let capture = BundleCapture(
                fleet: context.fleet, window: window, interval: step, output: context.output,
                progress: Terminal.isTerminal(STDERR_FILENO))
            let interrupted = await capture.run()
            // Archive in a task of its own: an interrupt must not cancel writing what was captured.
            let result = await Task { capture.archive(to: archive) }.value
            switch result {
            case .success(let summary):
                context.output.line(archive.path)
                context.output.notice(summary)
            case .failure(let message):
                throw CLIExit.failure(message)
            }
            if interrupted { throw CancellationError() }
            if let code = capture.worstFailure { throw CLIExit.partial(code: code) }
        }

        static func defaultName(_ date: Date) -> String {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMdd-HHmmss"
            return "kimera-bundle-\(formatter.string(from: date)).tar.gz"
        }
    }
}

/// One capture: the files gathered per instance, the requests made, the errors met. Files are kept in
/// memory (bounded: logs per instance by `Debug.BundleCommand.maxLogLines`) and written, redacted, at the end.
final class BundleCapture: Sendable {
    let fleet: KimeraFleet
    let window: Duration
    let interval: Duration
    let output: Output
    let progress: Bool
    let names: [String]
    /// The secrets that must never reach the archive: the bearer token sent to the servers.
    let secrets: [String]

    struct State: Sendable {
        /// Per instance: path inside its folder → content.
        var files: [[String: Data]]
        var logLines: [[String]]
        var errors: [[String]]
        var commands: Set<String> = []
        var codes: [Int32] = []
        var startedAt = Date()
        var endedAt: Date?
        var profilingRestored: [Bool?]
        var interrupted = false
    }
    /// Protects everything captured: instance tasks add to it concurrently.
    let state: Mutex<State>

    init(fleet: KimeraFleet, window: Duration, interval: Duration, output: Output, progress: Bool) {
        self.fleet = fleet
        self.window = window
        self.interval = interval
        self.output = output
        self.progress = progress
        names = fleet.instanceNames
        secrets = Array(Set(fleet.clients.compactMap(\.token)))
        let count = fleet.clients.count
        state = Mutex(
            State(
                files: Array(repeating: [:], count: count), logLines: Array(repeating: [], count: count),
                errors: Array(repeating: [], count: count), profilingRestored: Array(repeating: nil, count: count)))
    }

    var worstFailure: Int32? {
        let codes = state.locked { $0.codes }
        return codes.isEmpty ? nil : FleetOutput.worstCode(codes)
    }

    private func record(_ index: Int, _ path: String, _ data: Data) {
        state.locked { $0.files[index][path] = data }
    }

    private func fail(_ index: Int, _ what: String, _ error: any Error) {
        let failure = (error as? ClientError) ?? .transport(url: fleet.clients[index].baseURL, detail: "\(error)")
        state.locked {
            $0.errors[index].append("\(what): \(failure.message)")
            $0.codes.append(CLIExit.from(failure).code)
        }
        output.notice("\(names[index]): \(what): \(failure.message)")
    }

    /// GETs `path` and keeps its body as `file`; returns the body.
    @discardableResult
    private func fetch(_ index: Int, _ path: String, query: [(String, String)] = [], as file: String) async -> Data? {
        let client = fleet.clients[index]
        state.locked {
            _ = $0.commands.insert(
                "GET \(path)" + (query.isEmpty ? "" : "?" + query.map { "\($0.0)=\($0.1)" }.joined(separator: "&")))
        }
        do {
            let response = try await client.send("GET", path, query: query)
            try response.requireSuccess()
            record(index, file, response.body)
            return response.body
        } catch {
            fail(index, "GET \(path)", error)
            return nil
        }
    }

    /// The newest incidents kept per instance in full (their records included), beside the whole list.
    static let incidentsInFull = 20

    /// `incidents.json` (the list) and `incidents/ID.json` for the newest `incidentsInFull`: a bad request's
    /// DEBUG lines, which the ring may never have held (OPERATIONS.md "Incidents").
    private func fetchIncidents(_ index: Int) async {
        guard let body = await fetch(index, "/debug/incidents", query: [("limit", "1000")], as: "incidents.json"),
            let list = try? JSONDecoder().decode(IncidentList.self, from: body)
        else { return }
        for id in list.incidents.prefix(Self.incidentsInFull).map(\.id)
        where id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) {
            await fetch(index, "/debug/incidents/\(id)", as: "incidents/\(id).json")
        }
    }

    private func say(_ text: String) {
        guard progress else { return }
        Terminal.writeAll("\r\u{1B}[2K" + text, to: STDERR_FILENO)
    }

    /// Captures for the window; returns whether it was interrupted.
    func run() async -> Bool {
        let count = fleet.clients.count
        let clock = ContinuousClock()
        let start = clock.now
        state.locked { $0.startedAt = Date() }
        say("fetching /debug/info from \(count) instance(s)…")
        // Before the window: info, and profiling switched on where it was off.
        var profilingWasOn = [Bool?](repeating: nil, count: count)
        await withTaskGroup(of: (Int, Bool?).self) { group in
            for index in 0..<count {
                group.addTask {
                    let body = await self.fetch(index, "/debug/info", as: "info.json")
                    guard let body, let info = try? JSONDecoder().decode(DebugInfo.self, from: body) else {
                        return (index, nil)
                    }
                    if !info.mode.profiling {
                        self.state.locked { _ = $0.commands.insert("POST /debug/profiling?enabled=true") }
                        do { _ = try await self.fleet.clients[index].setProfiling(true) } catch {
                            self.fail(index, "POST /debug/profiling", error)
                        }
                    }
                    return (index, info.mode.profiling)
                }
            }
            for await (index, wasOn) in group { profilingWasOn[index] = wasOn }
        }
        let wasOn = profilingWasOn
        // During the window: every instance's log stream, and /metrics every interval.
        let followers = Task {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<count where wasOn[index] != nil {
                    group.addTask { await self.followLogs(index) }
                }
            }
        }
        // A CPU profile covering the window (whole seconds, within what the server accepts).
        let windowSeconds = Int(min(window.seconds.rounded(.up), Double(CPUProfiler.secondsRange.upperBound)))
        let profileSeconds = max(windowSeconds, 1)
        let profiles = Task {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<count where wasOn[index] != nil {
                    group.addTask { await self.cpuProfile(index, seconds: profileSeconds) }
                }
            }
        }
        var interrupted = false
        var snapshot = 0
        while true {
            snapshot += 1
            let number = String(format: "%03d", snapshot)
            say("snapshot \(snapshot) of /metrics, \(Self.left(window - (clock.now - start))) left…")
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    group.addTask { _ = await self.fetch(index, "/metrics", as: "metrics/\(number).prom") }
                }
            }
            let remaining = window - (clock.now - start)
            if remaining <= .zero || Task.isCancelled {
                interrupted = Task.isCancelled
                break
            }
            do { try await Task.sleep(for: min(interval, remaining)) } catch {
                interrupted = true
                break
            }
            if clock.now - start >= window {
                // One last snapshot at the end of the window.
                continue
            }
        }
        followers.cancel()
        await followers.value
        // The profiles end with the window (interrupted: they are abandoned, and say so in the manifest).
        if interrupted { profiles.cancel() }
        await profiles.value
        // After the window, even when interrupted: what the servers hold, and profiling restored.
        let finish = Task {
            self.say("fetching traces, histograms, statistics and profiles…")
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    group.addTask {
                        await self.fetch(index, "/debug/traces", query: [("limit", "5000")], as: "traces.json")
                        await self.fetch(index, "/debug/histograms", as: "histograms.json")
                        await self.fetch(index, "/performance/stats", as: "stats.json")
                        await self.fetch(index, "/debug/profiles", query: [("limit", "1000")], as: "profiles.json")
                        await self.fetchIncidents(index)
                        if wasOn[index] == false {
                            self.state.locked { _ = $0.commands.insert("POST /debug/profiling?enabled=false") }
                            do {
                                _ = try await self.fleet.clients[index].setProfiling(false)
                                self.state.locked { $0.profilingRestored[index] = true }
                            } catch {
                                self.state.locked { $0.profilingRestored[index] = false }
                                self.fail(index, "restoring profiling off", error)
                            }
                        }
                    }
                }
            }
        }
        await finish.value
        say("")
        state.locked {
            $0.endedAt = Date()
            $0.interrupted = interrupted
        }
        return interrupted
    }

    /// `GET /debug/pprof/profile` for the window, kept as `cpu.pb.gz`.
    private func cpuProfile(_ index: Int, seconds: Int) async {
        state.locked { _ = $0.commands.insert("GET /debug/pprof/profile?seconds=\(seconds)&hz=100") }
        do {
            let data = try await fleet.clients[index].cpuProfile(seconds: seconds, hz: 100)
            record(index, "cpu.pb.gz", data)
        } catch {
            fail(index, Task.isCancelled ? "CPU profile (interrupted)" : "GET /debug/pprof/profile", error)
        }
    }

    /// The backlog (up to 1000 records), then the live stream until cancelled, one JSON record a line.
    private func followLogs(_ index: Int) async {
        let client = fleet.clients[index]
        state.locked { _ = $0.commands.insert("GET /debug/logs?limit=1000, then GET /debug/logs/stream") }
        var last: UInt64 = 0
        do {
            let page = try await client.logs(LogQuery(limit: 1000))
            append(index, page.logs)
            last = UInt64(clamping: page.logs.last?.seq ?? 0)
        } catch {
            if !Task.isCancelled { fail(index, "GET /debug/logs", error) }
            return
        }
        do {
            for try await event in client.followLogs(LogQuery(), sinceSeq: last) {
                switch event {
                case .record(let record): append(index, [record])
                case .gap(let range):
                    state.locked {
                        $0.errors[index].append("log stream gap: seq \(range.fromSeq)–\(range.toSeq) lost")
                    }
                case .disconnected(let error, _, _):
                    state.locked { $0.errors[index].append("log stream lost: \(error.message)") }
                case .reconnected(_, let restarted):
                    if restarted {
                        state.locked { $0.errors[index].append("the server restarted during the window") }
                    }
                }
            }
        } catch {
            if !Task.isCancelled { fail(index, "GET /debug/logs/stream", error) }
        }
    }

    private func append(_ index: Int, _ records: [LogRecord]) {
        let lines = records.map { JSONText.compact($0) }
        state.locked { state in
            let room = Debug.BundleCommand.maxLogLines - state.logLines[index].count
            if room > 0 { state.logLines[index] += lines.prefix(room) }
        }
    }

    static func left(_ duration: Duration) -> String {
        Format.duration(max(duration, .zero))
    }

    /// The manifest: what was captured, from where, when, how, what was redacted and what failed.
    struct Manifest: Encodable {
        struct Instance: Encodable {
            var instance: String
            var url: String
            var directory: String
            var files: [String]
            var errors: [String]
            var profilingRestored: Bool?

            enum CodingKeys: String, CodingKey {
                case instance, url, directory, files, errors
                case profilingRestored = "profiling_restored"
            }
        }
        var kimeraVersion: String
        var startedAt: String
        var endedAt: String
        var durationRequestedS: Double
        var intervalS: Double
        var interrupted: Bool
        var instances: [Instance]
        var commands: [String]
        var redacted: [String]
        var errors: [String]

        enum CodingKeys: String, CodingKey {
            case instances, commands, redacted, errors, interrupted
            case kimeraVersion = "kimera_version"
            case startedAt = "started_at"
            case endedAt = "ended_at"
            case durationRequestedS = "duration_requested_s"
            case intervalS = "interval_s"
        }
    }

    enum ArchiveResult {
        case success(String)
        case failure(String)
    }

    /// Writes the files, redacted, to a staging directory and packs it with `tar -czf`.
    func archive(to destination: URL) -> ArchiveResult {
        let captured = state.locked { $0 }
        let manager = FileManager.default
        let staging = manager.temporaryDirectory.appendingPathComponent("kimera-bundle-\(UUID().uuidString)")
        let root = destination.deletingPathExtension().deletingPathExtension().lastPathComponent
        let top = staging.appendingPathComponent(root)
        defer { try? manager.removeItem(at: staging) }
        var instances: [Manifest.Instance] = []
        var fileCount = 0
        do {
            for index in names.indices {
                let directory = names[index].map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }
                let folder = top.appendingPathComponent(String(directory))
                var files = captured.files[index]
                if !captured.logLines[index].isEmpty || captured.files[index]["info.json"] != nil {
                    files["logs.ndjson"] = Data(captured.logLines[index].map { $0 + "\n" }.joined().utf8)
                }
                for (path, data) in files {
                    let url = folder.appendingPathComponent(path)
                    try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    // A CPU profile is binary (gzipped pprof) and holds function names and sample counts only:
                    // kept as the server sent it, where text redaction would corrupt it.
                    try (path.hasSuffix(".pb.gz") ? data : Redactor.redact(data, secrets: secrets)).write(to: url)
                    fileCount += 1
                }
                instances.append(
                    Manifest.Instance(
                        instance: names[index], url: fleet.clients[index].baseURL, directory: String(directory),
                        files: files.keys.sorted(), errors: captured.errors[index],
                        profilingRestored: captured.profilingRestored[index]))
            }
            let iso = ISO8601DateFormatter()
            let manifest = Manifest(
                kimeraVersion: KimeraVersion.current, startedAt: iso.string(from: captured.startedAt),
                endedAt: iso.string(from: captured.endedAt ?? Date()), durationRequestedS: window.seconds,
                intervalS: interval.seconds, interrupted: captured.interrupted, instances: instances,
                commands: captured.commands.sorted(), redacted: Redactor.description,
                errors: instances.flatMap { instance in instance.errors.map { "\(instance.instance): \($0)" } })
            try manager.createDirectory(at: top, withIntermediateDirectories: true)
            try Redactor.redact(Data(JSONText.pretty(manifest).utf8), secrets: secrets)
                .write(to: top.appendingPathComponent("manifest.json"))
        } catch {
            return .failure("cannot stage the bundle: \(error.localizedDescription)")
        }
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-czf", destination.path, "-C", staging.path, root]
        let errors = Pipe()
        tar.standardError = errors
        do {
            try tar.run()
            tar.waitUntilExit()
        } catch {
            return .failure("cannot run tar: \(error.localizedDescription)")
        }
        guard tar.terminationStatus == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return .failure("tar failed: \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        try? manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: destination.path)
        return .success(
            "bundle of \(names.count) instance(s), \(fileCount + 1) files\(captured.interrupted ? " (interrupted: partial window)" : "")"
        )
    }
}

/// What keeps secrets out of a bundle: the bearer token replaced wherever it appears, and the values of
/// secret-looking headers and query parameters masked (the server masks them too; this is the second lock).
enum Redactor {
    static let mask = "[REDACTED]"

    static let description = [
        "the bearer token this command sent (--token, --token-file, KIMERA_TOKEN or the context's token file), wherever it appears",
        "values of every header or field the server's redaction names a secret: "
            + (SecretNames.exact.map { "\($0)" } + SecretNames.fragments.map { "*\($0)*" }).joined(separator: ", "),
        "cpu.pb.gz is kept as the server sent it: a CPU profile holds function names and sample counts, never request data",
    ]

    /// A JSON member with a string value: its name and value are captured.
    static let member: NSRegularExpression = {
        // A constant pattern: it compiles.
        try! NSRegularExpression(pattern: #""([^"\\]{1,200})"(\s*:\s*)"((?:[^"\\]|\\.)*)""#)
    }()

    static func redact(_ data: Data, secrets: [String]) -> Data {
        var text = String(decoding: data, as: UTF8.self)
        for secret in secrets where !secret.isEmpty {
            text = text.replacingOccurrences(of: secret, with: mask)
        }
        // Values of secret-named members, by the vocabulary the server uses (SecretNames), last match first
        // so that earlier ranges stay valid.
        let matches = member.matches(in: text, range: NSRange(text.startIndex..., in: text))
        for match in matches.reversed() {
            guard let name = Range(match.range(at: 1), in: text), SecretNames.isSecret(text[name]),
                let value = Range(match.range(at: 3), in: text), text[value] != mask
            else { continue }
            text.replaceSubrange(value, with: mask)
        }
        return Data(text.utf8)
    }
}
