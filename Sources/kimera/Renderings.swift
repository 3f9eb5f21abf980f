import KimeraClient

/// Tables more than one command prints: endpoint statistics, log records, key/value summaries.
enum Renderings {
    /// `key  value` lines; the value column shrinks to fit.
    static func keyValues(_ pairs: [(String, Table.Cell)], output: Output) -> String {
        var table = Table(
            [Table.Column("", minWidth: 4), Table.Column("", flexible: true, minWidth: 10)], showsHeader: false)
        for (key, value) in pairs { table.append([Table.Cell(key, .bold), value]) }
        return table.render(width: output.width, style: output.style)
    }

    /// Per-endpoint latency, busiest first. `compact` keeps count, p50, p99 and errors (for `monitor`).
    static func endpoints(_ statistics: RequestStatistics, compact: Bool = false) -> Table {
        let sorted = statistics.endpoints.sorted {
            $0.value.timing.count != $1.value.timing.count
                ? $0.value.timing.count > $1.value.timing.count : $0.key < $1.key
        }
        // On a narrow terminal AVG, MAX and P95 give way first; COUNT, P50, P99 and ERRORS stay.
        let numbers: [(String, Bool)] =
            compact
            ? [("COUNT", false), ("P50 ms", false), ("P99 ms", false), ("ERRORS", false)]
            : [
                ("COUNT", false), ("AVG ms", true), ("P50 ms", false), ("P95 ms", true), ("P99 ms", false),
                ("MAX ms", true), ("ERRORS", false),
            ]
        // The request behind the p99 (its exemplar, docs/CLI.md "traces"), for `kimera logs --request-id`.
        var table = Table(
            [Table.Column("ENDPOINT", flexible: true, minWidth: 12)]
                + numbers.map { Table.Column($0.0, .right, optional: $0.1) }
                + (compact ? [] : [Table.Column("P99 REQUEST")]))
        for (route, endpoint) in sorted {
            let timing = endpoint.timing
            let errors = Table.Cell(
                endpoint.errors == 0 ? "0" : "\(Format.count(endpoint.errors)) (\(Format.percent(endpoint.errorRate)))",
                endpoint.errors == 0 ? nil : .red)
            var row: [Table.Cell] = [Table.Cell(route), Table.Cell(Format.count(timing.count))]
            if compact {
                row += [Table.Cell(Format.ms(timing.p50Ms)), Table.Cell(Format.ms(timing.p99Ms)), errors]
            } else {
                row += [timing.avgTimeMs, timing.p50Ms, timing.p95Ms, timing.p99Ms, timing.maxTimeMs].map {
                    Table.Cell(Format.ms($0))
                }
                row += [errors, Table.Cell(endpoint.exemplars?.p99.requestID ?? "-")]
            }
            table.append(row)
        }
        return table
    }

    /// Log records as a table, the message (with its metadata) shrinking to fit.
    static func logs(_ records: [LogRecord]) -> Table {
        var table = Table([
            Table.Column("SEQ", .right, optional: true), Table.Column("TIME"), Table.Column("LEVEL"),
            Table.Column("MODULE", flexible: true, minWidth: 10),
            Table.Column("REQUEST", flexible: true, minWidth: 8, optional: true),
            Table.Column("MESSAGE", flexible: true, minWidth: 16),
        ])
        for record in records {
            table.append([
                Table.Cell(String(record.seq)), Table.Cell(Format.timeOfDay(record.timestamp)),
                Table.Cell(record.level.rawValue, TextStyle.color(level: record.level)), Table.Cell(record.module),
                Table.Cell(record.requestID ?? "-"), Table.Cell(message(of: record)),
            ])
        }
        return table
    }

    /// One record on one line, for `logs --follow`: time, level, module, message, metadata, request id.
    static func logLine(_ record: LogRecord, style: TextStyle) -> String {
        let level = record.level.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
        var line =
            style.paint(Format.timeOfDay(record.timestamp), .dim) + " "
            + style.paint(level, TextStyle.color(level: record.level)) + " "
            + style.paint(Terminal.printable(record.module), .cyan) + "  " + Terminal.printable(message(of: record))
        if let requestID = record.requestID { line += style.paint(" [\(Terminal.printable(requestID))]", .dim) }
        return line
    }

    /// The message followed by its metadata as `key=value`, keys sorted.
    static func message(of record: LogRecord) -> String {
        guard !record.metadata.isEmpty else { return record.message }
        let metadata = record.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return record.message + "  " + metadata.joined(separator: " ")
    }

    /// `used/limit (n%)` of one bounded store.
    static func fill(_ buffer: BufferFill) -> String {
        let share = buffer.limit > 0 ? Double(buffer.used) / Double(buffer.limit) : 0
        var text = "\(Format.count(buffer.used))/\(Format.count(buffer.limit)) (\(Format.percent(share)))"
        if buffer.dropped > 0 { text += ", \(Format.count(Int(clamping: buffer.dropped))) dropped" }
        return text
    }
}
