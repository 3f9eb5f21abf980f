import KimeraAPI
import KimeraCore
import KimeraModels
import KimeraObservability

/// `GET /metrics`: the tracer, cache, logging and process in the Prometheus text exposition format 0.0.4 or,
/// when the request's `Accept` asks for it, OpenMetrics 1.0 with exemplars (docs/API.md "/metrics",
/// docs/OPERATIONS.md "Metrics and exemplars"). One renderer: the formats differ only where OpenMetrics
/// says so.
enum PrometheusExposition {
    typealias SignalExport = TelemetryStatus.SignalExport

    /// The two formats `/metrics` answers in.
    enum Format: Sendable, Equatable {
        /// Text format 0.0.4, what a request without `Accept: application/openmetrics-text` gets.
        case text
        /// OpenMetrics 1.0: counter families named without `_total`, exemplars on the histogram buckets,
        /// `# EOF` at the end.
        case openMetrics

        var contentType: String {
            switch self {
            case .text: "text/plain; version=0.0.4; charset=utf-8"
            case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
        }

        /// OpenMetrics when `Accept` names `application/openmetrics-text` with a quality above 0 and at least
        /// that of any text format it also names (Prometheus sends `application/openmetrics-text;version=1.0.0,
        /// …,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`); text otherwise.
        static func negotiated(accept: String?) -> Format {
            guard let accept else { return .text }
            var openMetrics = 0.0
            var text = 0.0
            for range in accept.split(separator: ",") {
                let parameters = range.split(separator: ";").map {
                    $0.trimmingCharacters(in: .whitespaces).lowercased()
                }
                guard let type = parameters.first else { continue }
                let quality =
                    parameters.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
                switch type {
                case "application/openmetrics-text": openMetrics = max(openMetrics, quality)
                case "text/plain", "text/*", "*/*": text = max(text, quality)
                default: continue
                }
            }
            return openMetrics > 0 && openMetrics >= text ? .openMetrics : .text
        }
    }

    /// OpenMetrics caps an exemplar's label set at 128 characters: `trace_id` leaves 120 for the id. Longer
    /// ids (a client's `X-Request-ID` may have 128) are kept in `/debug/traces` but left off the bucket.
    static let longestExemplarID = 128 - "trace_id".count

