import Logging

/// The four modes of API.md §2, derived from the two flags.
public enum ServerMode: String, Sendable, CaseIterable {
    case performance = "performance"
    case performanceDebug = "performance+debug"
    case fullDebug = "full-debug"
    case basic = "basic"

    public init(debug: Bool, performance: Bool) {
        switch (debug, performance) {
        case (false, true): self = .performance
        case (true, true): self = .performanceDebug
        case (true, false): self = .fullDebug
        case (false, false): self = .basic
        }
    }

    public var debug: Bool { self == .performanceDebug || self == .fullDebug }
    public var performance: Bool { self == .performance || self == .performanceDebug }

    /// What the mode means, for the banner.
    public var summary: String {
        switch self {
        case .performance:
            return "pure performance: console WARNING (async), ring INFO+, response cache on"
        case .performanceDebug:
            return "performance + debug: console INFO (async), ring DEBUG+, traces with redacted headers, cache on"
        case .fullDebug:
            return "full debug: console + file DEBUG (synchronous), access log, full traces, cache off"
        case .basic:
            return "basic: console INFO (synchronous), cache off"
        }
    }

    /// The level the console prints when no root level was set explicitly.
    var defaultConsoleLevel: Logger.Level {
        switch self {
        case .performance: return .warning
        case .performanceDebug, .basic: return .info
        case .fullDebug: return .debug
        }
    }

    /// The level the in-memory ring captures at, independent of the console.
    var ringLevel: Logger.Level { debug ? .debug : .info }

    /// Sinks write on a background thread in the performance modes, inline otherwise.
    var asynchronousSinks: Bool { performance }
}
