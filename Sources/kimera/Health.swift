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
            """).underKimera

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
        if context.isFleet {
            try await performFleet(in: context)
            return
        }
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
                    ("status", Table.Cell(health.status.rawValue, health.status == .healthy ? .green : .red)),
                    ("ready", Table.Cell(readiness, report.ready != nil ? .green : .red)),
                    ("service", Table.Cell("\(health.service.rawValue) \(health.version)")),
                    ("uptime", Table.Cell(Format.uptime(health.uptimeS))),
                    ("url", Table.Cell(client.baseURL)),
                ], output: output)
        }
        if let notReady { throw notReady }
    }

    /// `/health` and `/ready` of one instance: not ready is an answer, not a failure.
    static func check(_ client: KimeraClient) async throws -> Report {
        async let health = client.health()
        var report = Report(health: try await health)
        do {
            report.ready = try await client.ready()
        } catch let error as ClientError {
            guard case .status(_, let body, _) = error else { throw error }
            report.notReady = body ?? ErrorBody(error: ErrorCode.unavailable.rawValue, message: error.message, requestID: nil)
        }
        return report
    }

    /// The JSON of a fleet's health: a row per instance and how many are ready.
    struct FleetReport: Encodable {
        var instances: [FleetOutput.Row<Report>]
        var ready: Int
        var total: Int
    }

    /// One row per instance; exit 0 only when every instance is ready, else the worst code (5 for up but
    /// not ready, 3 for unreachable, …).
    func performFleet(in context: CommandContext) async throws {
        let results = await context.fleet.each { try await Self.check($0) }
        let output = context.output
        let ready = results.filter { $0.value?.ready != nil }.count
        let rows = results.map { FleetOutput.Row<Report>($0, value: $0.value) }
        output.emit(FleetReport(instances: rows, ready: ready, total: results.count), records: rows) {
            var table = Table([
                Table.Column("INSTANCE"), Table.Column("STATUS"), Table.Column("READY", flexible: true, minWidth: 8),
                Table.Column("VERSION", optional: true), Table.Column("UPTIME", .right, optional: true),
            ])
            for result in results {
                switch result.result {
                case .success(let report):
                    let health = report.health
                    table.append([
                        Table.Cell(result.instance),
                        Table.Cell(health.status.rawValue, health.status == .healthy ? .green : .red),
                        report.ready != nil
                            ? Table.Cell("ready", .green)
                            : Table.Cell("NOT READY: \(report.notReady?.message ?? "no reason given")", .red),
                        Table.Cell(health.version), Table.Cell(Format.uptime(health.uptimeS)),
                    ])
                case .failure(let error):
                    table.append([
                        Table.Cell(result.instance), Table.Cell("DOWN", .red), Table.Cell(error.message, .red),
                        Table.Cell("-"), Table.Cell("-"),
                    ])
                }
            }
            return table.render(width: output.width, style: output.style)
                + "\(ready) of \(results.count) instances ready\n"
        }
        var codes = results.compactMap { $0.error.map { CLIExit.from($0).code } }
        let notReady = results.filter { $0.value != nil && $0.value?.ready == nil }
        for result in notReady {
            output.notice("\(result.instance): not ready: \(result.value?.notReady?.message ?? "no reason given")")
            codes.append(5)
        }
        if let exit = FleetOutput.summarise(results, output: output) {
            throw CLIExit.partial(code: FleetOutput.worstCode(codes + [exit.code]))
        }
        if !codes.isEmpty { throw CLIExit.partial(code: FleetOutput.worstCode(codes)) }
    }
}
