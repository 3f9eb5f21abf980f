import AsyncHTTPClient
import KimeraObservability
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import KimeraModels

/// Where and how one signal is sent: the URL, the headers (`OTEL_EXPORTER_OTLP_HEADERS`), compression,
/// the per-request timeout and the batching (docs/OPERATIONS.md "OpenTelemetry export").
public struct SignalExportSettings: Sendable, Equatable {
    public var endpoint: String
    /// Sent with every export; their values are secrets and are never logged or shown.
    public var headers: [(String, String)]
    public var gzip: Bool
    /// How long one export request may take (`OTEL_EXPORTER_OTLP_TIMEOUT`, default 10 s).
    public var timeout: Duration
    /// The longest wait before a batch smaller than `maxBatchSize` is sent (`*_SCHEDULE_DELAY`).
    public var scheduleDelay: Duration
    public var maxQueueSize: Int
    public var maxBatchSize: Int

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.endpoint == rhs.endpoint && lhs.headers.elementsEqual(rhs.headers, by: ==) && lhs.gzip == rhs.gzip
            && lhs.timeout == rhs.timeout && lhs.scheduleDelay == rhs.scheduleDelay
            && lhs.maxQueueSize == rhs.maxQueueSize && lhs.maxBatchSize == rhs.maxBatchSize
    }
}

/// How a failed export is tried again: only what the OTLP specification calls retryable (429, 502, 503,
/// 504, and no answer at all: refused, reset, timed out), at most `attempts` times in all, after an
/// exponential backoff with jitter, or after the collector's `Retry-After` when it sends one.
struct RetryPolicy: Sendable {
    var attempts = 4
    var initialBackoff = Duration.milliseconds(500)
    var maxBackoff = Duration.seconds(5)
    /// A `Retry-After` longer than this is not waited for: the batch fails and the queue keeps moving.
    var maxRetryAfter = Duration.seconds(30)

    static func isRetryable(status: UInt) -> Bool { [429, 502, 503, 504].contains(status) }

    /// The wait before attempt `attempt + 1` (attempt counts from 1): 0.5 s, 1 s, 2 s … up to the cap,
    /// each between half and all of it.
    func backoff(after attempt: Int) -> Duration {
        let full = min(initialBackoff * (1 << min(attempt - 1, 16)), maxBackoff)
        return full * Double.random(in: 0.5...1.0)
    }
}

/// One signal's exporter, a ServiceLifecycle service: it waits for a full batch or its schedule, takes
/// batches from the bounded queue, encodes them (OTLP/HTTP protobuf, gzip when configured) and POSTs them,
/// retrying what the specification says to retry. It is the only task that touches the network; a slow,
/// refusing or absent collector delays nothing but this loop, while the queue drops and counts what does
/// not fit. On graceful shutdown it sends what is queued, then closes its HTTP client (`BoundedShutdown`
/// limits how long that may take).
final class OTLPExporter<Item: Sendable>: Service, Sendable {
    let name: String
    let settings: SignalExportSettings
    let queue: ExportQueue<Item>
    let retry: RetryPolicy
    let failures: ExportFailures
    /// Writes one batch as the signal's `Export…ServiceRequest`.
    let encode: @Sendable ([Item], inout ProtobufWriter) -> Void
    private let configuration: HTTPClient.Configuration
    private let headers: HTTPHeaders

    init(
        name: String, settings: SignalExportSettings, queue: ExportQueue<Item>, failures: ExportFailures,
        retry: RetryPolicy = RetryPolicy(), encode: @escaping @Sendable ([Item], inout ProtobufWriter) -> Void
    ) {
        self.name = name
        self.settings = settings
        self.queue = queue
        self.failures = failures
        self.retry = retry
        self.encode = encode
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(
            connect: .milliseconds(Int64(min(settings.timeout, .seconds(5)).milliseconds)),
            read: .milliseconds(Int64(settings.timeout.milliseconds)))
        configuration.decompression = .disabled
        // The export's own requests are never traced: no span per batch (AsyncHTTPClient would otherwise
        // make one with whatever tracer is bootstrapped, and an exported one would feed the queue it drains).
        configuration.tracing.tracer = nil
        self.configuration = configuration
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-protobuf")
        headers.add(name: "User-Agent", value: "kimera-otlp-exporter")
        if settings.gzip { headers.add(name: "Content-Encoding", value: "gzip") }
        for (name, value) in settings.headers { headers.replaceOrAdd(name: name, value: value) }
        self.headers = headers
    }

