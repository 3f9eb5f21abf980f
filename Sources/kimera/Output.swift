#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraModels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a command writes: data to one stream (stdout), diagnostics to another (stderr). The shell and
/// tests can substitute their own.
struct OutputSink: Sendable {
    let data: @Sendable (String) -> Void
    let diagnostics: @Sendable (String) -> Void

    static let standard = OutputSink(
        data: { Terminal.writeAll($0, to: STDOUT_FILENO) }, diagnostics: { Terminal.writeAll($0, to: STDERR_FILENO) })
}

/// How a command prints: the format chosen for data, colour, and the width tables must fit.
struct Output: Sendable {
    var format: OutputFormat
    var style: TextStyle
    /// Columns available to a table; nil when unbounded (a pipe without `COLUMNS`).
    var width: Int?
    var sink: OutputSink

    /// Writes `text` and a newline to stdout.
    func line(_ text: String = "") {
        sink.data(text + "\n")
    }

    /// Writes `kimera: text` to stderr: notices and errors, never data.
    func notice(_ text: String) {
        sink.diagnostics("kimera: " + text + "\n")
    }

    /// Prints a command's answer: `table()` for people, `whole` re-encoded as JSON, and for NDJSON
    /// `records` one a line (or `whole` on one line when the answer is not a list).
    func emit<Whole: Encodable>(_ whole: Whole, table: () -> String) {
        emit(whole, records: [Whole]?.none, table: table)
    }

    func emit<Whole: Encodable, Record: Encodable>(_ whole: Whole, records: [Record]?, table: () -> String) {
        switch format {
        case .table:
            let text = table()
            sink.data(text.hasSuffix("\n") || text.isEmpty ? text : text + "\n")
        case .json:
            sink.data(JSONText.pretty(whole) + "\n")
        case .ndjson:
            if let records {
                sink.data(records.map { JSONText.compact($0) + "\n" }.joined())
            } else {
                sink.data(JSONText.compact(whole) + "\n")
            }
        }
    }
}

