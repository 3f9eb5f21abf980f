import ArgumentParser
import Foundation
import KimeraAPI
import KimeraClient
import KimeraModels
import KimeraObservability

/// `kimera profile on|off|show|run`: the profiler of `/debug/profiling` and `/debug/profiles`;
/// `kimera profile cpu`: a sampled CPU profile (`/debug/pprof/profile`).
struct Profile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract:
            "Turn profiling on or off, show profiles, profile for a while (run), or take a CPU or allocation profile.",
        discussion: """
            Examples:
              kimera profile on --ttl 10m
              kimera profile show --name vault.search_geoids
              kimera profile run --seconds 30   # enable, wait, show, restore
              kimera profile cpu --seconds 10 --file cpu.pb.gz --top 15
              kimera profile allocs --seconds 10 --top 15
            """,
        subcommands: [On.self, Off.self, Show.self, Run.self, CPU.self, Allocs.self])

    /// Recent profiles as a table.
    static func table(_ profiles: [KimeraAPI.Profile]) -> Table {
        var table = Table([
            Table.Column("STARTED"), Table.Column("NAME", flexible: true, minWidth: 12), Table.Column("MS", .right),
            Table.Column("ALLOCS", .right, optional: true), Table.Column("ALLOC BYTES", .right, optional: true),
            Table.Column("REQUEST", flexible: true, minWidth: 8, optional: true),
        ])
        for profile in profiles {
            table.append([
                Table.Cell(Format.timeOfDay(profile.startedAt)), Table.Cell(profile.name),
                Table.Cell(Format.ms(profile.durationMs)),
                Table.Cell(profile.allocations.map { Format.count(Int($0)) } ?? "-"),
                Table.Cell(profile.allocatedBytes.map { Format.bytes($0) } ?? "-"),
                Table.Cell(profile.requestID ?? "-"),
            ])
        }
        return table
    }

    /// Per-function timing and allocations per call, slowest total first.
    static func functions(_ functions: [String: TimingStats], allocations: [String: AllocationStats]) -> Table {
        var table = Table(
            [Table.Column("FUNCTION", flexible: true, minWidth: 12)]
                + [
                    ("CALLS", false), ("AVG ms", true), ("P50 ms", false), ("P95 ms", true), ("P99 ms", false),
                    ("MAX ms", true), ("ALLOCS/CALL", true), ("BYTES/CALL", true),
                ]
                .map { Table.Column($0.0, .right, optional: $0.1) })
        let sorted = functions.sorted {
            let left = Double($0.value.count) * $0.value.avgTimeMs
            let right = Double($1.value.count) * $1.value.avgTimeMs
            return left != right ? left > right : $0.key < $1.key
        }
        for (name, timing) in sorted {
            table.append(
                [Table.Cell(name), Table.Cell(Format.count(timing.count))]
                    + [timing.avgTimeMs, timing.p50Ms, timing.p95Ms, timing.p99Ms, timing.maxTimeMs].map {
                        Table.Cell(Format.ms($0))
                    }
                    + [
                        Table.Cell(allocations[name].map { Format.count(Int($0.allocationsPerCall.rounded())) } ?? "-"),
                        Table.Cell(allocations[name].map { Format.bytes(Int64($0.allocatedBytesPerCall.rounded())) } ?? "-"),
                    ])
        }
        return table
    }

    static func show(_ answer: ProfilesResponse, output: Output) {
        output.emit(answer, records: answer.profiles) { text(answer, output: output) }
    }

    static func text(_ answer: ProfilesResponse, output: Output) -> String {
        var text = "profiling \(answer.enabled ? "on" : "off"), \(answer.count) profiles\n"
        if !answer.profiles.isEmpty {
            text += "\n" + table(answer.profiles).render(width: output.width, style: output.style)
        }
        if !answer.functions.isEmpty {
            text +=
                "\n" + functions(answer.functions.additionalProperties, allocations: answer.allocations.additionalProperties)
                .render(width: output.width, style: output.style)
        }
        return text
    }

    /// `kimera profile on [--ttl 10m]`.
    struct On: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "on", abstract: "Turn profiling on (POST /debug/profiling).").underKimera

        @Option(help: ArgumentHelp("Turn it off again after this long: 30s, 10m, 2h.", valueName: "duration"))
        var ttl: String?

        @OptionGroup var global: GlobalOptions

        func validate() throws { try ArgumentCheck.ttl(ttl) }

        func perform(in context: CommandContext) async throws {
            if context.isFleet {
                let ttl = self.ttl
                try await FleetOutput.apply(in: context, { try await $0.setProfiling(true, ttl: ttl) }) {
                    Debug.Mode.describe($0)
                }
                return
            }
            let change = try await context.client.setProfiling(true, ttl: ttl)
            context.output.emit(change) { Debug.Mode.describe(change) }
        }
    }

    /// `kimera profile off`.
    struct Off: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "off", abstract: "Turn profiling off (POST /debug/profiling).").underKimera

        @OptionGroup var global: GlobalOptions

        func perform(in context: CommandContext) async throws {
            if context.isFleet {
                try await FleetOutput.apply(in: context, { try await $0.setProfiling(false) }) {
                    Debug.Mode.describe($0)
                }
                return
            }
            let change = try await context.client.setProfiling(false)
            context.output.emit(change) { Debug.Mode.describe(change) }
        }
    }

    /// `kimera profile show [--name N] [--limit N]`.
    struct Show: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Show recent profiles and per-function timing (GET /debug/profiles).").underKimera

        @Option(help: ArgumentHelp("Only profiles of this function.", valueName: "name"))
        var name: String?

        @Option(help: ArgumentHelp("How many profiles (server default 20, at most 1000).", valueName: "n"))
        var limit: Int?

        @OptionGroup var global: GlobalOptions

        func validate() throws { try ArgumentCheck.positive(limit, flag: "--limit") }

        func perform(in context: CommandContext) async throws {
            if context.isFleet {
                let (limit, name) = (limit, name)
                let results = await context.fleet.each { try await $0.profiles(limit: limit, name: name) }
                try FleetOutput.sections(results, output: context.output) { Profile.text($0, output: context.output) }
                return
            }
            Profile.show(try await context.client.profiles(limit: limit, name: name), output: context.output)
        }
    }

    /// `kimera profile run --seconds S`: enable, wait, read what was profiled meanwhile, restore.
    struct Run: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Profile for a while: enable, wait, show the profiles taken meanwhile, restore.",
            discussion: "Profiling is restored to its previous state even when interrupted.").underKimera

        @Option(help: ArgumentHelp("How long to profile.", valueName: "seconds"))
        var seconds: Double

        @Option(help: ArgumentHelp("Only profiles of this function.", valueName: "name"))
        var name: String?

        @OptionGroup var global: GlobalOptions

        /// The most profiles one run reports (the server keeps 1000).
        static let maxProfiles = 1000

        func validate() throws {
            guard seconds.isFinite, seconds > 0, seconds <= 86_400 else {
                throw ValidationError("--seconds must be more than 0 and at most 86400")
            }
        }

        func perform(in context: CommandContext) async throws {
            if context.isFleet { return try await performOnFleet(context) }
            let client = context.client
            let before = try await Self.start(client, name: name)
            try await wait(context) {
                if !before.enabled { await Task { _ = try? await client.setProfiling(false) }.value }
            }
            Profile.show(try await Self.finish(client, before: before, name: name), output: context.output)
        }

        /// Every instance at once: each is enabled (if it was off), the window is waited once, then each is
        /// read and restored; a section per instance, and the instances that failed on stderr.
        private func performOnFleet(_ context: CommandContext) async throws {
            let name = name
            let fleet = context.fleet
            let started = await fleet.each { try await Self.start($0, name: name) }
            let before = Dictionary(started.map { ($0.url, $0.result) }, uniquingKeysWith: { first, _ in first })
            let restore = { @Sendable in
                _ = await fleet.each { client in
                    if case .success(let prior) = before[client.baseURL], !prior.enabled {
                        _ = try await client.setProfiling(false)
                    }
                }
            }
            try await wait(context) { await Task { await restore() }.value }
            let results = await fleet.each { client in
                try await Self.finish(client, before: try before[client.baseURL]!.get(), name: name)
            }
            try FleetOutput.sections(results, output: context.output) { Profile.text($0, output: context.output) }
        }

        /// Reads what was profiled so far and turns profiling on if it was off.
        static func start(_ client: KimeraClient, name: String?) async throws -> ProfilesResponse {
            let before = try await client.profiles(limit: maxProfiles, name: name)
            if !before.enabled { _ = try await client.setProfiling(true) }
            return before
        }

        /// The profiles taken since `before`, with profiling restored to what it was.
        static func finish(_ client: KimeraClient, before: ProfilesResponse, name: String?) async throws
            -> ProfilesResponse
        {
            var after = try await client.profiles(limit: maxProfiles, name: name)
            if !before.enabled { _ = try await client.setProfiling(false) }
            let seen = Set(before.profiles.map(Key.init))
            after.profiles = after.profiles.filter { !seen.contains(Key($0)) }
            after.count = after.profiles.count
            after.enabled = before.enabled
            return after
        }

        /// Waits the window; interrupted, runs `restore` (outside the cancelled task) and rethrows.
        private func wait(_ context: CommandContext, restore: () async -> Void) async throws {
            context.output.notice("profiling for \(Format.duration(.milliseconds(Int64(seconds * 1000))))…")
            do {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            } catch {
                await restore()
                throw error
            }
        }

        /// What identifies one profile across two reads.
        struct Key: Hashable {
            var name: String
            var startedAt: String
            var requestID: String?

            init(_ profile: KimeraAPI.Profile) {
                name = profile.name
                startedAt = profile.startedAt
                requestID = profile.requestID
            }
        }
    }

    /// `kimera profile cpu [--seconds 30] [--hz 100] [--file FILE] [--flame FILE.svg] [--top N]`: samples the server's CPU, writes
    /// the pprof file and/or prints the functions with the most samples.
    struct CPU: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "cpu",
            abstract:
                "Take a CPU profile (GET /debug/pprof/profile): write it as pprof and/or print the top functions.",
            discussion: """
                The server samples every thread on the CPU for --seconds and answers when it is done. Without --file or --flame the top 20 functions are printed; with --file the gzipped pprof profile is written there (open it with `go tool pprof -top FILE` or `go tool pprof -http=: FILE`); with --flame an interactive SVG flame graph is drawn there (the root at the bottom, a frame's width its share of the samples; hover for details, click a frame to zoom, click the title to zoom out); --top N prints the table too. SELF counts the samples in which the function was running, CUM those in which it was on the stack.

                Examples:
                  kimera profile cpu --seconds 10
                  kimera profile cpu --seconds 30 --hz 200 --file cpu.pb.gz
                  kimera profile cpu --file cpu.pb.gz --top 10
                  kimera profile cpu --seconds 10 --flame cpu.svg
                """).underKimera

        @Option(help: ArgumentHelp("How long to sample, 1 to 300 seconds.", valueName: "seconds"))
        var seconds = 30

        @Option(help: ArgumentHelp("Samples per second of CPU time, 1 to 1000.", valueName: "hz"))
        var hz = 100

        @Option(help: ArgumentHelp("Write the gzipped pprof profile to this file.", valueName: "file"))
        var file: String?

        @Option(
            help: ArgumentHelp(
                "Write an interactive SVG flame graph here (open it in a browser: hover for a frame's share, click to zoom).",
                valueName: "file.svg"))
        var flame: String?

        @Option(
            help: ArgumentHelp(
                "Print the N functions with the most samples (default 20 without --file or --flame).", valueName: "n"))
        var top: Int?

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try WindowProfile.validate(seconds: seconds, top: top, file: file, flame: flame)
            guard CPUProfiler.hzRange.contains(hz) else { throw ValidationError("--hz must be from 1 to 1000") }
        }

        func perform(in context: CommandContext) async throws {
            context.output.notice("profiling the CPU for \(seconds)s at \(hz) Hz…")
            let (seconds, hz) = (seconds, hz)
            try await WindowProfile(
                file: file, flame: flame, top: top, unit: .samples,
                fetch: { try await $0.cpuProfile(seconds: seconds, hz: hz) },
                title: { "kimera CPU profile: \($0.totalSamples) samples in \($1)s at \(hz) Hz" }, text: CPU.text
            ).run(in: context)
        }

        static func text(_ summary: PprofSummary, entries: [PprofSummary.Entry], output: Output) -> String {
            let seconds = Double(summary.durationNanos) / 1e9
            var text = "\(Format.count(summary.totalSamples)) samples in \(String(format: "%.1f", seconds))s"
            text += " (\(Format.ms(Double(summary.totalSamples) * Double(summary.periodNanos) / 1e6)) ms of CPU)\n"
            return text + Profile.topTable(summary, entries: entries, output: output) { Format.count($0) }
        }
    }

    /// The top functions as a table (SELF, SELF%, CUM, CUM%, FUNCTION), each count shown by `cell`; "" when
    /// there are none.
    static func topTable(
        _ summary: PprofSummary, entries: [PprofSummary.Entry], output: Output, cell: (Int) -> String
    ) -> String {
        guard !entries.isEmpty else { return "" }
        let total = max(1, summary.totalSamples)
        var table = Table([
            Table.Column("SELF", .right), Table.Column("SELF%", .right), Table.Column("CUM", .right),
            Table.Column("CUM%", .right, optional: true),
            Table.Column("FUNCTION", flexible: true, minWidth: 20),
        ])
        for entry in entries {
            table.append([
                Table.Cell(cell(entry.selfSamples)),
                Table.Cell(Format.percent(Double(entry.selfSamples) / Double(total))),
                Table.Cell(cell(entry.cumulativeSamples)),
                Table.Cell(Format.percent(Double(entry.cumulativeSamples) / Double(total))),
                Table.Cell(entry.function),
            ])
        }
        return "\n" + table.render(width: output.width, style: output.style)
    }

    /// Writes a fetched profile to `file` (as it came) and its flame graph to `flame`, where asked.
    static func write(
        _ bytes: Data, summary: PprofSummary, file: String?, flame: String?, title: String, output: Output
    ) throws {
        if let file {
            try bytes.write(to: URL(fileURLWithPath: file))
            output.notice(
                "wrote \(file) (\(Format.bytes(Int64(bytes.count)))); open it with: go tool pprof -top \(file)")
        }
        if let flame {
            let graph = FlameGraph(title: title, stacks: summary.stacks)
            try Data(graph.svg().utf8).write(to: URL(fileURLWithPath: flame))
            output.notice("wrote \(flame); open it in a browser (hover for a frame's share, click to zoom)")
        }
    }

    /// `kimera profile allocs [--seconds 30] [--rate BYTES] [--file FILE] [--flame FILE.svg] [--top N]`:
    /// samples the server's allocations with their stacks, writes the pprof file and/or prints the functions
    /// that allocate the most bytes.
    struct Allocs: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "allocs",
            abstract:
                "Take an allocation profile (GET /debug/pprof/allocs): write it as pprof and/or print the top allocating functions.",
            discussion: """
                For --seconds the server records about one allocation per --rate bytes allocated, with the stack that made it, and scales the samples to estimates of every allocation (as Go's heap profile does). Without --file or --flame the top 20 functions by bytes are printed; with --file the gzipped pprof profile is written there (`go tool pprof -top FILE`; sample types alloc_objects and alloc_space); with --flame an SVG flame graph of the bytes. SELF counts the bytes a function allocated itself, CUM those allocated below it.

                Examples:
                  kimera profile allocs --seconds 10
                  kimera profile allocs --seconds 30 --rate 4096 --file allocs.pb.gz --top 10
                  kimera profile allocs --seconds 10 --flame allocs.svg
                """).underKimera

        @Option(help: ArgumentHelp("How long to sample, 1 to 300 seconds.", valueName: "seconds"))
        var seconds = 30

        @Option(
            help: ArgumentHelp(
                "Bytes allocated per sample on average, 1 to 67108864 (smaller: more samples, more cost).",
                valueName: "bytes"))
        var rate = CPUProfiler.defaultRate

        @Option(help: ArgumentHelp("Write the gzipped pprof profile to this file.", valueName: "file"))
        var file: String?

        @Option(help: ArgumentHelp("Write an interactive SVG flame graph of the bytes here.", valueName: "file.svg"))
        var flame: String?

        @Option(
            help: ArgumentHelp(
                "Print the N functions allocating the most bytes (default 20 without --file or --flame).",
                valueName: "n"))
        var top: Int?

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try WindowProfile.validate(seconds: seconds, top: top, file: file, flame: flame)
            guard CPUProfiler.rateRange.contains(rate) else {
                throw ValidationError("--rate must be from 1 to \(CPUProfiler.rateRange.upperBound)")
            }
        }

        func perform(in context: CommandContext) async throws {
            context.output.notice("sampling allocations for \(seconds)s, one per \(Format.bytes(Int64(rate)))…")
            let (seconds, rate) = (seconds, rate)
            try await WindowProfile(
                file: file, flame: flame, top: top, unit: .bytes,
                fetch: { try await $0.allocationProfile(seconds: seconds, rate: rate) },
                title: { "kimera allocations: \(Format.bytes(Int64($0.totalSamples))) in \($1)s" }, text: Allocs.text
            ).run(in: context)
        }

        static func text(_ summary: PprofSummary, entries: [PprofSummary.Entry], output: Output) -> String {
            let seconds = Double(summary.durationNanos) / 1e9
            var text = "\(Format.bytes(Int64(summary.totalSamples))) allocated (estimated)"
            text += " in \(String(format: "%.1f", seconds))s, sampled every \(Format.bytes(summary.periodNanos))\n"
            return text + Profile.topTable(summary, entries: entries, output: output) { Format.bytes(Int64($0)) }
        }
    }

    /// What `kimera profile cpu` and `kimera profile allocs` share: take the profile over its window, write the
    /// pprof file and flame graph, print the top functions. Against several servers each is profiled at once,
    /// each writes its own files (the instance in the name: `cpu.pb.gz` → `cpu-127.0.0.1-8001.pb.gz`), the
    /// top table merges their samples, and the servers that failed are named on stderr with the worst exit code.
    struct WindowProfile {
        var file: String?
        var flame: String?
        var top: Int?
        var unit: PprofTop.Unit
        var fetch: @Sendable (KimeraClient) async throws -> Data
        /// The flame graph's title, given the profile and its window in seconds ("10.0").
        var title: (PprofSummary, String) -> String
        var text: (PprofSummary, [PprofSummary.Entry], Output) -> String

        /// The options `profile cpu` and `profile allocs` share, checked alike.
        static func validate(seconds: Int, top: Int?, file: String?, flame: String?) throws {
            guard CPUProfiler.secondsRange.contains(seconds) else {
                throw ValidationError("--seconds must be from 1 to 300")
            }
            try ArgumentCheck.positive(top, flag: "--top")
            if let file, file.isEmpty { throw ValidationError("--file needs a path") }
            if let flame, flame.isEmpty { throw ValidationError("--flame needs a path") }
        }

        private func title(_ summary: PprofSummary) -> String {
            title(summary, String(format: "%.1f", Double(summary.durationNanos) / 1e9))
        }

        func run(in context: CommandContext) async throws {
            let output = context.output
            let rows = top ?? (file == nil && flame == nil ? 20 : nil)
            guard context.isFleet else {
                let bytes = try await fetch(context.client)
                let summary = try read(bytes)
                try Profile.write(bytes, summary: summary, file: file, flame: flame, title: title(summary), output: output)
                guard let rows else { return }
                let entries = Array(summary.entries.prefix(rows))
                let top = PprofTop(summary, entries: entries, unit: unit)
                output.emit(top, records: top.top) { text(summary, entries, output) }
                return
            }
            let results = await context.fleet.each(fetch)
            var summaries: [PprofSummary] = []
            var instances: [PprofTop.Instance] = []
            for result in results {
                var row = PprofTop.Instance(instance: result.instance, url: result.url, unit: unit)
                switch result.result {
                case .success(let bytes):
                    let summary = try read(bytes)
                    summaries.append(summary)
                    row.total = summary.totalSamples
                    row.file = file.map { Profile.instancePath($0, instance: result.instance) }
                    row.flame = flame.map { Profile.instancePath($0, instance: result.instance) }
                    try Profile.write(
                        bytes, summary: summary, file: row.file, flame: row.flame,
                        title: "\(title(summary)) (\(result.instance))", output: output)
                case .failure(let error):
                    row.error = error.message
                    row.exitCode = CLIExit.from(error).code
                }
                instances.append(row)
            }
            if let rows, !summaries.isEmpty {
                let merged = PprofSummary(merging: summaries)
                let entries = Array(merged.entries.prefix(rows))
                var top = PprofTop(merged, entries: entries, unit: unit)
                top.instances = instances
                output.emit(top, records: top.top) {
                    "merged from \(summaries.count) of \(results.count) instances: " + text(merged, entries, output)
                }
            }
            if let exit = FleetOutput.summarise(results, output: output) { throw exit }
        }

        private func read(_ bytes: Data) throws -> PprofSummary {
            do {
                return try PprofSummary(pprof: Array(bytes), lastValue: unit == .bytes)
            } catch {
                throw CLIExit.failure("the server's profile is not a pprof profile: \(error.description)")
            }
        }
    }

    /// `path` with the instance before its extensions: `cpu.pb.gz`, `127.0.0.1:8001` → `cpu-127.0.0.1-8001.pb.gz`.
    static func instancePath(_ path: String, instance: String) -> String {
        let url = URL(fileURLWithPath: path)
        let name = url.lastPathComponent
        let stem = name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let safe = String(
            instance.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" ? $0 : "-" }
        ).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        let renamed = stem.count == 2 && !stem[0].isEmpty ? "\(stem[0])-\(safe).\(stem[1])" : "\(name)-\(safe)"
        let directory = (path as NSString).deletingLastPathComponent
        return directory.isEmpty ? renamed : (directory as NSString).appendingPathComponent(renamed)
    }

    /// `kimera profile cpu` and `kimera profile allocs` as JSON: the totals and the top functions, counted in
    /// samples (`samples`, `period_nanos`, rows `self_samples`, `cumulative_samples`) or in bytes
    /// (`allocated_bytes`, `rate_bytes`, rows `self_bytes`, `cumulative_bytes`).
    struct PprofTop: Encodable {
        enum Unit: Sendable {
            case samples, bytes
            var suffix: String { self == .samples ? "samples" : "bytes" }
            var totalName: String { self == .samples ? "samples" : "allocated_bytes" }
        }

        struct Row: Encodable {
            var entry: PprofSummary.Entry
            var unit: Unit

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(entry.function, forKey: Key("function"))
                try container.encode(entry.selfSamples, forKey: Key("self_\(unit.suffix)"))
                try container.encode(entry.cumulativeSamples, forKey: Key("cumulative_\(unit.suffix)"))
            }
        }

        /// One server of a fleet profile: its total, the files written for it, or why it has none.
        /// One server of a fleet profile: its total (`samples` or `allocated_bytes`), the files written for it,
        /// or why it has none (`error`, `exit_code`).
        struct Instance: Encodable {
            var instance: String
            var url: String
            var unit: Unit
            var total: Int?
            var file: String?
            var flame: String?
            var error: String?
            var exitCode: Int32?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(instance, forKey: Key("instance"))
                try container.encode(url, forKey: Key("url"))
                try container.encodeIfPresent(total, forKey: Key(unit.totalName))
                try container.encodeIfPresent(file, forKey: Key("file"))
                try container.encodeIfPresent(flame, forKey: Key("flame"))
                try container.encodeIfPresent(error, forKey: Key("error"))
                try container.encodeIfPresent(exitCode, forKey: Key("exit_code"))
            }
        }

        var summary: PprofSummary
        var unit: Unit
        var top: [Row]
        /// Against a fleet: each server's part (the totals and `top` are merged across them).
        var instances: [Instance]?

        init(_ summary: PprofSummary, entries: [PprofSummary.Entry], unit: Unit) {
            self.summary = summary
            self.unit = unit
            top = entries.map { Row(entry: $0, unit: unit) }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(summary.totalSamples, forKey: Key(unit.totalName))
            try container.encode(summary.periodNanos, forKey: Key(unit == .samples ? "period_nanos" : "rate_bytes"))
            try container.encode(summary.durationNanos, forKey: Key("duration_nanos"))
            try container.encode(top, forKey: Key("top"))
            try container.encodeIfPresent(instances, forKey: Key("instances"))
        }

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(_ name: String) { stringValue = name }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
    }
}
