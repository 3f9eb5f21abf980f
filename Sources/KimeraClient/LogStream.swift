import AsyncHTTPClient
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import NIOCore

/// One line of `GET /debug/logs/stream` that matters to a reader; heartbeats are skipped.
public enum LogStreamEvent: Sendable, Equatable {
    case record(LogRecord)
    /// The server dropped these records before this reader got them.
    case gap(StreamGap.GapPayload)
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
    /// - Returns: events in order, read from the connection only as fast as they are consumed (a slow
    ///   consumer makes the server report a gap rather than this process buffer without bound). The
    ///   sequence throws only when the first connection fails (but for a 503: every stream slot taken,
    ///   retried) or the server rejects the filters (4xx);
    ///   later failures become `.disconnected` and a retry. It ends when the task is cancelled.
    public func followLogs(_ query: LogQuery, sinceSeq: UInt64?, policy: ReconnectPolicy = ReconnectPolicy())
        -> LogFollow
    {
        LogFollow(client: self, query: query, sinceSeq: sinceSeq, policy: policy)
    }

    /// Two start times further apart than this (seconds) are two server processes. A start time is
    /// wall clock minus uptime, both read in the same request: they drift apart only if the wall clock
    /// is stepped.
    static let restartTolerance = 0.1

    /// When the server process started, in epoch seconds, from `/health`.
    func startTime() async throws -> Double {
        let health = try await health()
        return Double(health.timestamp) / 1000 - health.uptimeS
    }

    /// The records after `last` that left the server's buffer while this reader was away: the oldest
    /// record it still holds (of any level or module) tells whether all after `last` are still there.
    func missedRecords(after last: UInt64?) async throws -> StreamGap.GapPayload? {
        guard let last else { return nil }
        let held = try await logs(LogQuery(limit: 1, sinceSeq: last))
        let next = UInt64(clamping: held.logs.first?.seq ?? held.nextSeq)
        return next > last + 1
            ? StreamGap.GapPayload(fromSeq: Int(clamping: last + 1), toSeq: Int(clamping: next - 1)) : nil
    }
}

/// `KimeraClient.followLogs`: the log stream across reconnections.
public struct LogFollow: AsyncSequence, Sendable {
    public typealias Element = LogFollowEvent
    let client: KimeraClient
    let query: LogQuery
    let sinceSeq: UInt64?
    let policy: ReconnectPolicy

    public func makeAsyncIterator() -> Iterator {
        Iterator(client: client, query: query, last: sinceSeq, policy: policy)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let client: KimeraClient
        let query: LogQuery
        /// The last `seq` delivered (or skipped by a gap): where a new connection resumes.
        var last: UInt64?
        let policy: ReconnectPolicy
        var stream: LogStream.Iterator?
        /// When the server connected to started (epoch seconds): another value means it restarted.
        var serverStart: Double?
        var connectedOnce = false
        var failures = 0
        /// How long to wait before the next connection attempt.
        var backoff: Duration?
        /// An event to deliver before reading the stream again (`.reconnected`).
        var pending: LogFollowEvent?

        init(client: KimeraClient, query: LogQuery, last: UInt64?, policy: ReconnectPolicy) {
            self.client = client
            self.query = query
            self.last = last
            self.policy = policy
        }

        public mutating func next() async throws -> LogFollowEvent? {
            while !Task.isCancelled {
                if let event = pending {
                    pending = nil
                    return event
                }
                do {
                    if stream == nil {
                        try await connect()
                        continue
                    }
                    guard let event = try await stream?.next() else {
                        throw ClientError.transport(url: client.baseURL, detail: "the server ended the log stream")
                    }
                    switch event {
                    case .record(let record):
                        // A record at or below the last one delivered was already printed: drop it.
                        let seq = UInt64(clamping: record.seq)
                        if let last, seq <= last { continue }
                        last = seq
                        return .record(record)
                    case .gap(let range):
                        last = Swift.max(last ?? 0, UInt64(clamping: range.toSeq))
                        return .gap(range)
                    }
                } catch {
                    stream = nil
                    let failure = ClientError.classify(
                        error, url: client.baseURL, timeoutSeconds: client.timeout.seconds)
                    if failure == .cancelled || Task.isCancelled { return nil }
                    let rejected = failure.httpStatus.map { (400..<500).contains($0) } ?? false
                    // A server whose stream slots are all taken (503) frees one when a subscriber leaves:
                    // retried like a broken connection, even before the first record.
                    let busy = failure.httpStatus == 503
                    if rejected || (!connectedOnce && !busy) { throw failure }
                    failures += 1
                    let delay = policy.delay(afterFailures: failures)
                    backoff = delay
                    return .disconnected(failure, attempt: failures, retryIn: delay)
                }
            }
            return nil
        }

        /// Opens the stream after `last`; after a break, says what was missed meanwhile.
        private mutating func connect() async throws {
            if let delay = backoff {
                backoff = nil
                try await Task.sleep(for: delay)
            }
            // Sequence numbers start over with the server: its start time tells a restart apart.
            let started = try await client.startTime()
            var reconnected: LogFollowEvent?
            if connectedOnce {
                let restarted = serverStart.map { abs($0 - started) > KimeraClient.restartTolerance } ?? false
                if restarted { last = 0 }
                reconnected = .reconnected(
                    missed: try await client.missedRecords(after: last), serverRestarted: restarted)
            }
            var filters = query
            filters.sinceSeq = last
            filters.limit = nil
            stream = try await client.logStream(filters).makeAsyncIterator()
            serverStart = started
            connectedOnce = true
            failures = 0
            pending = reconnected
        }
    }
}

/// What following the log stream produced.
public enum LogFollowEvent: Sendable, Equatable {
    case record(LogRecord)
    /// The server dropped these records before sending them (the reader was too slow).
    case gap(StreamGap.GapPayload)
    /// The connection broke; the next attempt starts after `retryIn`.
    case disconnected(ClientError, attempt: Int, retryIn: Duration)
    /// Connected again. `missed`: records that left the server's buffer while disconnected (some may not
    /// have matched the filters). `serverRestarted`: sequence numbers started over.
    case reconnected(missed: StreamGap.GapPayload?, serverRestarted: Bool)
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
