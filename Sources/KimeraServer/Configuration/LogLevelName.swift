import Logging

/// Level names on the wire (API.md §3): `TRACE … CRITICAL`, any case, `WARN` = `WARNING`.
public enum LogLevelName {
    public static let allowed = ["TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL"]

    public static func parse(_ text: some StringProtocol) -> Logger.Level? {
        switch text.uppercased() {
        case "TRACE": return .trace
        case "DEBUG": return .debug
        case "INFO": return .info
        case "NOTICE": return .notice
        case "WARNING", "WARN": return .warning
        case "ERROR": return .error
        case "CRITICAL": return .critical
        default: return nil
        }
    }

    public static func name(_ level: Logger.Level) -> String {
        switch level {
        case .trace: return "TRACE"
        case .debug: return "DEBUG"
        case .info: return "INFO"
        case .notice: return "NOTICE"
        case .warning: return "WARNING"
        case .error: return "ERROR"
        case .critical: return "CRITICAL"
        }
    }
}
