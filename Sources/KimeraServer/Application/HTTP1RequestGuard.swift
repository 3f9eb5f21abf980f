#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraModels
import KimeraObservability
import NIOCore
import NIOHTTP1

/// What the HTTP/1 decoder hands on, checked before Hummingbird sees it, at the one place where the
/// HTTP version and the raw framing are still known (docs/API.md §1 "Malformed requests"):
/// - a request the decoder cannot parse gets a JSON error body like every other error — 414 for a request
///   line over the decoder's limit, 431 for headers over it (bytes or field count), 400 otherwise — and the
///   connection is closed, instead of Hummingbird's empty 400;
/// - a `Transfer-Encoding` other than `chunked` (gzip, deflate, identity, anything unknown) is a 501 that
///   names it, and the connection is closed: the body's framing is unknown, so nothing after it can be read;
/// - `CONNECT` is a 405 (this is no proxy) and the connection is closed;
/// - `Expect: 100-continue` is answered with `100 Continue` at once (but for a body declared over the limit);
/// - an HTTP/1.0 request without `Connection: keep-alive` is marked `Connection: close`, so that both the
///   fast path and Hummingbird close the connection after the response (RFC 9112 §9.3).
/// A request's head that has gone on is answered by the rest of the pipeline; an error after it (a bad
/// chunk in its body) is left to Hummingbird, which closes the connection.
final class HTTP1RequestGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Whether the bytes of the current request line are still coming, to tell 414 from 431.
    let requestLine: RequestLineWatch
    /// Requests handed on whose response has not ended yet.
    private var unanswered = 0
    /// Set once this handler answered and closes the connection: what still arrives is dropped.
    private var refused = false

    /// The body limit: a request that announces more gets no `100 Continue` (its 413 comes first).
    let maxBodyBytes: Int

    init(requestLine: RequestLineWatch, maxBodyBytes: Int) {
        self.requestLine = requestLine
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        switch unwrapInboundIn(data) {
        case .head(var head):
            requestLine.messageStarted()
            if head.method == .CONNECT {
                // Not a proxy: no route serves CONNECT, and its authority-form target is no path.
                refuse(
                    context, status: .methodNotAllowed, code: .methodNotAllowed,
                    message: "CONNECT is not served: this server is not a proxy.")
                return
            }
            if let encoding = Self.unsupportedTransferEncoding(head.headers) {
                refuse(
                    context, status: .notImplemented, code: .notImplemented,
                    message:
                        "Transfer-Encoding \(encoding) is not supported; send the body with Content-Length or Transfer-Encoding: chunked."
                )
                return
            }
            if head.version.major == 1 && head.version.minor == 0 && !head.isKeepAlive {
                head.headers.replaceOrAdd(name: "connection", value: "close")
            }
            // `Expect: 100-continue`: the client waits for a go-ahead before the body (curl a whole second).
            // Given at once unless the declared body is over the limit, or an earlier response is still
            // being written (a 100 must not land inside it).
            if head.version.minor >= 1, unanswered == 0,
                head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }),
                (head.headers["content-length"].first.flatMap { Int($0) } ?? 0) <= maxBodyBytes
            {
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .continue))), promise: nil)
            }
            unanswered += 1
            context.fireChannelRead(wrapInboundOut(.head(head)))
        case .body, .end:
            if case .end = unwrapInboundIn(data) { requestLine.messageEnded() }
            context.fireChannelRead(data)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError, unanswered == 0, !refused else {
            return context.fireErrorCaught(error)
        }
        switch parserError {
        case .headerOverflow where requestLine.lineTooLong:
            refuse(
                context, status: .uriTooLong, code: .uriTooLong,
                message: "The request line is longer than the server reads (\(Self.fieldLimit / 1024) KiB).")
        case .headerOverflow:
            refuse(
                context, status: .requestHeaderFieldsTooLarge, code: .headersTooLarge,
                message:
                    "The request headers are larger than the server reads (\(Self.fieldLimit / 1024) KiB, at most \(Self.fieldCountLimit) fields)."
            )
        default:
            refuse(
                context, status: .badRequest, code: .badRequest,
                message: "The request is not valid HTTP/1.1 (\(parserError)).")
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), unanswered > 0 { unanswered -= 1 }
        context.write(data, promise: promise)
    }

    /// The decoder's limits (`KimeraHTTP1Channel`), named in the error messages.
    static let fieldLimit = 80 * 1024
    static let fieldCountLimit = 1000

    /// The coding named by `Transfer-Encoding` when it is anything but `chunked` alone.
    static func unsupportedTransferEncoding(_ headers: HTTPHeaders) -> String? {
        let codings = headers["transfer-encoding"].flatMap { $0.split(separator: ",") }.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }.filter { !$0.isEmpty }
        guard !codings.isEmpty, codings != ["chunked"] else { return nil }
        return codings.first { $0 != "chunked" } ?? codings.joined(separator: ", ")
    }

    /// Answers with the JSON error body and closes the connection once it is written.
    private func refuse(_ context: ChannelHandlerContext, status: HTTPResponseStatus, code: ErrorCode, message: String) {
        refused = true
        let requestID = RequestIdentity.generate()
        let body = ErrorBody(error: code.rawValue, message: message, requestID: requestID)
        let bytes = (try? JSONBody.encoder.encode(body)) ?? Data(#"{"error":"\#(code)"}"#.utf8)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json; charset=utf-8")
        headers.add(name: "content-length", value: String(bytes.count))
        headers.add(name: "x-request-id", value: requestID)
        headers.add(name: "connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
        // The write completes on the context's event loop: NIOLoopBound carries the context there.
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }
}

/// Watches the raw bytes before the HTTP decoder for the current request line, so that a parser overflow
/// can be told apart: in the request line (414) or in the headers (431). Shared by the two handlers of one
/// connection, on its event loop only.
final class RequestLineWatch {
    /// Bytes of the current request line seen so far; final once its newline came.
    private(set) var lineBytes = 0
    private var lineEnded = false
    /// Whether the next bytes start a request (nothing of it seen yet).
    var atMessageStart: Bool { lineBytes == 0 && !lineEnded }
    /// Whether the request line is longer than the decoder reads (the overflow was the URI).
    var lineTooLong: Bool { lineBytes >= HTTP1RequestGuard.fieldLimit }

    func messageStarted() { lineEnded = true }
    /// The next bytes begin the next request's line.
    func messageEnded() {
        lineBytes = 0
        lineEnded = false
    }
    func saw(_ buffer: ByteBuffer) {
        guard !lineEnded else { return }
        if let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            lineBytes += newline - buffer.readableBytesView.startIndex
            lineEnded = true
        } else {
            lineBytes += buffer.readableBytes
        }
    }
}

