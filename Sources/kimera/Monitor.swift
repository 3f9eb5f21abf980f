import ArgumentParser
import Dispatch
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraAPI
import KimeraClient
import KimeraModels
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `kimera monitor`: a full-screen dashboard redrawn in place every `--interval`, or one plain frame
/// with `--once`.
struct Monitor: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "A live dashboard: requests/s, latency per endpoint, errors, cache, buffers.",
        discussion: """
            Full screen on the terminal's alternate screen, redrawn in place; q or Ctrl-C quits and restores the terminal. --once prints one plain frame (no escape codes unless --color always) for scripts.

            Each refresh makes two requests (/debug/info and /debug/logs), which the dashboard counts too. -o does not apply: scripts want kimera stats -o json.

            Examples:
              kimera monitor --interval 2s
              kimera monitor --once
            """).underKimera

    @Option(help: ArgumentHelp("How often to refresh: 1s, 500ms, 5s (default: 1s).", valueName: "duration"), transform: DurationArgument.parse)
    var interval = DurationArgument(default: "1s", .seconds(1))

    @Flag(help: "Print one frame and exit.")
    var once = false

    @OptionGroup var global: GlobalOptions

    /// How many recent errors the dashboard lists at most.
    static let errorRows = 4

    func validate() throws {
        guard interval.value >= .milliseconds(100), interval.value <= .seconds(3600) else {
            throw ValidationError("--interval \(interval) must be a duration from 100ms to 1h, e.g. 1s")
        }
        if !once && !(Terminal.isTerminal(STDOUT_FILENO)) {
            throw ValidationError("monitor needs a terminal on stdout; use --once for a single plain frame")
        }
    }

    func perform(in context: CommandContext) async throws {
        let period = interval.value
        if once {
            var state = MonitorState()
            let snapshot = try await MonitorState.fetch(context.client, fleet: fleet(context))
            state.update(.success(snapshot))
            let frame = MonitorFrame(state: state, url: Self.title(context), interval: period, live: false)
            context.output.line(
                frame.lines(width: context.output.width, height: nil, style: context.output.style).joined(
                    separator: "\n"))
            if let exit = FleetOutput.summarise(snapshot.instances, output: context.output) { throw exit }
            return
        }
        try await Dashboard(
            client: context.client, fleet: fleet(context), title: Self.title(context), period: period,
            style: context.output.style
        ).run()
    }

    /// The fleet when there are several servers: the frame then has a row per instance.
    private func fleet(_ context: CommandContext) -> KimeraFleet? { context.isFleet ? context.fleet : nil }

    static func title(_ context: CommandContext) -> String {
        context.isFleet
            ? "\(context.fleet.clients.count) instances (details: \(KimeraFleet.instanceName(context.client.baseURL)))"
            : context.client.baseURL
    }
}

/// What the dashboard knows: the latest answer, the request-rate history, and the last failure.
struct MonitorState: Sendable {
    struct Snapshot: Sendable {
        var info: DebugInfo
        var errors: [LogRecord]
        var takenAt: ContinuousClock.Instant
        /// With several servers: each instance's `/debug/info`, or why it did not answer.
        var instances: [InstanceResult<DebugInfo>] = []
    }

    var snapshot: Snapshot?
    /// Requests per second between consecutive snapshots, oldest first.
    var rates: [Double] = []
    /// Why the last refresh failed, until one succeeds.
    var problem: String?

    static let rateHistory = 120

    static func fetch(_ client: KimeraClient, fleet: KimeraFleet? = nil) async throws -> Snapshot {
        if let fleet {
            // A row per instance; the details (endpoints, buffers, errors) are the first instance that answers.
            async let all = fleet.each {
                try await $0.debugInfo(includeLogs: false, includeTraces: false, includeProfiles: false)
            }
            let instances = await all
            guard let index = instances.firstIndex(where: { $0.value != nil }) else {
                throw instances[0].error ?? ClientError.cancelled
            }
            let errors = try await fleet.clients[index].logs(LogQuery(limit: Monitor.errorRows, level: .error))
            return Snapshot(info: instances[index].value!, errors: errors.logs, takenAt: .now, instances: instances)
        }
        async let info = client.debugInfo(includeLogs: false, includeTraces: false, includeProfiles: false)
        async let errors = client.logs(LogQuery(limit: Monitor.errorRows, level: .error))
        return Snapshot(info: try await info, errors: try await errors.logs, takenAt: .now)
    }