/// JSON as the command line prints it: sorted keys, slashes unescaped.
enum JSONText {
    static func pretty(_ value: some Encodable) -> String {
        encode(value, formatting: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    static func compact(_ value: some Encodable) -> String {
        encode(value, formatting: [.sortedKeys, .withoutEscapingSlashes])
    }

    private static func encode(_ value: some Encodable, formatting: JSONEncoder.OutputFormatting) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = formatting
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// ANSI colour, or none: every coloured string goes through `paint`, so turning colour off is one flag.
struct TextStyle: Sendable {
    var enabled: Bool

    enum Color: String, Sendable {
        case red = "31"
        case green = "32"
        case yellow = "33"
        case cyan = "36"
        case blue = "34"
        case magenta = "35"
        case dim = "2"
        case bold = "1"
    }

    func paint(_ text: String, _ color: Color?) -> String {
        guard enabled, let color, !text.isEmpty else { return text }
        return "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m"
    }

    /// The colour of a log level name.
    static func color(level: LogLevel) -> Color? {
        switch level {
        case .critical, .error: return .red
        case .warning: return .yellow
        case .notice: return .cyan
        case .debug, .trace: return .dim
        case .info: return nil
        }
    }

    /// The colour of an HTTP status.
    static func color(status: Int) -> Color? {
        switch status {
        case 500...: return .red
        case 400..<500: return .yellow
        case 200..<300: return .green
        default: return nil
        }
    }
}

/// Aligned columns that fit a width: flexible columns (messages, paths) give up space first and are
/// cut with `…`; then optional columns are left out, rightmost first; the rest keep their natural width.
struct Table {
    struct Column {
        var title: String
        var alignment: Alignment
        /// May be narrowed below its content to fit, down to `minWidth`.
        var flexible: Bool
        var minWidth: Int
        /// May be left out when the table cannot fit otherwise.
        var optional: Bool

        init(
            _ title: String, _ alignment: Alignment = .left, flexible: Bool = false, minWidth: Int = 6,
            optional: Bool = false
        ) {
            self.title = title
            self.alignment = alignment
            self.flexible = flexible
            self.minWidth = minWidth
            self.optional = optional
        }
    }

    enum Alignment { case left, right }

    struct Cell: ExpressibleByStringLiteral {
        var text: String
        var color: TextStyle.Color?

        init(_ text: String, _ color: TextStyle.Color? = nil) {
            self.text = Terminal.printable(text)
            self.color = color
        }

        init(stringLiteral value: String) { self.init(value) }
    }

    var columns: [Column]
    var rows: [[Cell]] = []
    /// Whether the first line names the columns (off for key/value lists).
    var showsHeader = true

    init(_ columns: [Column], showsHeader: Bool = true) {
        self.columns = columns
        self.showsHeader = showsHeader
    }

    mutating func append(_ row: [Cell]) { rows.append(row) }

    static let gap = 2

    /// The table as text, each line at most `width` characters when shrinking and leaving out columns can
    /// make it so.
    func render(width: Int?, style: TextStyle) -> String {
        lines(width: width, style: style).map { $0 + "\n" }.joined()
    }

    func lines(width: Int?, style: TextStyle) -> [String] {
        let layout = self.layout(fitting: width)
        let separator = String(repeating: " ", count: Self.gap)
        func line(_ cells: (Int) -> Cell, style: TextStyle) -> String {
            layout.map { index, width in
                pad(cells(index), to: width, columns[index].alignment, last: index == layout.last?.column, style: style)
            }.joined(separator: separator)
        }
        var lines: [String] = []
        if showsHeader {
            lines.append(style.paint(line({ Cell(columns[$0].title) }, style: TextStyle(enabled: false)), .bold))
        }
        for row in rows {
            lines.append(line({ $0 < row.count ? row[$0] : Cell("") }, style: style))
        }
        return lines
    }

    /// The columns shown and their widths.
    func layout(fitting width: Int?) -> [(column: Int, width: Int)] {
        let natural = columns.indices.map { index in
            rows.reduce(showsHeader ? columns[index].title.count : 0) {
                max($0, index < $1.count ? $1[index].text.count : 0)
            }
        }
        var shown = Array(columns.indices)
        while true {
            var widths = shown.map { natural[$0] }
            guard let width else { return Array(zip(shown, widths)) }
            var excess = widths.reduce(0, +) + Self.gap * max(shown.count - 1, 0) - width
            while excess > 0 {
                let shrinkable = shown.indices.filter {
                    columns[shown[$0]].flexible && widths[$0] > columns[shown[$0]].minWidth
                }
                guard let widest = shrinkable.max(by: { widths[$0] < widths[$1] }) else { break }
                let runnerUp = shrinkable.filter { $0 != widest }.map { widths[$0] }.max() ?? 0
                let floor = max(runnerUp, columns[shown[widest]].minWidth)
                let cut = max(1, min(widths[widest] - floor, excess))
                widths[widest] -= cut
                excess -= cut
            }
            guard excess > 0, let dropped = shown.lastIndex(where: { columns[$0].optional }) else {
                return Array(zip(shown, widths))
            }
            shown.remove(at: dropped)
        }
    }

    private func pad(_ cell: Cell, to width: Int, _ alignment: Alignment, last: Bool, style: TextStyle) -> String {
        var text = cell.text
        if text.count > width { text = String(text.prefix(max(width - 1, 0))) + "…" }
        let padding = String(repeating: " ", count: max(width - text.count, 0))
        let painted = style.paint(text, cell.color)
        switch alignment {
        case .left: return last ? painted : painted + padding
        case .right: return padding + painted
        }
    }
}

/// What the process knows about its terminal.
enum Terminal {
    static func isTerminal(_ descriptor: Int32) -> Bool {
        isatty(descriptor) == 1
    }

    /// The window size of the terminal on `descriptor`, when it is one.
    static func size(_ descriptor: Int32) -> (columns: Int, rows: Int)? {
        var size = winsize()
        guard ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return (Int(size.ws_col), Int(size.ws_row))
    }

    /// `--color always|never` decide; `auto` means a terminal, `NO_COLOR` unset or empty, and not `TERM=dumb`.
    static func colorEnabled(choice: ColorChoice, isTerminal: Bool, environment: [String: String]) -> Bool {
        switch choice {
        case .always: return true
        case .never: return false
        case .auto:
            if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return false }
            return isTerminal && environment["TERM"] != "dumb"
        }
    }

    /// Writes all of `text` to `descriptor`, retrying short writes and EINTR.
    static func writeAll(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE && descriptor == STDOUT_FILENO { readerWentAway() }
                return
            }
            offset += written
        }
    }

