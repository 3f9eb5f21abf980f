import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization
import KimeraModels

/// The open connections: counted for the connection cap (`RequestLimitsMiddleware`), and listed so that
/// shutdown can say what is still in flight and close what is left when its grace period ends. Also holds
/// the drain switch: while it is on, every response says `Connection: close` and its connection closes
/// after it, so a balancer's pooled keep-alive connections move to the other instances.
///
/// Per request nothing is locked: each connection's request state lives in its `ConnectionTrackingHandler`
/// on the connection's event loop and is read there only when shutdown asks.
final class ConnectionRegistry: Sendable {
    struct Entry: Sendable {
        let channel: any Channel
        let handler: NIOLoopBound<ConnectionTrackingHandler>
    }

    /// What one connection is doing when shutdown asks.
    struct InFlight: Sendable, CustomStringConvertible {
        var method: String
        var path: String
        var elapsed: Duration
        /// Body bytes received so far, and how many the request announced (nil: no Content-Length).
        var bodyBytes: Int
        var declaredBytes: Int?
        /// Whether the whole request has arrived (false: the client is still sending).
        var requestComplete: Bool

        var description: String {
            let seconds = elapsed.seconds
            var text = "\(method) \(path) for \(String(format: "%.1f", seconds)) s"
            if !requestComplete {
                text += ", body \(bodyBytes) of \(declaredBytes.map(String.init) ?? "?") bytes received"
            }
            return text
        }
    }

    let open = Atomic<Int>(0)
    /// On from the stop signal: responses carry `Connection: close` and end their connection.
    let closingAfterResponse = Atomic<Bool>(false)
    /// Protects the open connections, keyed by channel.
    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])

    var count: Int { open.load(ordering: .relaxed) }

    func register(_ entry: Entry) {
        open.add(1, ordering: .relaxed)
        entries.locked { $0[ObjectIdentifier(entry.channel)] = entry }
    }

    func unregister(_ channel: any Channel) {
        open.subtract(1, ordering: .relaxed)
        entries.locked { $0[ObjectIdentifier(channel)] = nil }
    }

    /// The requests in flight now, oldest first.
    func inFlight() async -> [InFlight] {
        let entries = self.entries.locked { Array($0.values) }
        var requests: [InFlight] = []
        for entry in entries {
            let handler = entry.handler
            if let request = try? await entry.channel.eventLoop.submit({ handler.value.inFlight }).get() {
                requests.append(request)
            }
        }
        return requests.sorted { $0.elapsed > $1.elapsed }
    }

    /// Closes every open connection, requests in flight or half-received included; returns how many.
    @discardableResult
    func closeAll() -> Int {
        let channels = entries.locked { $0.values.map(\.channel) }
        for channel in channels { channel.close(promise: nil) }
        return channels.count
    }
}

/// Keeps `ConnectionRegistry` in step with one connection (added to every connection's pipeline after the
/// HTTP codec): registers it, tracks the request being served, and while the registry drains marks each
/// response `Connection: close` and closes the connection once the response has been written.
final class ConnectionTrackingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let registry: ConnectionRegistry
    /// The request being served (head read, response end not yet written).
    private var request: HTTPRequest?
    private var startedAt = ContinuousClock.now
    private var bodyBytes = 0
    private var requestComplete = false
    private var closeAfterResponse = false

    init(registry: ConnectionRegistry) { self.registry = registry }

    var inFlight: ConnectionRegistry.InFlight? {
        guard let request else { return nil }
        return ConnectionRegistry.InFlight(
            method: request.method.rawValue, path: request.path ?? "", elapsed: ContinuousClock.now - startedAt,
            bodyBytes: bodyBytes, declaredBytes: request.headerFields[.contentLength].flatMap { Int($0) },
            requestComplete: requestComplete)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        registry.register(.init(channel: context.channel, handler: NIOLoopBound(self, eventLoop: context.eventLoop)))
    }

    func handlerRemoved(context: ChannelHandlerContext) { registry.unregister(context.channel) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
            startedAt = .now
            bodyBytes = 0
            requestComplete = false
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
        case .end:
            requestComplete = true
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where registry.closingAfterResponse.load(ordering: .relaxed):
            head.headerFields[.connection] = "close"
            closeAfterResponse = true
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end:
            request = nil
            guard closeAfterResponse else {
                context.write(data, promise: promise)
                return
            }
            // Close once the response's last byte is out, not before: the client must get all of it.
            let written = promise ?? context.eventLoop.makePromise()
            let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.futureResult.whenComplete { _ in loopBoundContext.value.close(promise: nil) }
            context.writeAndFlush(data, promise: written)
        case .head, .body:
            context.write(data, promise: promise)
        }
    }
}