    /// A failure in few words: the dashboard's status line is short.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? ClientError else { return CLIExit.from(error).message ?? "\(error)" }
        switch error {
        case .unreachable(_, let reason): return "server unreachable: \(reason)"
        case .timeout(_, let seconds):
            return "no answer within \(Format.duration(.milliseconds(Int64(seconds * 1000))))"
        case .status(let code, let body, _): return body.map { "HTTP \(code): \($0.message)" } ?? "HTTP \(code)"
        default: return error.message
        }
    }

    mutating func update(_ result: Result<Snapshot, any Error>) {
        switch result {
        case .failure(let error):
            problem = Self.describe(error)
        case .success(let next):
            problem = nil
            let total = next.info.requestStatistics.totalRequests
            if let previous = snapshot, total >= previous.info.requestStatistics.totalRequests {
                let elapsed = previous.takenAt.duration(to: next.takenAt)
                let seconds = elapsed.seconds
                if seconds > 0 {
                    rates.append(Double(total - previous.info.requestStatistics.totalRequests) / seconds)
                }
            } else {
                rates.append(next.info.requestStatistics.requestsPerSecond)
            }
            if rates.count > Self.rateHistory { rates.removeFirst(rates.count - Self.rateHistory) }
            snapshot = next
        }
    }
}

/// One screen of the dashboard as lines that each fit `width`; `height` nil prints every row.
struct MonitorFrame {
    var state: MonitorState
    var url: String
    var interval: Duration
    /// Live frames end with the key help; a `--once` frame does not.
    var live: Bool

    static let sparks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    func lines(width: Int?, height: Int?, style: TextStyle) -> [String] {
        let cut = width ?? Int.max
        func line(_ segments: [(String, TextStyle.Color?)]) -> String {
            var remaining = cut
            var text = ""
            for (part, color) in segments where remaining > 0 {
                let clean = Terminal.printable(part)
                let shown = clean.count > remaining ? String(clean.prefix(max(remaining - 1, 0))) + "…" : clean
                remaining -= shown.count
                text += style.paint(shown, color)
            }
            return text
        }

        var top: [String] = []
        let clock = Self.clock()
        guard let snapshot = state.snapshot else {
            top.append(line([("Kimera monitor  ", .bold), (url, nil), ("  " + clock, .dim)]))
            top.append(line([(state.problem ?? "connecting…", state.problem == nil ? .dim : .red)]))
            if live { top.append(line([("q quit", .dim)])) }
            return top
        }
        let info = snapshot.info
        let requests = info.requestStatistics
        top.append(
            line([
                ("Kimera monitor  ", .bold), (url + "  ", nil),
                ("mode \(info.mode.name?.rawValue ?? "?")", info.mode.debug ? .yellow : nil),
                ("  up \(Format.uptime(info.uptimeS))  \(clock)", .dim),
            ]))
        let now = state.rates.last ?? requests.requestsPerSecond
        let rate = "req/s " + Format.rate(now).padding(toLength: 7, withPad: " ", startingAt: 0)
        let counts = "active \(requests.activeRequests)  total \(Format.count(requests.totalRequests))  "
        let errors = "errors \(Format.percent(requests.errorRate))"
        let slow = "  slow \(requests.slowRequests)"
        // The sparkline takes what the line leaves, at most 40 samples; one sample (--once) says nothing.
        let room = cut == Int.max ? 40 : cut - rate.count - counts.count - errors.count - slow.count - 2
        let sparkWidth = max(0, min(40, room, live ? 40 : (state.rates.count > 1 ? state.rates.count : 0)))
        top.append(
            line([
                ("req/s ", .bold), (String(rate.dropFirst(6)), nil),
                (sparkWidth > 0 ? Self.sparkline(state.rates, width: sparkWidth) + "  " : "", .cyan),
                (counts, nil), (errors, requests.errorRate > 0 ? .red : nil),
                (slow, requests.slowRequests > 0 ? .yellow : nil),
            ]))
        let cache = info.cache
        top.append(
            line(
                cache.enabled
                    ? [
                        ("cache ", .bold),
                        (
                            "hit \(Format.percent(cache.hitRate))",
                            cache.hitRate < 0.5 && cache.hits + cache.misses > 0 ? .yellow : .green
                        ),
                        (
                            "  \(Format.count(Int(clamping: cache.hits))) hits / \(Format.count(Int(clamping: cache.misses))) misses  \(cache.entries)/\(cache.maxEntries) entries  \(cache.evictions) evicted",
                            nil
                        ),
                    ] : [("cache ", .bold), ("off", .dim)]))
        top += bufferLines(info.buffers.additionalProperties, width: cut, line: line)
        if !snapshot.instances.isEmpty {
            top.append(line([("Instances", .bold)]))
            let nameWidth = snapshot.instances.map(\.instance.count).max() ?? 0
            for (index, instance) in snapshot.instances.enumerated() {
                let name = instance.instance.padding(toLength: nameWidth + 2, withPad: " ", startingAt: 0)
                let color = FleetOutput.palette[index % FleetOutput.palette.count]
                switch instance.result {
                case .success(let info):
                    let requests = info.requestStatistics
                    top.append(
                        line([
                            (name, color), ("mode \(info.mode.name?.rawValue ?? "?")  ", info.mode.debug ? .yellow : nil),
                            ("req/s \(Format.rate(requests.requestsPerSecond))  ", nil),
                            ("total \(Format.count(requests.totalRequests))  ", nil),
                            ("errors \(Format.percent(requests.errorRate))", requests.errorRate > 0 ? .red : nil),
                            ("  up \(Format.uptime(info.uptimeS))", .dim),
                        ]))
                case .failure(let error):
                    top.append(line([(name, color), ("DOWN  " + MonitorState.describe(error), .red)]))
                }
            }
        }
        top.append("")

        var bottom: [String] = [""]
        bottom.append(line([("Recent errors", .bold)]))
        if snapshot.errors.isEmpty {
            bottom.append(line([("none", .dim)]))
        } else {
            for record in snapshot.errors.suffix(Monitor.errorRows) {
                bottom.append(
                    line([
                        (Format.timeOfDay(record.timestamp) + " ", .dim),
                        (record.level.rawValue + " ", TextStyle.color(level: record.level)),
                        (record.module + "  ", .cyan), (Renderings.message(of: record), nil),
                    ]))
            }
        }
        if let problem = state.problem {
            bottom.append(line([("⚠ " + problem + (live ? " (retrying; figures are stale)" : ""), .red)]))
        }
        if live { bottom.append(line([("q quit · every \(Format.duration(interval))", .dim)])) }

        var table = Renderings.endpoints(requests, compact: true)
        var lines = table.lines(width: width, style: style)
        if let height {
            let room = max(height - top.count - bottom.count, 2)
            if lines.count > room {
                let hidden = table.rows.count - (room - 2)
                table.rows = Array(table.rows.prefix(room - 2))
                lines = table.lines(width: width, style: style) + [line([("… \(hidden) more endpoints", .dim)])]
            }
        }
        let all = top + lines + bottom
        guard let height else { return all }
        return Array(all.prefix(height))
    }