    /// The reader of stdout is gone (`kimera logs -f | head`): end as a process killed by SIGPIPE would,
    /// which the runtime's libraries keep from happening by ignoring the signal.
    static func readerWentAway() -> Never {
        signal(SIGPIPE, SIG_DFL)
        raise(SIGPIPE)
        exit(128 + SIGPIPE)
    }

    /// `text` without control characters, so server data cannot move the cursor or change colours.
    static func printable(_ text: String) -> String {
        guard
            text.unicodeScalars.contains(where: {
                $0.value < 0x20 || $0.value == 0x7F || (0x80..<0xA0).contains($0.value)
            })
        else {
            return text
        }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A, 0x0D, 0x09: result.append(" ")
            case 0..<0x20, 0x7F, 0x80..<0xA0: result.append("\u{FFFD}")
            default: result.append(scalar)
            }
        }
        return String(result)
    }
}

/// Numbers, sizes and times as the tables show them.
enum Format {
    /// Milliseconds: three significant-ish digits (`0.042`, `1.25`, `12.3`, `1234`).
    static func ms(_ value: Double) -> String {
        switch value {
        case ..<1: return String(format: "%.3f", value)
        case ..<10: return String(format: "%.2f", value)
        case ..<100: return String(format: "%.1f", value)
        default: return String(format: "%.0f", value)
        }
    }

    static func percent(_ fraction: Double) -> String {
        let value = fraction * 100
        return value > 0 && value < 0.1 ? "<0.1%" : String(format: "%.1f%%", value)
    }

    static func rate(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }

    static func bytes(_ value: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var size = Double(value)
        var unit = 0
        while abs(size) >= 1024 && unit < units.count - 1 {
            size /= 1024
            unit += 1
        }
        return unit == 0 ? "\(value) B" : String(format: size >= 100 ? "%.0f" : "%.1f", size) + " " + units[unit]
    }

    /// `42s`, `3m07s`, `2h05m`, `3d04h`.
    static func uptime(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.down))
        switch total {
        case ..<60: return "\(total)s"
        case ..<3600: return String(format: "%dm%02ds", total / 60, total % 60)
        case ..<86400: return String(format: "%dh%02dm", total / 3600, (total % 3600) / 60)
        default: return String(format: "%dd%02dh", total / 86400, (total % 86400) / 3600)
        }
    }

    /// The time of day of an ISO-8601 timestamp, to the millisecond: `2024-05-01T12:00:01.123456Z` → `12:00:01.123`.
    static func timeOfDay(_ iso: String) -> String {
        guard let t = iso.firstIndex(of: "T") else { return iso }
        let time = iso[iso.index(after: t)...].prefix { $0 != "Z" && $0 != "+" }
        if let dot = time.firstIndex(of: ".") {
            return String(time[..<dot]) + "." + String(time[time.index(after: dot)...].prefix(3))
        }
        return String(time)
    }

    /// `250 ms`, `5 s`.
    static func duration(_ duration: Duration) -> String {
        let milliseconds = duration.seconds * 1000
        return milliseconds < 1000 ? "\(Int(milliseconds.rounded())) ms" : String(format: "%.3g s", milliseconds / 1000)
    }

    /// `12,345`.
    static func count(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return value < 0 ? "-" + grouped : grouped
    }
}
