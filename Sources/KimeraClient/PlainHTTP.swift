import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One HTTP/1.1 exchange with an `http://` server over a socket of its own, on a thread of its own: what the
/// command line's one-shot requests go through (docs/CLI.md "Start-up"). A one-shot command used to spend
/// about a quarter of its CPU starting AsyncHTTPClient and its NIO event loop for a single request; this
/// asks for one connection, writes the request with `Connection: close` and reads the answer until its
/// `Content-Length`, its last chunk or the end of the stream, within the client's timeout. TLS (`https://`),
/// the log stream and the long-window profiles stay on AsyncHTTPClient.
enum PlainHTTP {
    /// Where an `http://` URL points: `host`, `port` and the request target (`/path?query`).
    struct Target: Equatable {
        var host: String
        var port: Int
        var requestTarget: String
        /// `host:port` as the `Host` header gives it (`[::1]:8001` for IPv6).
        var authority: String
    }

    /// The answer: status, headers in the order they came, and the body.
    struct Answer {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
    }

    enum Failure: Error {
        case unresolved
        case connect(errno: Int32)
        case timeout
        case cancelled
        case closed(String)
        case malformed(String)
        case tooLarge(Int)
    }

    /// The target of a plain `http://` URL; nil for anything else (https, credentials, a malformed authority).
    static func target(_ url: String) -> Target? {
        guard url.utf8.count > 7, url.prefix(7).lowercased() == "http://" else { return nil }
        let rest = url.dropFirst(7)
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = String(rest[..<slash])
        var path = String(rest[slash...])
        if path.isEmpty || path.first == "?" { path = "/" + path }
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        let host: Substring
        var portText: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { return nil }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority[...]
        }
        var port = 80
        if let portText {
            guard let parsed = Int(portText), (1...65535).contains(parsed) else { return nil }
            port = parsed
        }
        guard !host.isEmpty else { return nil }
        return Target(host: String(host), port: port, requestTarget: path, authority: authority)
    }

    /// Runs the exchange on a thread of its own (the socket blocks; the cooperative pool must not) and waits
    /// for it; cancelling the task ends it within 50 ms.
    static func exchange(
        method: String, target: Target, headers: [(String, String)], body: [UInt8]?, timeout: Duration,
        maxBodyBytes: Int
    ) async throws(Failure) -> Answer {
        let cancelled = Flag()
        let deadline = ContinuousClock.now + timeout
        let result: Result<Answer, Failure> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(
                        returning: Result { () throws(Failure) -> Answer in
                            try blockingExchange(
                                method: method, target: target, headers: headers, body: body, deadline: deadline,
                                maxBodyBytes: maxBodyBytes, cancelled: cancelled)
                        })
                }
            }
        } onCancel: {
            cancelled.set()
        }
        return try result.get()
    }

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    /// The exchange itself, blocking until it is done, the deadline passes or `cancelled` is set.
    static func blockingExchange(
        method: String, target: Target, headers: [(String, String)], body: [UInt8]?,
        deadline: ContinuousClock.Instant, maxBodyBytes: Int, cancelled: Flag
    ) throws(Failure) -> Answer {
        let socket = try connect(target, deadline: deadline, cancelled: cancelled)
        defer { close(socket) }
        var request = "\(method) \(target.requestTarget) HTTP/1.1\r\nHost: \(target.authority)\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if let body { request += "Content-Length: \(body.count)\r\n" }
        request += "Connection: close\r\n\r\n"
        try write(Array(request.utf8) + (body ?? []), to: socket, deadline: deadline, cancelled: cancelled)
        return try readAnswer(
            from: socket, method: method, deadline: deadline, maxBodyBytes: maxBodyBytes, cancelled: cancelled)
    }

    /// A connected, non-blocking socket to the first address of `target` that accepts.
    private static func connect(_ target: Target, deadline: ContinuousClock.Instant, cancelled: Flag) throws(Failure)
        -> Int32
    {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(target.host, String(target.port), &hints, &list) == 0, let first = list else {
            throw .unresolved
        }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = ECONNREFUSED
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let address = next {
            next = address.pointee.ai_next
            let socket = Glibc.socket(
                address.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
                    | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard socket >= 0 else {
                lastError = errno
                continue
            }
            if Glibc.connect(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return socket }
            guard errno == EINPROGRESS else {
                lastError = errno
                close(socket)
                continue
            }
            do {
                try wait(socket, for: Int16(POLLOUT), deadline: deadline, cancelled: cancelled)
            } catch {
                close(socket)
                throw error
            }
            var status: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(socket, SOL_SOCKET, SO_ERROR, &status, &length)
            if status == 0 { return socket }
            lastError = status
            close(socket)
        }
        throw .connect(errno: lastError)
    }

    /// Waits until `socket` is ready for `events`, in slices of 50 ms so that a cancellation is seen.
    private static func wait(_ socket: Int32, for events: Int16, deadline: ContinuousClock.Instant, cancelled: Flag)
        throws(Failure)
    {
        while true {
            if cancelled.isSet { throw .cancelled }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw .timeout }
            let slice = min(left, .milliseconds(50))
            var descriptor = pollfd(fd: socket, events: events, revents: 0)
            let milliseconds = Int32(max(1, slice.milliseconds))
            let ready = poll(&descriptor, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .closed(String(cString: strerror(errno))) }
        }
    }

    private static func write(_ bytes: [UInt8], to socket: Int32, deadline: ContinuousClock.Instant, cancelled: Flag)
        throws(Failure)
    {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written > 0 {
                offset += written
            } else if written < 0 && (errno == EAGAIN || errno == EINTR) {
                try wait(socket, for: Int16(POLLOUT), deadline: deadline, cancelled: cancelled)
            } else {
                throw .closed("the connection was reset")
            }
        }
    }

    /// Reads the status line, the headers and the body (by `Content-Length`, chunked, or until the server
    /// closes), within the deadline.
    private static func readAnswer(
        from socket: Int32, method: String, deadline: ContinuousClock.Instant, maxBodyBytes: Int, cancelled: Flag
    ) throws(Failure) -> Answer {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        /// Reads more into `buffer`; false at the end of the stream.
        func fill() throws(Failure) -> Bool {
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                if count > 0 {
                    buffer.append(contentsOf: chunk[..<count])
                    return true
                }
                if count == 0 { return false }
                guard errno == EAGAIN || errno == EINTR else { throw .closed("the connection was reset") }
                try wait(socket, for: Int16(POLLIN), deadline: deadline, cancelled: cancelled)
            }
        }
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if let found = firstRange(of: separator, in: buffer) {
                headEnd = found
                break
            }
            guard buffer.count < 64 * 1024 else { throw .malformed("response headers over 64 KiB") }
            guard try fill() else { throw .closed("the server closed the connection") }
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw .malformed("not an HTTP/1.1 answer")
        }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name }?.1
        }
        var body = Array(buffer[(headEnd! + 4)...])
        buffer = []
        if method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status) {
            return Answer(status: status, headers: headers, body: [])
        }
        if header("transfer-encoding")?.lowercased().contains("chunked") == true {
            buffer = body
            body = []
            var position = 0
            while true {
                var lineEnd = firstRange(of: [13, 10], in: buffer, from: position)
                while lineEnd == nil {
                    guard try fill() else { throw .closed("the server closed the connection mid-body") }
                    lineEnd = firstRange(of: [13, 10], in: buffer, from: position)
                }
                let sizeText = String(decoding: buffer[position..<lineEnd!], as: UTF8.self)
                guard let size = Int(sizeText.split(separator: ";")[0].trimmingCharacters(in: .whitespaces), radix: 16),
                    size >= 0
                else { throw .malformed("a bad chunk size") }
                position = lineEnd! + 2
                if size == 0 { break }
                // Compared without adding: a chunk size near Int.max must be refused, not overflow.
                guard size <= maxBodyBytes - body.count else { throw .tooLarge(maxBodyBytes) }
                while buffer.count < position + size + 2 {
                    guard try fill() else { throw .closed("the server closed the connection mid-body") }
                }
                body.append(contentsOf: buffer[position..<(position + size)])
                position += size + 2
            }
            return Answer(status: status, headers: headers, body: body)
        }
        if let lengthText = header("content-length") {
            guard let length = Int(lengthText), length >= 0 else { throw .malformed("a bad Content-Length") }
            guard length <= maxBodyBytes else { throw .tooLarge(maxBodyBytes) }
            buffer = body
            while buffer.count < length {
                guard try fill() else { throw .closed("the server closed the connection mid-body") }
            }
            return Answer(status: status, headers: headers, body: Array(buffer[..<length]))
        }
        buffer = body
        repeat {
            guard buffer.count <= maxBodyBytes else { throw .tooLarge(maxBodyBytes) }
        } while try fill()
        return Answer(status: status, headers: headers, body: buffer)
    }

    private static func firstRange(of needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard haystack.count >= needle.count + start else { return nil }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && haystack[index..<(index + needle.count)].elementsEqual(needle) {
                return index
            }
            index += 1
        }
        return nil
    }
}
