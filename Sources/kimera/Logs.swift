import ArgumentParser
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
            """)

    @Option(
        help: ArgumentHelp("Minimum level: TRACE, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL.", valueName: "level"),
        completion: .list(LogLevel.allowed))
    var level: LogLevel?

    @Option(help: ArgumentHelp("How many records, newest last (server default 100, at most 5000).", valueName: "n"))
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
            start = page.logs.last?.seq ?? 0
        }
        for try await event in client.followLogs(query, sinceSeq: start) {
            switch event {
            case .record(let record):
                print(record, to: output)
            case .gap(let range):
                output.notice(
                    "\(range.toSeq - range.fromSeq + 1) records lost (seq \(range.fromSeq)–\(range.toSeq)): this reader fell behind the server"
                )
            case .disconnected(let error, let attempt, let delay):
                if attempt == 1 || attempt % 12 == 0 {
                    output.notice(
                        "log stream lost (\(error.message)); reconnecting (attempt \(attempt), next in \(Format.duration(delay)))"
                    )
                }
            case .reconnected(let missed, let restarted):
                if restarted { output.notice("the server restarted; following its new log") }
                if let missed {
                    output.notice(
                        "reconnected; records \(missed.fromSeq)–\(missed.toSeq) left the server's buffer while disconnected "
                            + "(\(missed.toSeq - missed.fromSeq + 1), some may not match the filters)")
                } else {
                    output.notice("reconnected; nothing was lost")
                }
            }
        }
    }

    private func print(_ record: LogRecord, to output: Output) {
        switch output.format {
        case .table: output.line(Renderings.logLine(record, style: output.style))
        case .json, .ndjson: output.line(JSONText.compact(record))
        }
    }
}
