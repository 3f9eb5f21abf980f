/// The words server, client and command line share (docs/API.md §1–§5). Each enum encodes to exactly
/// the string the wire has always carried, so typing them changed no byte of any response.

/// A log level as the wire names it (docs/API.md §3): `TRACE … CRITICAL`; parsed in any case, `WARN` =
/// `WARNING`. Ordered from the most verbose to the most severe.
public enum LogLevel: String, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    case trace = "TRACE"
    case debug = "DEBUG"
    case info = "INFO"
    case notice = "NOTICE"
    case warning = "WARNING"
    case error = "ERROR"
    case critical = "CRITICAL"

    /// The names accepted, in order; what a 400 lists as `allowed`.
    public static let allowed: [String] = allCases.map(\.rawValue)

    /// Parses a level name in any case; `WARN` is `WARNING`. Nil for anything else.
    public init?(parsing text: some StringProtocol) {
        // ASCII only: `uppercased()` maps "ı" (dotless i) to "I", which would make "ınfo" INFO.
        guard text.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        let upper = text.uppercased()
        if upper == "WARN" {
            self = .warning
        } else if let level = LogLevel(rawValue: upper) {
            self = level
        } else {
            return nil
        }
    }

    public var description: String { rawValue }

    private var severity: Int {
        switch self {
        case .trace: 0
        case .debug: 1
        case .info: 2
        case .notice: 3
        case .warning: 4
        case .error: 5
        case .critical: 6
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.severity < rhs.severity }
}

/// The two vaults a SCAR can live in (docs/DOMAIN.md §5).
public enum VaultID: String, Sendable, Codable, Equatable, CaseIterable, CustomStringConvertible {
    case vaultA = "vault_a"
    case vaultB = "vault_b"

    /// The wire ids, for errors that list them.
    public static let allowed: [String] = allCases.map(\.rawValue)

    public var other: VaultID { self == .vaultA ? .vaultB : .vaultA }
    public var description: String { rawValue }
}

/// What the response cache did for a request (docs/API.md §4): the `X-Cache` header and `Trace.cache`.
public enum CacheOutcome: String, Sendable, Codable, CaseIterable {
    case hit = "HIT"
    case miss = "MISS"
    case bypassed = "BYPASSED"
}

/// Where an asynchronous contradiction-processing job is (docs/API.md §5).
public enum JobState: String, Sendable, Codable, CaseIterable {
    case queued
    case running
    case completed
    case failed

    /// Whether the job will change no more.
    public var isFinished: Bool { self == .completed || self == .failed }
}

/// The four modes of docs/API.md §2, derived from the two flags.
public enum ServerMode: String, Sendable, Codable, CaseIterable {
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
}
