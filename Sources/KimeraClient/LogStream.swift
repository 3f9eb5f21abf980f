import AsyncHTTPClient
import Foundation
import NIOCore

/// One line of `GET /debug/logs/stream` that matters to a reader; heartbeats are skipped.
public enum LogStreamEvent: Sendable, Equatable {
    case record(LogRecord)
    /// The server dropped these records before this reader got them.
    case gap(StreamGap.Range)
}

/// The live body of `GET /debug/logs/stream`, decoded line by line. It ends when the server ends the
/// stream (draining); a broken connection throws a `ClientError`.
public struct LogStream: AsyncSequence, Sendable {
    public typealias Element = LogStreamEvent
    let body: HTTPClientResponse.Body
    let url: String

    public func makeAsyncIterator() -> Iterator {
        Iterator(body: body.makeAsyncIterator(), url: url)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var body: HTTPClientResponse.Body.AsyncIterator
        let url: String
        /// Bytes received but not yet split into lines; `start` is where the unread part begins.
        var buffer: [UInt8] = []
        var start = 0
        var finished = false
        /// A line longer than this is not a log record: the stream is broken.
        static let maxLineBytes = 4 * 1024 * 1024

        public mutating func next() async throws -> LogStreamEvent? {
            while true {
                if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    let line = buffer[start..<newline]
                    start = newline + 1
                    if let event = try decode(line) { return event }
                    continue
                }
                if finished {
                    guard start < buffer.count else { return nil }
                    let line = buffer[start...]
                    start = buffer.count
                    if let event = try decode(line) { return event }
                    return nil
                }
                if start > 0 {
                    buffer.removeFirst(start)
                    start = 0
                }
                guard buffer.count <= Self.maxLineBytes else {
                    throw ClientError.undecodable(url: url, type: "log stream line", detail: "a line over 4 MiB")
                }
                do {
                    if let chunk = try await body.next() {
                        buffer.append(contentsOf: chunk.readableBytesView)
                    } else {
                        finished = true
                    }
                } catch {
                    throw ClientError.classify(error, url: url, timeoutSeconds: KimeraClient.idleReadTimeout.seconds)
                }
            }
        }

        private func decode(_ line: ArraySlice<UInt8>) throws -> LogStreamEvent? {
            let trimmed = line.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }
            guard !trimmed.isEmpty else { return nil }
            let data = Data(trimmed)
            let decoder = JSONDecoder()
            if let record = try? decoder.decode(LogRecord.self, from: data) { return .record(record) }
            if let gap = try? decoder.decode(StreamGap.self, from: data) { return .gap(gap.gap) }
            if (try? decoder.decode(Heartbeat.self, from: data)) != nil { return nil }
            throw ClientError.undecodable(
                url: url, type: "log stream line", detail: String(decoding: trimmed.prefix(200), as: UTF8.self))
        }
    }

    private struct Heartbeat: Decodable {
        var heartbeat: Bool
    }
}

