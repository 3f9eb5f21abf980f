import KimeraModels
import Logging

extension ServerMode {
    /// The level the console prints when no root level was set explicitly.
    package var defaultConsoleLevel: Logger.Level {
        switch self {
        case .performance: return .warning
        case .performanceDebug, .basic: return .info
        case .fullDebug: return .debug
        }
    }

    /// The level the in-memory ring captures at, independent of the console.
    var ringLevel: Logger.Level { debug ? .debug : .info }

    /// Sinks write on a background thread in the performance modes, inline otherwise.
    package var asynchronousSinks: Bool { performance }
}
