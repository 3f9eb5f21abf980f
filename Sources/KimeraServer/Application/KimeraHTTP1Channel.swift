import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1 child channel (`HTTP1Channel`), assembled so that the fast path can sit after the
/// connection-state handler: request-line watch → HTTP/1 codec → `HTTP1RequestGuard` → HTTP types codec → `ConnectionTrackingHandler` →
/// `HTTPConnectionStateHandler` (idle timeout, quiesce) → `FastPathHandler` → the async responder.
/// `HTTP1Channel`'s additional handlers go before the connection-state handler, where the fast path's
/// responses would escape the idle timer; hence this channel. The requests are served by Hummingbird's
/// own `handleHTTP` loop, as with `HTTP1Channel`.
struct KimeraHTTP1Channel: HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let responder: HTTPChannelHandler.Responder
    let connections: ConnectionRegistry
    let idleTimeout: Duration?
    /// Nil turns the fast path off (`fast_path: false`): every request goes to the responder.
    let fastPath: FastPathResponder?
    /// The request body limit (`limits.max_body_bytes`), for `Expect: 100-continue`.
    var maxBodyBytes = 1 << 20

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // As HTTP1Channel: pipelining is handled by the async channel, errors by the application,
            // header validation by the HTTP types; its default decoder limits.
            var decoderLimits = NIOHTTPDecoderLimitConfiguration()
            decoderLimits.maxHeaderFieldSize = HTTP1RequestGuard.fieldLimit
            decoderLimits.maxHeaderListSize = HTTP1RequestGuard.fieldLimit
            decoderLimits.maxHeaderFieldCount = HTTP1RequestGuard.fieldCountLimit
            let requestLine = RequestLineWatch()
            try channel.pipeline.syncOperations.addHandler(RequestLineWatchHandler(watch: requestLine))
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: decoderLimits)
            // Malformed requests, unknown transfer codings and HTTP/1.0's close get their answer here.
            try channel.pipeline.syncOperations.addHandler(HTTP1RequestGuard(requestLine: requestLine, maxBodyBytes: maxBodyBytes))
            try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try channel.pipeline.syncOperations.addHandler(ConnectionTrackingHandler(registry: connections))
            try channel.pipeline.syncOperations.addHandler(
                HTTPConnectionStateHandler(idleTimeout: idleTimeout, logger: logger))
            if let fastPath {
                try channel.pipeline.syncOperations.addHandler(FastPathHandler(responder: fastPath))
            }
            return try NIOAsyncChannel(
                wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}