extension KimeraClient {
    /// Opens `GET /debug/logs/stream`. Returns once the server has answered (within `timeout`); the body
    /// then streams for as long as the server keeps it open.
    public func logStream(_ query: LogQuery = LogQuery()) async throws -> LogStream {
        let url = self.url("/debug/logs/stream", query: query.items)
        var request = HTTPClientRequest(url: url)
        request.headers = headers(hasBody: false)
        request.headers.replaceOrAdd(name: "Accept", value: "application/x-ndjson")
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        } catch {
            throw ClientError.classify(error, url: url, timeoutSeconds: timeout.seconds)
        }
        guard response.status.code == 200 else {
            let bytes = try? await response.body.collect(upTo: 1024 * 1024)
            let body = bytes.flatMap { try? JSONDecoder().decode(ErrorBody.self, from: Data($0.readableBytesView)) }
            throw ClientError.status(Int(response.status.code), body: body, url: url)
        }
        return LogStream(body: response.body, url: url)
    }

    /// Follows the log stream until the task is cancelled, reconnecting when the connection breaks and
    /// resuming after the last `seq` seen, so no record is printed twice and every loss is reported.
    ///
    /// - Parameter sinceSeq: start after this `seq` (replaying what the server still holds); nil starts
    ///   with the records logged from now on.
    /// - Returns: events in order. The sequence throws only when the first connection fails or the
    ///   server rejects the filters (4xx); later failures become `.disconnected` and a retry.
    public func followLogs(_ query: LogQuery, sinceSeq: UInt64?, policy: ReconnectPolicy = ReconnectPolicy())
        -> AsyncThrowingStream<LogFollowEvent, any Error>
    {
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: LogFollowEvent.self, bufferingPolicy: .bufferingOldest(10_000))
        let client = self
        let task = Task {
            await client.follow(query, sinceSeq: sinceSeq, policy: policy, into: continuation)
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func follow(
        _ query: LogQuery, sinceSeq: UInt64?, policy: ReconnectPolicy,
        into continuation: AsyncThrowingStream<LogFollowEvent, any Error>.Continuation
    ) async {
        var last = sinceSeq
        var serverStart: Double?
        var connectedOnce = false
        var failures = 0
        while !Task.isCancelled {
            do {
                // Sequence numbers start over with the server: its start time tells a restart apart.
                let started = try await startTime()
                if connectedOnce {
                    let restarted = serverStart.map { abs($0 - started) > Self.restartTolerance } ?? false
                    if restarted { last = 0 }
                    let missed = try await missedRecords(after: last)
                    continuation.yield(.reconnected(missed: missed, serverRestarted: restarted))
                }
                serverStart = started
                var filters = query
                filters.sinceSeq = last
                filters.limit = nil
                let stream = try await logStream(filters)
                connectedOnce = true
                failures = 0
                for try await event in stream {
                    switch event {
                    case .record(let record):
                        last = max(last ?? 0, record.seq)
                        continuation.yield(.record(record))
                    case .gap(let range):
                        last = max(last ?? 0, range.toSeq)
                        continuation.yield(.gap(range))
                    }
                }
                throw ClientError.transport(url: baseURL, detail: "the server ended the log stream")
            } catch {
                let failure = ClientError.classify(error, url: baseURL, timeoutSeconds: timeout.seconds)
                if failure == .cancelled || Task.isCancelled { break }
                let rejected = failure.httpStatus.map { (400..<500).contains($0) } ?? false
                if !connectedOnce || rejected {
                    continuation.finish(throwing: failure)
                    return
                }
                failures += 1
                let delay = policy.delay(afterFailures: failures)
                continuation.yield(.disconnected(failure, attempt: failures, retryIn: delay))
                do { try await Task.sleep(for: delay) } catch { break }
            }
        }
        continuation.finish()
    }

    /// Two start times further apart than this (seconds) are two server processes. A start time is
    /// wall clock minus uptime, both read in the same request: they drift apart only if the wall clock
    /// is stepped.
    static let restartTolerance = 0.1

    /// When the server process started, in epoch seconds, from `/health`.
    private func startTime() async throws -> Double {
        let health = try await health()
        return Double(health.timestamp) / 1000 - health.uptimeS
    }

    /// The records after `last` that left the server's buffer while this reader was away: the oldest
    /// record it still holds (of any level or module) tells whether all after `last` are still there.
    private func missedRecords(after last: UInt64?) async throws -> StreamGap.Range? {
        guard let last else { return nil }
        let held = try await logs(LogQuery(limit: 1, sinceSeq: last))
        let next = held.logs.first?.seq ?? held.nextSeq
        return next > last + 1 ? StreamGap.Range(fromSeq: last + 1, toSeq: next - 1) : nil
    }
}

/// What following the log stream produced.
public enum LogFollowEvent: Sendable, Equatable {
    case record(LogRecord)
    /// The server dropped these records before sending them (the reader was too slow).
    case gap(StreamGap.Range)
    /// The connection broke; the next attempt starts after `retryIn`.
    case disconnected(ClientError, attempt: Int, retryIn: Duration)
    /// Connected again. `missed`: records that left the server's buffer while disconnected (some may not
    /// have matched the filters). `serverRestarted`: sequence numbers started over.
    case reconnected(missed: StreamGap.Range?, serverRestarted: Bool)
}

/// How long to wait between reconnection attempts: doubling from `initial` up to `maximum`.
public struct ReconnectPolicy: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(5)) {
        self.initial = initial
        self.maximum = maximum
    }

    public func delay(afterFailures failures: Int) -> Duration {
        let factor = 1 << min(max(failures - 1, 0), 16)
        return min(initial * factor, maximum)
    }
}
