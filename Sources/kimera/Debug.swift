import ArgumentParser
import KimeraAPI
import KimeraClient
import KimeraModels

/// `kimera debug`: `/debug/info` summarised, plus `mode` and `log-level`.
struct Debug: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug",
        abstract: "Summarise /debug/info: mode, buffers, endpoints, recent errors.",
        discussion: """
            Examples:
              kimera debug
              kimera debug mode on --ttl 15m
              kimera debug log-level DEBUG --module kimera.core --ttl 10m
              kimera debug stacks
            """,
        subcommands: [Mode.self, LogLevel.self, Stacks.self, BundleCommand.self])

    @Flag(name: .customLong("no-logs"), help: "Leave out the recent log records.")
    var noLogs = false

    @Flag(name: .customLong("no-traces"), help: "Leave out the recent request traces.")
    var noTraces = false

    @Flag(name: .customLong("no-profiles"), help: "Leave out the recent profiles.")
    var noProfiles = false

    @OptionGroup var global: GlobalOptions

    /// How many recent errors and profiles the summary lists.
    static let recentRows = 8

    func perform(in context: CommandContext) async throws {
        let (logs, traces, profiles) = (!noLogs, !noTraces, !noProfiles)
        let read = { @Sendable (client: KimeraClient) in
            try await client.debugInfo(includeLogs: logs, includeTraces: traces, includeProfiles: profiles)
        }
        let output = context.output
        if context.isFleet {
            // A summary per instance, one after the other.
            try FleetOutput.sections(await context.fleet.each(read), output: output) { Self.summary($0, output: output) }
            return
        }
        let info = try await read(context.client)
        output.emit(info) { Self.summary(info, output: output) }
    }

    static func summary(_ info: DebugInfo, output: Output) -> String {
        let mode = info.mode
        let requests = info.requestStatistics
        func flag(_ on: Bool) -> String { on ? "on" : "off" }
        var text = Renderings.keyValues(
            [
                (
                    "mode",
                    Table.Cell(
                        "\(mode.name?.rawValue ?? "?") (debug \(flag(mode.debug)), performance \(flag(mode.performance)), "
                            + "profiling \(flag(mode.profiling)))", mode.debug ? .yellow : nil)
                ),
                ("version", Table.Cell("\(info.version), up \(Format.uptime(info.uptimeS))")),
                (
                    "requests",
                    Table.Cell(
                        "\(Format.count(requests.totalRequests)) total, \(requests.activeRequests) active, "
                            + "\(Format.rate(requests.requestsPerSecond))/s, errors \(Format.percent(requests.errorRate)), "
                            + "slow \(requests.slowRequests)")
                ),
                (
                    "cache",
                    Table.Cell(
                        info.cache.enabled
                            ? "hit rate \(Format.percent(info.cache.hitRate)), \(info.cache.entries) entries" : "off")
                ),
                (
                    "logging",
                    Table.Cell(
                        "root \(info.logging.rootLevel), ring \(info.logging.ringLevel), "
                            + "\(info.logging.ringDropped) dropped")
                ),
            ], output: output)

        var buffers = Table([
            Table.Column("BUFFER", flexible: true), Table.Column("USED", .right), Table.Column("LIMIT", .right),
            Table.Column("FILL", .right), Table.Column("BYTES", .right, optional: true),
            Table.Column("DROPPED", .right, optional: true),
        ])
        for (name, fill) in info.buffers.sorted(by: { $0.key < $1.key }) {
            let share = fill.limit > 0 ? Double(fill.used) / Double(fill.limit) : 0
            buffers.append([
                Table.Cell(name), Table.Cell(Format.count(fill.used)), Table.Cell(Format.count(fill.limit)),
                Table.Cell(Format.percent(share), share >= 0.9 ? .yellow : nil),
                Table.Cell(
                    fill.bytesLimit > 0
                        ? "\(Format.bytes(Int64(fill.bytes)))/\(Format.bytes(Int64(fill.bytesLimit)))" : "-"),
                Table.Cell(Format.count(Int(clamping: fill.dropped)), fill.dropped > 0 ? .yellow : nil),
            ])
        }
        text += "\n" + buffers.render(width: output.width, style: output.style)
        if !requests.endpoints.isEmpty {
            text += "\n" + Renderings.endpoints(requests).render(width: output.width, style: output.style)
        }

        let errors = (info.recentLogs ?? []).filter { $0.level >= .error }.suffix(recentRows)
        let failed = (info.requestTraces ?? []).filter { $0.status >= 500 }.suffix(recentRows)
        if info.recentLogs != nil || info.requestTraces != nil {
            text += "\n" + output.style.paint("Recent errors", .bold) + "\n"
            if errors.isEmpty && failed.isEmpty { text += "none\n" }
            if !errors.isEmpty {
                text += Renderings.logs(Array(errors)).render(width: output.width, style: output.style)
            }
            if !failed.isEmpty { text += Traces.table(Array(failed)).render(width: output.width, style: output.style) }
        }
        if let profiles = info.performanceProfiles, !profiles.isEmpty {
            text +=
                "\n"
                + Profile.table(Array(profiles.suffix(recentRows))).render(width: output.width, style: output.style)
        }
        return text
    }
}