    /// The fill of every bounded store, as many a line as fit.
    private func bufferLines(
        _ buffers: [String: BufferFill], width: Int, line: ([(String, TextStyle.Color?)]) -> String
    ) -> [String] {
        var lines: [String] = []
        var current: [(String, TextStyle.Color?)] = [("buffers ", .bold)]
        var used = 8
        for (name, fill) in buffers.sorted(by: { $0.key < $1.key }) {
            let share = fill.limit > 0 ? Double(fill.used) / Double(fill.limit) : 0
            let item = "\(name) \(Int((share * 100).rounded()))%"
            if used + item.count + 2 > width && current.count > 1 {
                lines.append(line(current))
                current = [("        ", nil)]
                used = 8
            }
            current.append(("\(name) ", nil))
            current.append(("\(Int((share * 100).rounded()))%  ", share >= 0.9 ? .yellow : .green))
            used += item.count + 2
        }
        lines.append(line(current))
        return Array(lines.prefix(3))
    }

    /// The last `width` rates as bars scaled to their maximum.
    static func sparkline(_ rates: [Double], width: Int) -> String {
        guard width > 0, !rates.isEmpty else { return "" }
        let shown = rates.suffix(width)
        let peak = shown.max() ?? 0
        let bars = shown.map { rate -> Character in
            guard peak > 0 else { return sparks[0] }
            return sparks[min(sparks.count - 1, Int((rate / peak) * Double(sparks.count - 1) + 0.5))]
        }
        return String(repeating: " ", count: width - bars.count) + String(bars)
    }

    static func clock() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        return String(format: "%02d:%02d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec)
    }
}

/// The live dashboard: owns the terminal (alternate screen, no echo, hidden cursor) while it runs and
/// gives it back however it ends.
struct Dashboard {
    let client: KimeraClient
    var fleet: KimeraFleet? = nil
    var title: String
    let period: Duration
    let style: TextStyle