/// The raw-bytes side of `RequestLineWatch`: looks, and passes everything on unchanged — but for a
/// `CONNECT`, which it answers itself with a 405 and the JSON error body, then closes. (NIO's response
/// encoder gives every response to a CONNECT no body at all, so the answer is written here, before it.)
final class RequestLineWatchHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let watch: RequestLineWatch
    private var refused = false
    init(watch: RequestLineWatch) { self.watch = watch }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let buffer = unwrapInboundIn(data)
        if watch.atMessageStart && buffer.readableBytesView.starts(with: "CONNECT ".utf8) {
            refused = true
            let requestID = RequestIdentity.generate()
            let body = ErrorBody(
                error: ErrorCode.methodNotAllowed.rawValue, message: "CONNECT is not served: this server is not a proxy.",
                requestID: requestID)
            let bytes = (try? JSONBody.encoder.encode(body)) ?? Data()
            var response = context.channel.allocator.buffer(capacity: 256 + bytes.count)
            response.writeString(
                "HTTP/1.1 405 Method Not Allowed\r\ncontent-type: application/json; charset=utf-8\r\n"
                    + "content-length: \(bytes.count)\r\nx-request-id: \(requestID)\r\nconnection: close\r\n\r\n")
            response.writeBytes(bytes)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(response)).whenComplete { _ in bound.value.close(promise: nil) }
            return
        }
        watch.saw(buffer)
        context.fireChannelRead(data)
    }
}
