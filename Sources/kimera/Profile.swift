import ArgumentParser
import Foundation
import KimeraClient
import KimeraModels
import KimeraObservability

/// `kimera profile on|off|show|run`: the profiler of `/debug/profiling` and `/debug/profiles`;
/// `kimera profile cpu`: a sampled CPU profile (`/debug/pprof/profile`).
struct Profile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Turn profiling on or off, show profiles, profile for a while (run), or take a CPU profile.",
        discussion: """
            Examples:
              kimera profile on --ttl 10m
              kimera profile show --name vault.search_geoids
              kimera profile run --seconds 30   # enable, wait, show, restore
              kimera profile cpu --seconds 10 --file cpu.pb.gz --top 15
            """,
        subcommands: [On.self, Off.self, Show.self, Run.self, CPU.self])

    /// Recent profiles as a table.
    static func table(_ profiles: [KimeraModels.Profile]) -> Table {
        var table = Table([
            Table.Column("STARTED"), Table.Column("NAME", flexible: true, minWidth: 12), Table.Column("MS", .right),
            Table.Column("MEMORY Δ", .right, optional: true), Table.Column("PEAK RSS", .right, optional: true),
            Table.Column("REQUEST", flexible: true, minWidth: 8, optional: true),
        ])
        for profile in profiles {
            table.append([
                Table.Cell(Format.timeOfDay(profile.startedAt)), Table.Cell(profile.name),
                Table.Cell(Format.ms(profile.durationMs)),
                Table.Cell(Format.bytes(profile.memoryDeltaBytes)), Table.Cell(Format.bytes(profile.peakRSSBytes)),
                Table.Cell(profile.requestID ?? "-"),
            ])
        }
        return table
    }

    /// Per-function timing, slowest total first.
    static func functions(_ functions: [String: TimingStats]) -> Table {
        var table = Table(
            [Table.Column("FUNCTION", flexible: true, minWidth: 12)]
                + [
                    ("CALLS", false), ("AVG ms", true), ("P50 ms", false), ("P95 ms", true), ("P99 ms", false),
                    ("MAX ms", true),
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
                    })
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
            text += "\n" + functions(answer.functions).render(width: output.width, style: output.style)
        }
        return text
    }

    /// `kimera profile on [--ttl 10m]`.
    struct On: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "on", abstract: "Turn profiling on (POST /debug/profiling).")

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
            commandName: "off", abstract: "Turn profiling off (POST /debug/profiling).")

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
            commandName: "show", abstract: "Show recent profiles and per-function timing (GET /debug/profiles).")

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
            discussion: "Profiling is restored to its previous state even when interrupted.")

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

            init(_ profile: KimeraModels.Profile) {
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
                """)

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
            guard CPUProfiler.secondsRange.contains(seconds) else {
                throw ValidationError("--seconds must be from 1 to 300")
            }
            guard CPUProfiler.hzRange.contains(hz) else { throw ValidationError("--hz must be from 1 to 1000") }
            try ArgumentCheck.positive(top, flag: "--top")
            if let file, file.isEmpty { throw ValidationError("--file needs a path") }
            if let flame, flame.isEmpty { throw ValidationError("--flame needs a path") }
        }

        func perform(in context: CommandContext) async throws {
            context.output.notice("profiling the CPU for \(seconds)s at \(hz) Hz…")
            let bytes = try await context.client.cpuProfile(seconds: seconds, hz: hz)
            if let file {
                try Data(bytes).write(to: URL(fileURLWithPath: file))
                context.output.notice(
                    "wrote \(file) (\(Format.bytes(Int64(bytes.count)))); open it with: go tool pprof -top \(file)")
            }
            let summary = try PprofSummary(pprof: Array(bytes))
            if let flame {
                let seconds = String(format: "%.1f", Double(summary.durationNanos) / 1e9)
                let graph = FlameGraph(
                    title: "kimera CPU profile: \(summary.totalSamples) samples in \(seconds)s at \(hz) Hz",
                    stacks: summary.stacks)
                try Data(graph.svg().utf8).write(to: URL(fileURLWithPath: flame))
                context.output.notice("wrote \(flame); open it in a browser (hover for a frame's share, click to zoom)")
            }
            guard let rows = top ?? (file == nil && flame == nil ? 20 : nil) else { return }
            let entries = Array(summary.entries.prefix(rows))
            context.output.emit(CPUTop(summary, entries: entries), records: entries.map(CPUTop.Row.init)) {
                CPU.text(summary, entries: entries, output: context.output)
            }
        }

        static func text(_ summary: PprofSummary, entries: [PprofSummary.Entry], output: Output) -> String {
            let total = max(1, summary.totalSamples)
            var table = Table([
                Table.Column("SELF", .right), Table.Column("SELF%", .right), Table.Column("CUM", .right),
                Table.Column("CUM%", .right, optional: true),
                Table.Column("FUNCTION", flexible: true, minWidth: 20),
            ])
            for entry in entries {
                table.append([
                    Table.Cell(Format.count(entry.selfSamples)),
                    Table.Cell(Format.percent(Double(entry.selfSamples) / Double(total))),
                    Table.Cell(Format.count(entry.cumulativeSamples)),
                    Table.Cell(Format.percent(Double(entry.cumulativeSamples) / Double(total))),
                    Table.Cell(entry.function),
                ])
            }
            let seconds = Double(summary.durationNanos) / 1e9
            var text = "\(Format.count(summary.totalSamples)) samples in \(String(format: "%.1f", seconds))s"
            text += " (\(Format.ms(Double(summary.totalSamples) * Double(summary.periodNanos) / 1e6)) ms of CPU)\n"
            if !entries.isEmpty { text += "\n" + table.render(width: output.width, style: output.style) }
            return text
        }
    }

    /// `kimera profile cpu` as JSON: the totals and the top functions.
    struct CPUTop: Encodable {
        struct Row: Encodable {
            var function: String
            var selfSamples: Int
            var cumulativeSamples: Int

            init(_ entry: PprofSummary.Entry) {
                function = entry.function
                selfSamples = entry.selfSamples
                cumulativeSamples = entry.cumulativeSamples
            }

            enum CodingKeys: String, CodingKey {
                case function
                case selfSamples = "self_samples"
                case cumulativeSamples = "cumulative_samples"
            }
        }

        var samples: Int
        var periodNanos: Int64
        var durationNanos: Int64
        var top: [Row]

        init(_ summary: PprofSummary, entries: [PprofSummary.Entry]) {
            samples = summary.totalSamples
            periodNanos = summary.periodNanos
            durationNanos = summary.durationNanos
            top = entries.map(Row.init)
        }

        enum CodingKeys: String, CodingKey {
            case samples, top
            case periodNanos = "period_nanos"
            case durationNanos = "duration_nanos"
        }
    }
}
