import ArgumentParser
import KimeraClient

/// `kimera health`: `/health` and `/ready`; exit 0 only when the server is ready.
struct Health: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Show /health and /ready; exit 0 only when the server is ready.",
        discussion: """
            Exits 3 when nothing answers, 5 when the server is up but not ready (vault closed, draining).
            Example: until kimera health -o json >/dev/null; do sleep 0.2; done
            """)

    @OptionGroup var global: GlobalOptions

    /// The JSON this command prints: both answers as the server sent them.
    struct Report: Codable {
        var health: HealthResponse
        /// `/ready` when it answered 200.
        var ready: ReadyResponse?
        /// The error body of `/ready` when it did not.
        var notReady: ErrorBody?

        enum CodingKeys: String, CodingKey {
            case health, ready
            case notReady = "not_ready"
        }
    }

    func perform(in context: CommandContext) async throws {
        let client = context.client
        async let health = client.health()
        var report = Report(health: try await health)
        var notReady: ClientError?
        do {
            report.ready = try await client.ready()
        } catch let error as ClientError {
            guard case .status(_, let body, _) = error else { throw error }
            report.notReady = body
            notReady = error
        }
        let output = context.output
        output.emit(report) {
            let health = report.health
            let readiness =
                report.ready != nil ? "ready" : "NOT READY: \(report.notReady?.message ?? "no reason given")"
            return Renderings.keyValues(
                [
                    ("status", Table.Cell(health.status, health.status == "healthy" ? .green : .red)),
                    ("ready", Table.Cell(readiness, report.ready != nil ? .green : .red)),
                    ("service", Table.Cell("\(health.service) \(health.version)")),
                    ("uptime", Table.Cell(Format.uptime(health.uptimeS))),
                    ("url", Table.Cell(client.baseURL)),
                ], output: output)
        }
        if let notReady { throw notReady }
    }
}
