import ArgumentParser
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraClient

/// `kimera stats`: `/performance/stats`.
struct Stats: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show /performance/stats: requests, cache, logging, process, per-endpoint latency.",
        discussion: "Example: kimera stats -o json | jq .request_statistics.requests_per_second").underKimera

    @OptionGroup var global: GlobalOptions

    func perform(in context: CommandContext) async throws {
        if context.isFleet {
            try await performFleet(in: context)
            return
        }
        let stats = try await context.client.performanceStats()
        let output = context.output
        output.emit(stats) {
            Renderings.keyValues(Self.summary(stats), output: output) + "\n"
                + Renderings.endpoints(stats.requestStatistics).render(width: output.width, style: output.style)
        }
    }

    static func summary(_ stats: PerformanceStats) -> [(String, Table.Cell)] {
        let requests = stats.requestStatistics
        let cache = stats.cacheStats
        let logging = stats.loggingMetrics
        let process = stats.process
        let levels = ["CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG", "TRACE"]
            .compactMap { level in
                logging.records[level].flatMap { $0 > 0 ? "\(level) \(Format.count(Int(clamping: $0)))" : nil }
            }
        return [
            ("status", Table.Cell(stats.kimeraStatus.rawValue)),
            (
                "requests",
                Table.Cell(
                    "\(Format.count(requests.totalRequests)) total, \(requests.activeRequests) active, "
                        + "\(Format.rate(requests.requestsPerSecond))/s (60 s), errors \(Format.percent(requests.errorRate)), "
                        + "slow \(requests.slowRequests) (≥ \(Format.ms(requests.slowThresholdMs)) ms)",
                    requests.errorRate > 0 ? .yellow : nil)
            ),
            ("series", Table.Cell("\(requests.series)/\(requests.seriesLimit) endpoint series")),
            (
                "cache",
                Table.Cell(
                    cache.enabled
                        ? "hit rate \(Format.percent(cache.hitRate)) (\(Format.count(Int(clamping: cache.hits))) hits, "
                            + "\(Format.count(Int(clamping: cache.misses))) misses), \(cache.entries)/\(cache.maxEntries) entries, "
                            + "\(Format.bytes(Int64(cache.bytes)))/\(Format.bytes(Int64(cache.maxBytes))), \(cache.evictions) evictions"
                        : "off")
            ),
            (
                "logging",
                Table.Cell(
                    "root \(logging.rootLevel), ring \(logging.ringLevel) \(Format.count(logging.ringEntries))/"
                        + "\(Format.count(logging.ringCapacity)), \(logging.ringDropped) dropped")
            ),
            ("records", Table.Cell(levels.isEmpty ? "none" : levels.joined(separator: ", "))),
            (
                "process",
                Table.Cell(
                    "rss \(Format.bytes(process.rssBytes)), cpu \(String(format: "%.2f", process.cpuSeconds)) s, "
                        + "\(process.threads) threads, up \(Format.uptime(process.uptimeS))")
            ),
        ]
    }

    /// The fleet's figures in JSON: request statistics merged exactly (counts added, percentiles from the
    /// added histograms).
    struct FleetMerged: Encodable {
        var requestStatistics: RequestStatistics

        enum CodingKeys: String, CodingKey { case requestStatistics = "request_statistics" }
    }

    /// A row per instance and the fleet's, then the merged endpoint table.
    func performFleet(in context: CommandContext) async throws {
        let results = await FleetStatistics.fetch(
            context.fleet, answer: { try await $0.performanceStats() }, statistics: { $0.requestStatistics })
        let merged = FleetStatistics.merged(results)
        let output = context.output
        let rows = results.map { FleetOutput.Row<PerformanceStats>($0, value: $0.value?.answer) }
        output.emit(FleetStatistics.Report(merged: FleetMerged(requestStatistics: merged), instances: rows)) {
            FleetStatistics.instanceTable(results, merged: merged).render(width: output.width, style: output.style)
                + "\n" + Renderings.endpoints(merged).render(width: output.width, style: output.style)
        }
        if let exit = FleetOutput.summarise(results, output: output) { throw exit }
    }
}