    func run() async throws {
        // Made here, not at init: an exporter that never runs (tests) holds no client to shut down.
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        // Both kept for the exporter's life: the encoding, and the request body it is copied into (reused
        // once a batch's request is done with it; a batch of 512 `/health` spans is about 130 KB).
        var writer = ProtobufWriter(capacity: 64 * 1024)
        var payload = ByteBuffer()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                // The schedule: one timer for the exporter's life, not one per wait. A batch smaller than
                // the batch size waits at most `scheduleDelay`.
                group.addTask { [queue, delay = settings.scheduleDelay] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: delay)
                        queue.wake()
                    }
                }
                while !queue.isStopping && !Task.isCancelled {
                    await queue.waitForWork()
                    // Woken by a full batch or the schedule: what waits now goes, then only full batches.
                    await sendQueued(&writer, &payload, client, fullOnly: false)
                }
                group.cancelAll()
            }
        } onGracefulShutdown: { [queue] in
            queue.stop()
        }
        // The server has stopped: what is still queued goes out (cancelled after BoundedShutdown's limit,
        // when every remaining batch fails at once and is counted).
        await sendQueued(&writer, &payload, client, fullOnly: false, untilEmpty: true)
        try? await client.shutdown()
    }

    /// Sends one batch (a partial one unless `fullOnly`), then full batches while they wait, or every
    /// batch until the queue is empty when `untilEmpty` (the final flush).
    private func sendQueued(
        _ writer: inout ProtobufWriter, _ payload: inout ByteBuffer, _ client: HTTPClient, fullOnly: Bool,
        untilEmpty: Bool = false
    ) async {
        var fullOnly = fullOnly
        while true {
            let batch = queue.takeBatch(fullOnly: fullOnly)
            guard !batch.isEmpty else { return }
            fullOnly = !untilEmpty
            writer.reset()
            encode(batch, &writer)
            let count = batch.count
            _ = consume batch
            payload.clear()
            var encoded = true
            if settings.gzip {
                if let compressed = try? Gzip.compress(writer.bytes, level: 1) {
                    payload.writeBytes(compressed)
                } else {
                    encoded = false
                }
            } else {
                writer.withUnsafeBytes { _ = payload.writeBytes($0) }
            }
            let (exported, retries, error) =
                if encoded { await send(payload, client) } else { (false, 0, "gzip compression failed") }
            queue.complete(count, exported: exported, retries: retries)
            if let error { failures.record("\(name): \(error)") }
        }
    }

    /// One batch, with its retries: (exported, retries, the error when it failed).
    private func send(_ payload: ByteBuffer, _ client: HTTPClient) async -> (Bool, Int, String?) {
        var request = HTTPClientRequest(url: settings.endpoint)
        request.method = .POST
        request.headers = headers
        request.body = .bytes(payload)
        var attempt = 1
        while true {
            let outcome: (retryable: Bool, retryAfter: Duration?, error: String?)
            do {
                let response = try await client.execute(
                    request, deadline: .now() + .milliseconds(Int64(settings.timeout.milliseconds)))
                // Read (and discard) the body, so that the connection can be reused.
                _ = try? await response.body.collect(upTo: 1 << 20)
                if (200..<300).contains(response.status.code) { return (true, attempt - 1, nil) }
                let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init).map {
                    Duration.seconds(max(0, $0))
                }
                outcome = (
                    RetryPolicy.isRetryable(status: response.status.code), retryAfter,
                    "HTTP \(response.status.code) from \(TelemetrySettings.displayed(settings.endpoint))"
                )
            } catch {
                // No answer: refused, reset, timed out. The client's errors name no header.
                outcome = (true, nil, "\(error) (\(TelemetrySettings.displayed(settings.endpoint)))")
            }
            guard outcome.retryable, attempt < retry.attempts, !Task.isCancelled else {
                return (false, attempt - 1, outcome.error)
            }
            let wait = outcome.retryAfter ?? retry.backoff(after: attempt)
            guard wait <= retry.maxRetryAfter else { return (false, attempt - 1, outcome.error) }
            do {
                try await Task.sleep(for: wait)
            } catch {
                return (false, attempt - 1, outcome.error)
            }
            attempt += 1
        }
    }
}

/// The last export failure of either signal, for `/debug/info`, its text redacted.
final class ExportFailures: Sendable {
    /// The last failure's text.
    private let last = Mutex<String?>(nil)

    func record(_ message: String) { last.locked { $0 = Redaction.message(message) } }
    var lastError: String? { last.locked { $0 } }
}