    static func render(engine: ObservabilityEngine, format: Format = .text) -> String {
        var out = ""
        out.reserveCapacity(16 * 1024)

        func header(_ name: String, _ type: String, _ help: String) {
            assert(type != "counter" || name.hasSuffix("_total"), "a counter's samples end in _total: \(name)")
            // OpenMetrics names a counter's family without the `_total` its sample carries.
            let family = format == .openMetrics && type == "counter" ? String(name.dropLast("_total".count)) : name
            out += "# HELP \(family) \(help)\n# TYPE \(family) \(type)\n"
        }
        /// ` # {trace_id="…"} value timestamp` in OpenMetrics, nothing in text.
        func exemplar(_ exemplar: LatencyExemplar?) -> String {
            guard format == .openMetrics, let exemplar, exemplar.requestID.count <= longestExemplarID else {
                return ""
            }
            return " # {trace_id=\"\(escape(exemplar.requestID))\"} \(number(Double(exemplar.nanos) / 1e9)) "
                + seconds(wallNanos: exemplar.wallNanos)
        }

        let recorders = engine.tracer.recorders().sorted { ($0.route, $0.method) < ($1.route, $1.method) }
        header("kimera_http_request_duration_seconds", "histogram", "Request latency by route template and method.")
        for entry in recorders {
            let labels = "route=\"\(escape(entry.route))\",method=\"\(escape(entry.method))\""
            // The buckets are the recorder's exemplar buckets: one definition, `LatencyBuckets`.
            let bounds = LatencyBuckets.boundsMs
            let counts = entry.recorder.cumulativeCounts(boundsMs: bounds)
            let exemplars = entry.recorder.exemplars
            for (index, (bound, count)) in zip(bounds, counts).enumerated() {
                out +=
                    "kimera_http_request_duration_seconds_bucket{\(labels),le=\"\(number(bound / 1000))\"} \(count)"
                    + exemplar(exemplars.isEmpty ? nil : exemplars[index]) + "\n"
            }
            out +=
                "kimera_http_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(entry.recorder.count)"
                + exemplar(exemplars.last ?? nil) + "\n"
            out +=
                "kimera_http_request_duration_seconds_sum{\(labels)} \(number(Double(entry.recorder.sumNanos) / 1e9))\n"
            out += "kimera_http_request_duration_seconds_count{\(labels)} \(entry.recorder.count)\n"
        }
        header("kimera_http_requests_total", "counter", "Requests by route template and method.")
        for entry in recorders {
            out +=
                "kimera_http_requests_total{route=\"\(escape(entry.route))\",method=\"\(escape(entry.method))\"} \(entry.recorder.count)\n"
        }
        header("kimera_http_request_errors_total", "counter", "5xx responses by route template and method.")
        for entry in recorders {
            out +=
                "kimera_http_request_errors_total{route=\"\(escape(entry.route))\",method=\"\(escape(entry.method))\"} \(entry.recorder.errors)\n"
        }
        let statistics = engine.tracer.statistics()
        header("kimera_http_active_requests", "gauge", "Requests being served now.")
        out += "kimera_http_active_requests \(statistics.activeRequests)\n"
        header("kimera_http_slow_requests_total", "counter", "Requests slower than the slow threshold.")
        out += "kimera_http_slow_requests_total \(statistics.slowRequests)\n"
        header("kimera_http_series", "gauge", "Distinct route series kept (bounded by the series limit).")
        out += "kimera_http_series \(statistics.series)\n"

        let cache = engine.cache.stats
        header("kimera_cache_hits_total", "counter", "Response cache hits.")
        out += "kimera_cache_hits_total \(cache.hits)\n"
        header("kimera_cache_misses_total", "counter", "Response cache misses.")
        out += "kimera_cache_misses_total \(cache.misses)\n"
        header("kimera_cache_evictions_total", "counter", "Response cache evictions.")
        out += "kimera_cache_evictions_total \(cache.evictions)\n"
        header("kimera_cache_entries", "gauge", "Responses in the cache.")
        out += "kimera_cache_entries \(cache.entries)\n"
        header("kimera_cache_bytes", "gauge", "Bytes held by the response cache.")
        out += "kimera_cache_bytes \(cache.bytes)\n"

        let logging = engine.loggingMetrics
        header("kimera_log_records_total", "counter", "Log records emitted, by level.")
        for (level, count) in logging.records.sorted(by: { $0.key < $1.key }) {
            out += "kimera_log_records_total{level=\"\(escape(level))\"} \(count)\n"
        }
        header("kimera_log_ring_dropped_total", "counter", "Records dropped from the ring to stay within its bounds.")
        out += "kimera_log_ring_dropped_total \(logging.ringDropped)\n"
        header(
            "kimera_log_sink_dropped_total", "counter", "Records a sink could not take (queue full or write failed).")
        for sink in logging.sinks {
            out += "kimera_log_sink_dropped_total{sink=\"\(escape(sink.name))\"} \(sink.dropped)\n"
        }
        header("kimera_log_sink_failures_total", "counter", "Failed sink writes.")
        for sink in logging.sinks {
            out += "kimera_log_sink_failures_total{sink=\"\(escape(sink.name))\"} \(sink.failures)\n"
        }

        // OpenTelemetry export: the series exist (at 0) with export off, so dashboards need no special case.
        let telemetry = engine.telemetryStatus
        header("kimera_otlp_export_enabled", "gauge", "1 when spans and log records are exported over OTLP.")
        out += "kimera_otlp_export_enabled \(telemetry.enabled ? 1 : 0)\n"
        let signals = [("spans", telemetry.spans), ("logs", telemetry.logs)]
        // They add up: offered = exported + dropped + failed items + queued.
        for (name, type, help, value) in [
            (
                "kimera_otlp_offered_total", "counter", "Spans and log records handed to the export.",
                \SignalExport.offered
            ),
            ("kimera_otlp_queued", "gauge", "Spans and log records queued or being sent now.", \SignalExport.queued),
            (
                "kimera_otlp_queue_capacity", "gauge", "The bound of the export queue (OTEL_BSP/BLRP_MAX_QUEUE_SIZE).",
                \SignalExport.capacity
            ),
            (
                "kimera_otlp_export_retries_total", "counter", "Export requests sent again after a retryable failure.",
                \SignalExport.retries
            ),
            (
                "kimera_otlp_exported_total", "counter", "Spans and log records the collector accepted.",
                \SignalExport.exportedItems
            ),
            (
                "kimera_otlp_export_failures_total", "counter",
                "Export batches that failed (collector down, refusing, slow).",
                \SignalExport.failedBatches
            ),
            (
                "kimera_otlp_export_failed_items_total", "counter", "Spans and log records lost with failed batches.",
                \SignalExport.failedItems
            ),
            (
                "kimera_otlp_dropped_total", "counter",
                "Spans and log records dropped because the export queue was full.",
                \SignalExport.dropped
            ),
        ] {
            header(name, type, help)
            for (signal, counts) in signals { out += "\(name){signal=\"\(signal)\"} \(counts[keyPath: value])\n" }
        }

        header("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
        out += "process_resident_memory_bytes \(ProcessMetrics.residentBytes())\n"
        header("process_cpu_seconds_total", "counter", "User and system CPU time in seconds.")
        out += "process_cpu_seconds_total \(number(ProcessMetrics.cpuSeconds()))\n"
        header("kimera_uptime_seconds", "gauge", "Seconds since the server started.")
        out += "kimera_uptime_seconds \(number(engine.uptimeSeconds))\n"
        if format == .openMetrics { out += "# EOF\n" }
        guard let instance = engine.instanceID else { return out }
        return labelled(out, with: "instance_id=\"\(escape(instance))\"")
    }

    /// Adds `label` first in every sample line, so that several replicas' series stay apart when one
    /// Prometheus scrapes them all.
    static func labelled(_ text: String, with label: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count + text.utf8.count / 4)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty || line.hasPrefix("#") {
                result += line
            } else if let brace = line.firstIndex(of: "{") {
                result += line[...brace] + label + "," + line[line.index(after: brace)...]
            } else if let space = line.firstIndex(of: " ") {
                result += line[..<space] + "{" + label + "}" + line[space...]
            } else {
                result += line
            }
            result += "\n"
        }
        result.removeLast()
        return result
    }

    /// Label values escape backslash, double quote and newline.
    static func escape(_ value: String) -> String {
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }

    /// A wall-clock time in seconds since 1970 with milliseconds, from integers (no rounding noise).
    static func seconds(wallNanos: Int64) -> String {
        let millis = wallNanos / 1_000_000
        let fraction = String(millis % 1000)
        return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return "\(value)"
    }
}
