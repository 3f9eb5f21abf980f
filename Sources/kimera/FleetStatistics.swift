#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraClient

/// Request statistics of several servers: each instance's own, and the fleet's, whose percentiles come
/// from the instances' histograms added together (`GET /debug/histograms`), never from averaged percentiles.
enum FleetStatistics {
    /// What one instance answered: its statistics and its histograms, fetched together.
    struct Sample<Answer: Sendable>: Sendable {
        var answer: Answer
        var statistics: RequestStatistics
        var histograms: HistogramsResponse
    }

    /// Fetches `answer` (which carries the instance's statistics) and the histograms from every instance.
    static func fetch<Answer: Sendable>(
        _ fleet: KimeraFleet, answer: @escaping @Sendable (KimeraClient) async throws -> Answer,
        statistics: @escaping @Sendable (Answer) -> RequestStatistics
    ) async -> [InstanceResult<Sample<Answer>>] {
        await fleet.each { client in
            async let histograms = client.histograms()
            let value = try await answer(client)
            return Sample(answer: value, statistics: statistics(value), histograms: try await histograms)
        }
    }

    /// The fleet's statistics from the instances that answered.
    static func merged(_ results: [InstanceResult<Sample<some Sendable>>]) -> RequestStatistics {
        RequestStatistics.merged(results.compactMap(\.value).map { ($0.statistics, $0.histograms) })
    }

    /// All of one instance's requests as one latency distribution (every series merged).
    static func overall(_ histograms: HistogramsResponse) -> TimingStats {
        var latency = MergedLatency(like: histograms)
        for series in histograms.series { latency.add(series) }
        return latency.timing
    }

    /// A row per instance (and one for the fleet): requests, rate, errors, p50/p99 over all endpoints.
    static func instanceTable(_ results: [InstanceResult<Sample<some Sendable>>], merged: RequestStatistics) -> Table {
        var table = Table([
            Table.Column("INSTANCE"), Table.Column("REQUESTS", .right), Table.Column("ACTIVE", .right, optional: true),
            Table.Column("REQ/S", .right), Table.Column("ERRORS", .right), Table.Column("P50 ms", .right),
            Table.Column("P99 ms", .right), Table.Column("MAX ms", .right, optional: true),
        ])
        func row(_ name: Table.Cell, _ statistics: RequestStatistics, _ timing: TimingStats) -> [Table.Cell] {
            [
                name, Table.Cell(Format.count(statistics.totalRequests)), Table.Cell(String(statistics.activeRequests)),
                Table.Cell(Format.rate(statistics.requestsPerSecond)),
                Table.Cell(Format.percent(statistics.errorRate), statistics.errorRate > 0 ? .red : nil),
                Table.Cell(Format.ms(timing.p50Ms)), Table.Cell(Format.ms(timing.p99Ms)),
                Table.Cell(Format.ms(timing.maxTimeMs)),
            ]
        }
        var all: [(RequestStatistics, HistogramsResponse)] = []
        for result in results {
            switch result.result {
            case .success(let sample):
                all.append((sample.statistics, sample.histograms))
                table.append(row(Table.Cell(result.instance), sample.statistics, overall(sample.histograms)))
            case .failure(let error):
                table.append(
                    [Table.Cell(result.instance), Table.Cell("DOWN", .red), Table.Cell(error.message, .red)]
                        + Array(repeating: Table.Cell("-"), count: 5))
            }
        }
        if let first = all.first {
            var latency = MergedLatency(like: first.1)
            for (_, histograms) in all { for series in histograms.series { latency.add(series) } }
            table.append(row(Table.Cell("all", .bold), merged, latency.timing))
        }
        return table
    }

    /// `traces --stats` and `stats` in JSON: the fleet's figures and each instance's.
    struct Report<Merged: Encodable, Instance: Encodable>: Encodable {
        var merged: Merged
        var instances: [FleetOutput.Row<Instance>]
    }

    /// One endpoint of one instance (or of `all`) a line in NDJSON.
    struct EndpointLine: Encodable {
        var instance: String
        var route: String
        var statistics: EndpointStatistics

        enum CodingKeys: String, CodingKey { case instance, route }

        func encode(to encoder: any Encoder) throws {
            try statistics.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(instance, forKey: .instance)
            try container.encode(route, forKey: .route)
        }
    }

    static func endpointLines(_ statistics: RequestStatistics, instance: String) -> [EndpointLine] {
        statistics.endpoints.sorted { $0.key < $1.key }.map {
            EndpointLine(instance: instance, route: $0.key, statistics: $0.value)
        }
    }
}
