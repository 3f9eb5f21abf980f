import NIOCore
import Synchronization

/// Counts open connections (a channel handler added to every connection's pipeline).
final class ConnectionCounter: Sendable {
    let open = Atomic<Int>(0)
    var count: Int { open.load(ordering: .relaxed) }
}

/// Keeps `ConnectionCounter` in step with the connections' pipelines.
final class ConnectionCountingHandler: ChannelInboundHandler, RemovableChannelHandler {
    // Never unwrapped: reads pass through untouched.
    typealias InboundIn = ByteBuffer
    let counter: ConnectionCounter

    init(counter: ConnectionCounter) { self.counter = counter }

    func handlerAdded(context: ChannelHandlerContext) { counter.open.add(1, ordering: .relaxed) }
    func handlerRemoved(context: ChannelHandlerContext) { counter.open.subtract(1, ordering: .relaxed) }
}
