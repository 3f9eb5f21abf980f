import ArgumentParser
import KimeraClient

/// `kimera traces`: `/debug/traces`, or with `--stats` the per-endpoint table only.
struct Traces: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "traces",
        abstract: "Show recent request traces (/debug/traces), or per-endpoint statistics (--stats).",
        discussion: """
            Examples:
              kimera traces --slow
              kimera traces --path /kimera --status 404 --limit 20
              kimera traces --stats
            """).underKimera

    @Option(help: ArgumentHelp("How many traces, newest first (server default 50, at most 5000).", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Only paths containing this text.", valueName: "text"))
    var path: String?

    @Option(help: ArgumentHelp("Only this HTTP method.", valueName: "method"), completion: .list(Self.methods))
    var method: String?

    @Option(help: ArgumentHelp("Only this HTTP status (100-599).", valueName: "code"))
    var status: Int?

    @Flag(help: "Only requests over the slow threshold.")
    var slow = false

    @Option(
        name: .customLong("min-ms"), help: ArgumentHelp("Only requests that took at least this long.", valueName: "ms"))
    var minMs: Double?

    @Option(name: .customLong("request-id"), help: ArgumentHelp("Only this request.", valueName: "id"))
    var requestID: String?

    @Flag(help: "Only the per-endpoint table: count, p50, p95, p99, max, errors.")
    var stats = false

    @OptionGroup var global: GlobalOptions

    static let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

    func validate() throws {
        try ArgumentCheck.positive(limit, flag: "--limit")
        if let method, !Self.methods.contains(method.uppercased()) {
            throw ValidationError("--method \(method) is not one of \(Self.methods.joined(separator: ", "))")
        }
        if let status, !(100...599).contains(status) {
            throw ValidationError("--status \(status) is not an HTTP status (100-599)")
        }
        if let minMs, !(minMs.isFinite && minMs >= 0) {
            throw ValidationError("--min-ms must be a number of 0 or more")
        }
    }

    func perform(in context: CommandContext) async throws {
        if context.isFleet {
            try await (stats ? performFleetStats(in: context) : performFleet(in: context))
            return
        }
        let query = TraceQuery(
            limit: stats ? 1 : limit, pathFilter: path, method: method?.uppercased(), status: status,
            minDurationMs: minMs,
            requestID: requestID, slowOnly: slow)
        let answer = try await context.client.traces(query)
        let output = context.output
        if stats {
            let statistics = answer.statistics
            output.emit(
                statistics,
                records: statistics.endpoints.sorted { $0.key < $1.key }.map {
                    EndpointRow(route: $0.key, statistics: $0.value)
                }
            ) {
                Renderings.endpoints(statistics).render(width: output.width, style: output.style)
            }
            return
        }
        output.emit(answer, records: answer.traces) {
            answer.traces.isEmpty
                ? "no matching traces\n" : Self.table(answer.traces).render(width: output.width, style: output.style)
        }
    }

    /// Traces as a table, the path shrinking to fit.
    static func table(_ traces: [Trace]) -> Table {
        var table = Table([
            Table.Column("TIME"), Table.Column("METHOD"), Table.Column("PATH", flexible: true, minWidth: 12),
            Table.Column("STATUS", .right), Table.Column("MS", .right), Table.Column("CACHE", optional: true),
            Table.Column("LOGS", .right, optional: true),
            Table.Column("REQUEST", flexible: true, minWidth: 8, optional: true),
        ])
        for trace in traces {
            let path = trace.query.map { trace.path + "?" + $0 } ?? trace.path
            table.append([
                Table.Cell(Format.timeOfDay(trace.startedAt)), Table.Cell(trace.method), Table.Cell(path),
                Table.Cell(String(trace.status), TextStyle.color(status: trace.status)),
                Table.Cell(Format.ms(trace.durationMs), trace.slow ? .yellow : nil),
                Table.Cell(trace.cache?.rawValue ?? "-"),
                Table.Cell(String(trace.logCount)), Table.Cell(trace.requestID),
            ])
        }
        return table
    }

    /// One endpoint a line in `--stats -o ndjson`: its route and its statistics, flat.
    struct EndpointRow: Encodable {
        var route: String
        var statistics: EndpointStatistics

        enum CodingKeys: String, CodingKey { case route }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(route, forKey: .route)
            try statistics.encode(to: encoder)
        }
    }

    /// The per-endpoint table of the fleet, from the instances' merged histograms, after a row per instance.
    func performFleetStats(in context: CommandContext) async throws {
        let results = await FleetStatistics.fetch(
            context.fleet, answer: { try await $0.traces(TraceQuery(limit: 1)) }, statistics: { $0.statistics })
        let merged = FleetStatistics.merged(results)
        let output = context.output
        let rows = results.map { FleetOutput.Row<RequestStatistics>($0, value: $0.value?.statistics) }
        var lines = FleetStatistics.endpointLines(merged, instance: "all")
        for result in results {
            if let statistics = result.value?.statistics {
                lines += FleetStatistics.endpointLines(statistics, instance: result.instance)
            }
        }
        output.emit(FleetStatistics.Report(merged: merged, instances: rows), records: lines) {
            FleetStatistics.instanceTable(results, merged: merged).render(width: output.width, style: output.style)
                + "\n" + Renderings.endpoints(merged).render(width: output.width, style: output.style)
        }
        if let exit = FleetOutput.summarise(results, output: output) { throw exit }
    }

    /// Every instance's traces merged by start time, each with its instance.
    func performFleet(in context: CommandContext) async throws {
        let query = TraceQuery(
            limit: limit, pathFilter: path, method: method?.uppercased(), status: status, minDurationMs: minMs,
            requestID: requestID, slowOnly: slow)
        let results = await context.fleet.each { try await $0.traces(query) }
        var tagged: [(index: Int, trace: InstanceTagged<Trace>)] = []
        for (index, result) in results.enumerated() {
            for trace in result.value?.traces ?? [] {
                tagged.append((index, InstanceTagged(instance: result.instance, record: trace)))
            }
        }
        // Oldest first, as one server's table reads; ISO-8601 UTC times sort as text.
        tagged.sort { $0.trace.record.startedAt < $1.trace.record.startedAt }
        let output = context.output
        let records = tagged.map(\.trace)
        output.emit(FleetTraces(count: records.count, traces: records), records: records) {
            guard !tagged.isEmpty else { return "no matching traces\n" }
            var table = Self.table(tagged.map(\.trace.record))
            table.columns.insert(Table.Column("INSTANCE"), at: 0)
            for (row, entry) in tagged.enumerated() {
                table.rows[row].insert(
                    Table.Cell(entry.trace.instance, FleetOutput.palette[entry.index % FleetOutput.palette.count]),
                    at: 0)
            }
            return table.render(width: output.width, style: output.style)
        }
        if let exit = FleetOutput.summarise(results, output: output) { throw exit }
    }

    /// The JSON of a fleet's traces.
    struct FleetTraces: Encodable {
        var count: Int
        var traces: [InstanceTagged<Trace>]
    }
}