extension Debug {
    /// `kimera debug stacks`: every thread's current stack (GET /debug/pprof/threads), as the server says it.
    struct Stacks: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "stacks",
            abstract: "Print every thread's current stack (GET /debug/pprof/threads): where a hung server is stuck.").underKimera

        @OptionGroup var global: GlobalOptions

        func perform(in context: CommandContext) async throws {
            let text = try await context.client.threadStacks()
            context.output.line(text.hasSuffix("\n") ? String(text.dropLast()) : text)
        }
    }

    /// `kimera debug mode on|off [--ttl 15m]`.
    struct Mode: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "mode",
            abstract: "Turn debug mode on or off (POST /debug/mode).",
            discussion: "With --ttl the change reverts by itself, e.g. kimera debug mode on --ttl 15m").underKimera

        @Argument(help: "on or off.")
        var state: Switch

        @Option(help: ArgumentHelp("Revert after this long: 30s, 15m, 2h (at most 24h).", valueName: "duration"))
        var ttl: String?

        @OptionGroup var global: GlobalOptions

        func validate() throws { try ArgumentCheck.ttl(ttl) }

        func perform(in context: CommandContext) async throws {
            let (enabled, ttl) = (state.enabled, self.ttl)
            if context.isFleet {
                try await FleetOutput.apply(in: context, { try await $0.setDebugMode(enabled, ttl: ttl) }) {
                    Self.describe($0)
                }
                return
            }
            let change = try await context.client.setDebugMode(state.enabled, ttl: ttl)
            context.output.emit(change) { Self.describe(change) }
        }

        static func describe(_ change: ModeChangeResponse) -> String {
            change.status.rawValue + (change.expiresAt.map { " until \($0)" } ?? "")
        }
    }

    /// `kimera debug log-level [LEVEL] [--module M] [--ttl 10m] [--unset]`.
    struct LogLevel: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "log-level",
            abstract: "List module log levels, set one (POST /debug/log-level) or clear one (--unset).",
            discussion: """
                Without LEVEL: the root level and every module's configured and effective level. With \
                --unset: the module's own level is removed, so it inherits again (without --module: the root \
                level returns to the mode's default).

                Examples:
                  kimera debug log-level
                  kimera debug log-level DEBUG --module kimera.core --ttl 10m
                  kimera debug log-level --unset --module kimera.core
                """).underKimera

        @Argument(
            help: ArgumentHelp(
                "TRACE, DEBUG, INFO, NOTICE, WARNING, ERROR or CRITICAL (any case).", valueName: "level"),
            completion: .list(KimeraModels.LogLevel.allowed))
        var level: KimeraModels.LogLevel?

        @Option(
            help: ArgumentHelp(
                "The logger label (default: root). Listing: only this module and those below it.", valueName: "module"))
        var module: String?

        @Option(help: ArgumentHelp("Revert after this long: 30s, 10m, 2h.", valueName: "duration"))
        var ttl: String?

        @Flag(help: "Clear the module's own level (DELETE /debug/log-level), so that it inherits again.")
        var unset = false

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if ttl != nil && level == nil { throw ValidationError("--ttl needs a LEVEL to set") }
            if unset && level != nil { throw ValidationError("--unset clears a level; give no LEVEL with it") }
            try ArgumentCheck.ttl(ttl)
        }

        func perform(in context: CommandContext) async throws {
            let output = context.output
            if unset {
                let module = self.module
                let describe: (LogLevelChangeResponse) -> String = { change in
                    "\(change.module): \(change.previous) → \(change.level) (inherited)"
                }
                if context.isFleet {
                    try await FleetOutput.apply(in: context, { try await $0.unsetLogLevel(module: module) }, describe: describe)
                } else {
                    let change = try await context.client.unsetLogLevel(module: module)
                    output.emit(change) { describe(change) }
                }
                return
            }
            if let level, context.isFleet {
                let (module, ttl) = (self.module, self.ttl)
                try await FleetOutput.apply(in: context, { try await $0.setLogLevel(level, module: module, ttl: ttl) })
                {
                    change in
                    "\(change.module): \(change.previous) → \(change.level)"
                        + (change.expiresAt.map { " until \($0)" } ?? "")
                }
                return
            }
            if let level {
                let change = try await context.client.setLogLevel(
                    level, module: module, ttl: ttl)
                output.emit(change) {
                    "\(change.module): \(change.previous) → \(change.level)"
                        + (change.expiresAt.map { " until \($0)" } ?? "")
                }
                return
            }
            var levels = try await context.client.logLevels()
            if let module {
                levels.modules = levels.modules.filter { $0.module == module || $0.module.hasPrefix(module + ".") }
            }
            output.emit(levels, records: levels.modules) {
                var table = Table([
                    Table.Column("MODULE", flexible: true, minWidth: 12), Table.Column("CONFIGURED"),
                    Table.Column("EFFECTIVE"), Table.Column("EXPIRES", flexible: true, optional: true),
                ])
                if module == nil {
                    table.append([
                        Table.Cell("root", .bold), Table.Cell(levels.root.rawValue), Table.Cell(levels.root.rawValue),
                        "-",
                    ])
                }
                for entry in levels.modules {
                    table.append([
                        Table.Cell(entry.module.isEmpty ? "(unlabelled)" : entry.module),
                        Table.Cell(entry.configured?.rawValue ?? "-"),
                        Table.Cell(entry.effective.rawValue, TextStyle.color(level: entry.effective)),
                        Table.Cell(entry.expiresAt ?? "-"),
                    ])
                }
                return table.render(width: output.width, style: output.style)
            }
        }
    }
}
