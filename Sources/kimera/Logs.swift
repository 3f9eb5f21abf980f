import ArgumentParser
import KimeraAPI
import KimeraClient
import KimeraModels

/// `kimera logs`: `/debug/logs`, or with `--follow` the live stream.
struct Logs: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show recent log records (/debug/logs), or follow them live (-f).",
        discussion: """
            --level is a minimum (ERROR shows ERROR and CRITICAL) unless --exact. --module matches a logger label and every label below it.

            --follow prints the last records (--limit, default 10), then streams new ones until Ctrl-C, reconnecting and resuming after the last seq seen; lost records are reported on stderr. In JSON modes it prints one record a line.

            Examples:
              kimera logs --level ERROR --limit 20
              kimera logs -f --module kimera.core
              kimera logs --request-id 3f2a-000012 -o json
            """).underKimera

    @Option(
        help: ArgumentHelp("Minimum level: TRACE, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL.", valueName: "level"),
        completion: .list(LogLevel.allowed))
    var level: LogLevel?

    // `.unconditional`: `--limit -1` is a value to refuse by name, not a missing one.
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "How many records, newest last (server default 100, at most 5000); over several servers, of the merged list.",
            valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Only this logger label and those below it.", valueName: "module"))
    var module: String?

    @Option(name: .customLong("request-id"), help: ArgumentHelp("Only records of this request.", valueName: "id"))
    var requestID: String?

    @Flag(help: "Only records of exactly --level.")
    var exact = false

    @Flag(name: [.customShort("f"), .long], help: "Keep printing new records until interrupted.")
    var follow = false

    @Option(
        name: .customLong("since-seq"),
        help: ArgumentHelp("Only records after this sequence number (with -f: resume from it).", valueName: "seq"))
    var sinceSeq: UInt64?

    @OptionGroup var global: GlobalOptions

    /// How many past records `--follow` shows before streaming when `--limit` is not given.
    static let followBacklog = 10

    func validate() throws {
        try ArgumentCheck.positive(limit, flag: "--limit")
        if exact && level == nil { throw ValidationError("--exact needs --level") }
    }

    var query: LogQuery {
        LogQuery(
            limit: limit, level: level, exact: exact, module: module,
            requestID: requestID, sinceSeq: sinceSeq)
    }

    func perform(in context: CommandContext) async throws {
        if context.isFleet {
            try await (follow ? followFleet(in: context) : performFleet(in: context))
            return
        }
        if follow {
            try await followLogs(in: context)
            return
        }
        let page = try await context.client.logs(query)
        let output = context.output
        output.emit(page, records: page.logs) {
            var text = Renderings.logs(page.logs).render(width: output.width, style: output.style)
            if page.logs.isEmpty { text = "no matching records\n" }
            return text
        }
        if page.dropped > 0 && output.format == .table {
            output.notice(
                "the server's buffer (\(page.bufferCapacity) records) has dropped \(page.dropped) older records")
        }
    }

    private func followLogs(in context: CommandContext) async throws {
        let client = context.client
        let output = context.output
        var start = sinceSeq
        if start == nil {
            var backlog = query
            backlog.limit = limit ?? Self.followBacklog
            let page = try await client.logs(backlog)
            for record in page.logs { print(record, to: output) }
            // Resume after the newest record shown; with none, every matching record still held is newer
            // than the page, so start from the beginning of the buffer.
            start = UInt64(clamping: page.logs.last?.seq ?? 0)
        }
        for try await event in client.followLogs(query, sinceSeq: start) {
            switch event {
            case .record(let record):
                print(record, to: output)
            case .gap, .disconnected, .reconnected:
                for text in Self.notices(for: event) { output.notice(text) }
            }
        }
    }

    /// What stderr says about a stream event other than a record: lost records, a lost connection (the first
    /// attempt and every 12th), a reconnection and what it found.
    static func notices(for event: LogFollowEvent) -> [String] {
        switch event {
        case .record:
            return []
        case .gap(let range):
            return [
                "\(range.toSeq - range.fromSeq + 1) records lost (seq \(range.fromSeq)–\(range.toSeq)): this reader fell behind the server"
            ]
        case .disconnected(let error, let attempt, let delay):
            guard attempt == 1 || attempt % 12 == 0 else { return [] }
            return [
                "log stream lost (\(error.message)); reconnecting (attempt \(attempt), next in \(Format.duration(delay)))"
            ]
        case .reconnected(let missed, let restarted):
            // A restarted server's log starts over: what the old process logged after the last record seen
            // cannot be known, so nothing is said to be complete.
            var texts =
                restarted
                ? ["reconnected; the server restarted: following its new log (the old process's last records, if any, are gone)"]
                : []
            if restarted, missed == nil {
                return texts
            }
            if let missed {
                texts.append(
                    "reconnected; records \(missed.fromSeq)–\(missed.toSeq) left the server's buffer while disconnected "
                        + "(\(missed.toSeq - missed.fromSeq + 1), some may not match the filters)")
            } else {
                texts.append("reconnected; nothing was lost")
            }
            return texts
        }
    }

    private func print(_ record: LogRecord, to output: Output) {
        switch output.format {
        case .table: output.line(Renderings.logLine(record, style: output.style))
        case .json, .ndjson: output.line(JSONText.compact(record))
        }
    }

    /// The JSON of a fleet's logs.
    struct FleetLogs: Encodable {
        var count: Int
        var logs: [InstanceTagged<LogRecord>]
    }

    /// Every instance's records merged by time, each with its instance.
    func performFleet(in context: CommandContext) async throws {
        let query = self.query
        let results = await context.fleet.each { try await $0.logs(query) }
        var tagged: [(index: Int, record: InstanceTagged<LogRecord>)] = []
        for (index, result) in results.enumerated() {
            for record in result.value?.logs ?? [] {
                tagged.append((index, InstanceTagged(instance: result.instance, record: record)))
            }
        }
        tagged.sort { ($0.record.record.timestamp, $0.index) < ($1.record.record.timestamp, $1.index) }
        // --limit is of what is printed: the newest N of the merged list, as for one server.
        if let limit, tagged.count > limit { tagged.removeFirst(tagged.count - limit) }
        let output = context.output
        let records = tagged.map(\.record)
        let width = results.map(\.instance.count).max() ?? 0
        output.emit(FleetLogs(count: records.count, logs: records), records: records) {
            guard !tagged.isEmpty else { return "no matching records\n" }
            return tagged.map {
                FleetOutput.prefix($0.record.instance, index: $0.index, width: width + 2, style: output.style)
                    + Renderings.logLine($0.record.record, style: output.style) + "\n"
            }.joined()
        }
        for result in results where (result.value?.dropped ?? 0) > 0 && output.format == .table {
            output.notice("\(result.instance): the server's buffer has dropped \(result.value!.dropped) older records")
        }
        if let exit = FleetOutput.summarise(results, output: output) { throw exit }
    }

    /// Every instance's backlog merged by time, then their live streams merged within a short reorder
    /// window; each instance resumes after its own last `seq`, and its gaps and restarts are reported as its own.
    func followFleet(in context: CommandContext) async throws {
        let fleet = context.fleet
        let output = context.output
        let names = fleet.instanceNames
        let width = (names.map(\.count).max() ?? 0) + 2
        var starts = [UInt64?](repeating: sinceSeq, count: names.count)
        var failed: [Int: ClientError] = [:]
        if sinceSeq == nil {
            var backlog = query
            backlog.limit = limit ?? Self.followBacklog
            let pages = await fleet.each { [backlog] in try await $0.logs(backlog) }
            var records: [(index: Int, record: LogRecord)] = []
            for (index, page) in pages.enumerated() {
                switch page.result {
                case .success(let page):
                    records += page.logs.map { (index, $0) }
                    starts[index] = UInt64(clamping: page.logs.last?.seq ?? 0)
                case .failure(let error):
                    failed[index] = error
                }
            }
            records.sort { ($0.record.timestamp, $0.index) < ($1.record.timestamp, $1.index) }
            for entry in records {
                print(entry.record, instance: names[entry.index], index: entry.index, width: width, to: output)
            }
        }
        for (index, error) in failed.sorted(by: { $0.key < $1.key }) {
            output.notice("\(names[index]): \(error.message)")
        }
        let live = KimeraFleet(clients: fleet.clients.enumerated().filter { failed[$0.offset] == nil }.map(\.element))
        let liveIndices = fleet.clients.indices.filter { failed[$0] == nil }
        guard !liveIndices.isEmpty else {
            throw CLIExit.partial(code: FleetOutput.worstCode(failed.values.map { CLIExit.from($0).code }))
        }
        for await event in live.followLogs(query, sinceSeqs: liveIndices.map { starts[$0] }) {
            switch event {
            case .failed(let position, let error):
                let index = liveIndices[position]
                failed[index] = error
                output.notice("\(names[index]): \(error.message)")
            case .event(let position, let event):
                let index = liveIndices[position]
                let name = names[index]
                if case .record(let record) = event {
                    print(record, instance: name, index: index, width: width, to: output)
                }
                for text in Self.notices(for: event) { output.notice("\(name): \(text)") }
            }
        }
        if !failed.isEmpty {
            throw CLIExit.partial(code: FleetOutput.worstCode(failed.values.map { CLIExit.from($0).code }))
        }
    }

    private func print(_ record: LogRecord, instance: String, index: Int, width: Int, to output: Output) {
        switch output.format {
        case .table:
            output.line(
                FleetOutput.prefix(instance, index: index, width: width, style: output.style)
                    + Renderings.logLine(record, style: output.style))
        case .json, .ndjson: output.line(JSONText.compact(InstanceTagged(instance: instance, record: record)))
        }
    }
}
