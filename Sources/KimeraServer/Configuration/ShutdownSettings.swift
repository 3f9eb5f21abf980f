import KimeraModels
import KimeraObservability

/// How `kimera serve` stops on SIGTERM/SIGINT (docs/OPERATIONS.md "Rolling restarts"): first it drains —
/// `/ready` answers 503 and responses carry `Connection: close` while it keeps serving, so a balancer sees
/// it leave — then it stops accepting and gives in-flight requests up to `timeout` to finish, then closes
/// what is left. A second signal skips what remains of both waits.
public struct ShutdownSettings: Sendable, Equatable {
    /// How long to keep serving after the signal; zero on a single box, longer than the balancer's
    /// health-check interval behind one.
    public var drain: Duration = .zero
    /// How long in-flight requests get once the server stops accepting.
    public var timeout: Duration = .seconds(10)

    public init(drain: Duration = .zero, timeout: Duration = .seconds(10)) {
        self.drain = drain
        self.timeout = timeout
    }

    /// `1s`, `1500ms`: a duration as the log and the banner say it.
    public static func text(_ duration: Duration) -> String {
        let milliseconds = duration.milliseconds
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }

    /// As `/debug/info` shows it.
    func describe() -> JSONValue {
        .object([
            "drain_s": .number(drain.seconds), "timeout_s": .number(timeout.seconds),
        ])
    }
}

extension ServerConfiguration {
    /// What a bad `shutdown.drain` / `shutdown.timeout` says after naming it (`KIMERA_DRAIN=soon`,
    /// `shutdown.drain "soon"`). Durations are `DurationText` (`500ms`, `5s`, `0s`; a bare number is seconds).
    static func durationProblem(_ what: String) -> String {
        "\(what) is not a duration; use e.g. 0s, 500ms, 5s, 2m (0s, or from 1ms to 1d)"
    }
}
