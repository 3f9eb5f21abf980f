import ArgumentParser
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraClient

/// `kimera incidents`: the requests a server kept because they ended badly, with their DEBUG lines
/// (`GET /debug/incidents`, docs/OPERATIONS.md "Incidents").
struct Incidents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incidents",
        abstract: "List the requests kept because they were slow or failed (5xx), or show one with its logs.",
        discussion: """
            Examples:
              kimera incidents
              kimera incidents --cause slow --since 10m
              kimera incidents --route /kimera/geoids/search -o json
              kimera incidents show inc-3f2a9c0d1e4b5a67
            """,
        subcommands: [List.self, Show.self], defaultSubcommand: List.self)

    /// `kimera incidents [list]`: a row per incident (per instance across several servers).
    struct List: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List incidents, newest first (the default subcommand).",
            discussion: """
                An incident is a request slower than the slow threshold (cause slow), answered with a 5xx \
                (cause error) or sent with X-Kimera-Debug (cause escalated: kimera get PATH --debug), kept \
                with its trace and every log record it wrote, DEBUG included. Repeats of one route and cause \
                within a minute count on one entry (COUNT).
                """).underKimera

        @Option(help: ArgumentHelp("Only this route template, e.g. /kimera/geoids/search.", valueName: "route"))
        var route: String?

        @Option(help: ArgumentHelp("Only this cause: slow, error or escalated.", valueName: "cause"))
        var cause: IncidentCause?

        @Option(
            help: ArgumentHelp("Only incidents seen within this long: 30s, 10m, 2h.", valueName: "duration"),
            transform: DurationArgument.parse)
        var since: DurationArgument?

        @Option(help: ArgumentHelp("At most this many (server default 50, at most 1000).", valueName: "n"))
        var limit: Int?

        @Flag(
            name: [.customShort("f"), .long],
            help:
                "Then keep polling every 2 s and print each incident kept or counted again, a line each, until Ctrl-C.")
        var follow = false

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try ArgumentCheck.positive(limit, flag: "--limit")
        }

        func perform(in context: CommandContext) async throws {
            let (route, cause, since, limit) = (route, cause?.rawValue, since?.text, limit)
            let results = await context.fleet.each {
                try await $0.incidents(route: route, cause: cause, since: since, limit: limit)
            }
            let output = context.output
            if !context.isFleet, let failure = results.first?.error { throw failure }
            let rows = results.map { FleetOutput.Row<IncidentList>($0, value: $0.value) }
            let fleet = context.isFleet
            let render = {
                var table = Table(
                    (fleet ? [Table.Column("INSTANCE")] : []) + [
                        Table.Column("ID"), Table.Column("CAUSE"), Table.Column("LAST SEEN"),
                        Table.Column("COUNT", .right), Table.Column("STATUS", .right), Table.Column("MS", .right),
                        Table.Column("ROUTE", flexible: true, minWidth: 8),
                        Table.Column("REQUEST", flexible: true, minWidth: 8, optional: true),
                    ])
                var total = 0
                for result in results {
                    for incident in result.value?.incidents ?? [] {
                        total += 1
                        table.append(
                            (fleet ? [Table.Cell(result.instance)] : []) + [
                                Table.Cell(incident.id),
                                Table.Cell(incident.cause.rawValue, incident.cause == .error ? .red : .yellow),
                                Table.Cell(Format.timeOfDay(incident.lastSeen)),
                                Table.Cell(Format.count(incident.count)),
                                Table.Cell(String(incident.status)), Table.Cell(Format.ms(incident.durationMs)),
                                Table.Cell(incident.route), Table.Cell(incident.requestID),
                            ])
                    }
                }
                if total == 0 { return "no incidents\n" }
                return table.render(width: output.width, style: output.style)
            }
            if fleet {
                output.emit(FleetOutput.Rows(instances: rows), records: rows, table: render)
            } else if let list = results.first?.value {
                output.emit(list, records: list.incidents, table: render)
            }
            if follow {
                try await followIncidents(in: context, seen: results)
                return
            }
            if let exit = FleetOutput.summarise(results, output: output) { throw exit }
        }

        /// How often `--follow` asks.
        static let followInterval = Duration.seconds(2)

        /// `-f`: polls the same query and prints a line (an NDJSON record in the JSON modes) for each entry
        /// that is new or whose count grew since the last answer; a server that does not answer is a notice.
        private func followIncidents(in context: CommandContext, seen first: [InstanceResult<IncidentList>])
            async throws
        {
            let (route, cause, since, limit) = (route, cause?.rawValue, since?.text, limit)
            let output = context.output
            var seen: [String: Int] = [:]
            for result in first {
                for incident in result.value?.incidents ?? [] {
                    seen[result.instance + " " + incident.id] = incident.count
                }
            }
            while !Task.isCancelled {
                do { try await Task.sleep(for: Self.followInterval) } catch { return }
                let results = await context.fleet.each {
                    try await $0.incidents(route: route, cause: cause, since: since, limit: limit)
                }
                for result in results {
                    if let error = result.error {
                        output.notice("\(result.instance): \(error)")
                        continue
                    }
                    // Oldest first, so that lines come in the order things happened.
                    for incident in (result.value?.incidents ?? []).reversed() {
                        let key = result.instance + " " + incident.id
                        guard seen[key] != incident.count else { continue }
                        seen[key] = incident.count
                        let instance = context.isFleet ? result.instance : nil
                        if output.format == .table {
                            output.line(
                                ((instance.map { [$0] } ?? [])
                                    + [
                                        Format.timeOfDay(incident.lastSeen), incident.id,
                                        output.style.paint(incident.cause.rawValue, incident.cause == .error ? .red : .yellow),
                                        "×\(incident.count)", String(incident.status),
                                        "\(Format.ms(incident.durationMs)) ms", incident.route, incident.lastRequestID,
                                    ]).joined(separator: "  "))
                        } else {
                            output.line(
                                instance.map { JSONText.compact(InstanceTagged(instance: $0, record: incident)) }
                                    ?? JSONText.compact(incident))
                        }
                    }
                }
            }
        }
    }

    /// `kimera incidents show ID`: the incident's trace, its log records and the figures when it was kept.
    struct Show: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show one incident: why it was kept, its request, its route's latency then, and its log records.",
            discussion: "Example: kimera incidents show inc-3f2a9c0d1e4b5a67").underKimera

        @Argument(help: ArgumentHelp("The incident's id, from kimera incidents.", valueName: "id"))
        var id: String

        @OptionGroup var global: GlobalOptions

        func perform(in context: CommandContext) async throws {
            let id = id
            // Across several servers, the one that holds it.
            let results = await context.fleet.each { try await $0.incident(id: id) }
            guard let found = results.first(where: { $0.value != nil }), let incident = found.value else {
                throw results.first?.error ?? ClientError.transport(url: "", detail: "no server answered")
            }
            let output = context.output
            output.emit(incident) {
                let summary = incident.summary
                var pairs: [(String, Table.Cell)] = [
                    ("incident", Table.Cell(summary.id)),
                    (
                        "cause",
                        Table.Cell("\(summary.cause): \(incident.reason)", summary.cause == .error ? .red : .yellow)
                    ),
                    (
                        "request",
                        Table.Cell(
                            "\(summary.method) \(incident.trace.path) → \(summary.status) in \(Format.ms(summary.durationMs)) ms"
                        )
                    ),
                    ("request id", Table.Cell(summary.requestID)),
                    ("route", Table.Cell(summary.route)),
                    (
                        "seen",
                        Table.Cell("\(Format.count(summary.count))× from \(summary.firstSeen) to \(summary.lastSeen)")
                    ),
                    ("mode", Table.Cell(incident.mode.rawValue)),
                    (
                        "process",
                        Table.Cell(
                            "RSS \(Format.bytes(Int64(incident.process.rssBytes))), \(incident.process.threads) threads, "
                                + "\(incident.process.activeRequests) requests in flight")
                    ),
                ]
                if context.isFleet { pairs.insert(("instance", Table.Cell(found.instance)), at: 0) }
                if let latency = incident.routeLatency {
                    pairs.append(
                        (
                            "route latency",
                            Table.Cell(
                                "p50 \(Format.ms(latency.p50Ms)) ms, p99 \(Format.ms(latency.p99Ms)) ms, "
                                    + "max \(Format.ms(latency.maxTimeMs)) ms over \(Format.count(latency.count)) requests"
                            )
                        ))
                }
                var text = Renderings.keyValues(pairs, output: output)
                let dropped = incident.logsDropped > 0 ? " (\(incident.logsDropped) more not kept)" : ""
                text += "\n\(incident.logs.count) log records\(dropped):\n"
                for record in incident.logs { text += Renderings.logLine(record, style: output.style) + "\n" }
                return text
            }
        }
    }
}

extension IncidentCause: ExpressibleByArgument {}
