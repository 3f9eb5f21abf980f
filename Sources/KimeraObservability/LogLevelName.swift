import KimeraModels
import Logging

/// The bridge between the wire's `LogLevel` and swift-log's `Logger.Level` (the same seven levels).
extension LogLevel {
    public init(_ level: Logger.Level) {
        switch level {
        case .trace: self = .trace
        case .debug: self = .debug
        case .info: self = .info
        case .notice: self = .notice
        case .warning: self = .warning
        case .error: self = .error
        case .critical: self = .critical
        }
    }

    public var loggerLevel: Logger.Level {
        switch self {
        case .trace: .trace
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        case .critical: .critical
        }
    }
}

/// Level names on the wire for swift-log levels (docs/API.md §3): parsing goes through `LogLevel`.
public enum LogLevelName {
    public static let allowed = LogLevel.allowed

    public static func parse(_ text: some StringProtocol) -> Logger.Level? { LogLevel(parsing: text)?.loggerLevel }

    public static func name(_ level: Logger.Level) -> String { LogLevel(level).rawValue }
}