    enum Event: Sendable {
        case refreshed(Result<MonitorState.Snapshot, any Error>)
        case quit
        case resized
    }

    func run() async throws {
        let screen = ScreenSession()
        defer { screen.restore() }
        let (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(64))
        let keys = KeyReader { byte in
            if byte == UInt8(ascii: "q") || byte == UInt8(ascii: "Q") || byte == 0x03 { continuation.yield(.quit) }
        }
        defer { keys.stop() }
        let resize = DispatchSource.makeSignalSource(signal: SIGWINCH, queue: .global())
        signal(SIGWINCH, SIG_IGN)
        resize.setEventHandler { continuation.yield(.resized) }
        resize.resume()
        defer {
            resize.cancel()
            signal(SIGWINCH, SIG_DFL)
        }

        let client = self.client
        let fleet = self.fleet
        let period = self.period
        let poller = Task {
            var next = ContinuousClock.now
            while !Task.isCancelled {
                let result: Result<MonitorState.Snapshot, any Error>
                do { result = .success(try await MonitorState.fetch(client, fleet: fleet)) } catch {
                    result = .failure(error)
                }
                if Task.isCancelled { break }
                continuation.yield(.refreshed(result))
                next = max(next + period, .now)
                try? await Task.sleep(until: next)
            }
        }
        defer { poller.cancel() }

        var state = MonitorState()
        screen.draw(frame(state))
        for await event in events {
            switch event {
            case .quit:
                return
            case .refreshed(let result):
                state.update(result)
                screen.draw(frame(state))
            case .resized:
                screen.draw(frame(state), clear: true)
            }
        }
        // The stream ends only when this task is cancelled (Ctrl-C, SIGTERM).
        throw CancellationError()
    }

    private func frame(_ state: MonitorState) -> (Int, Int) -> [String] {
        { width, height in
            MonitorFrame(state: state, url: title, interval: period, live: true)
                .lines(width: width, height: height, style: style)
        }
    }
}

/// The terminal while the dashboard has it: alternate screen, hidden cursor, keys read without echo.
final class ScreenSession: Sendable {
    /// The terminal settings to restore; nil when stdin is not a terminal. Written once in `init`.
    private let original: termios?
    /// Protects the last size drawn, to clear the screen when it changes.
    private let lastSize = Mutex<(Int, Int)>((0, 0))

    static let enter = "\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J"
    static let leave = "\u{1B}[?25h\u{1B}[?1049l"

    init() {
        var settings = termios()
        if Terminal.isTerminal(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &settings) == 0 {
            original = settings
            var keys = settings
            keys.c_lflag &= ~tcflag_t(ICANON | ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &keys)
        } else {
            original = nil
        }
        Terminal.writeAll(Self.enter, to: STDOUT_FILENO)
    }

    /// Draws a frame from the top-left corner over the previous one: every line is cleared to its end
    /// and the rest of the screen below, so nothing is blanked first and nothing flickers.
    func draw(_ frame: (Int, Int) -> [String], clear: Bool = false) {
        let size = Terminal.size(STDOUT_FILENO) ?? (columns: 80, rows: 24)
        let changed = lastSize.locked { last -> Bool in
            defer { last = size }
            return last != size
        }
        let lines = frame(size.columns, size.rows)
        let text =
            (clear || changed ? "\u{1B}[2J" : "") + "\u{1B}[H" + lines.joined(separator: "\u{1B}[K\n")
            + "\u{1B}[K\u{1B}[J"
        Terminal.writeAll(text, to: STDOUT_FILENO)
    }

    func restore() {
        Terminal.writeAll(Self.leave, to: STDOUT_FILENO)
        if var settings = original { tcsetattr(STDIN_FILENO, TCSANOW, &settings) }
    }
}

/// Calls `handler` with each byte typed on stdin (a terminal), from a dispatch read source.
final class KeyReader {
    private let source: (any DispatchSourceRead)?

    init(handler: @escaping @Sendable (UInt8) -> Void) {
        guard Terminal.isTerminal(STDIN_FILENO) else {
            source = nil
            return
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: STDIN_FILENO, queue: .global())
        let reference = DispatchSourceReference(source: source)
        source.setEventHandler {
            var bytes = [UInt8](repeating: 0, count: 64)
            let count = read(STDIN_FILENO, &bytes, bytes.count)
            guard count > 0 else {
                reference.source.cancel()
                return
            }
            for byte in bytes.prefix(count) { handler(byte) }
        }
        source.resume()
        self.source = source
    }

    func stop() { source?.cancel() }
}
