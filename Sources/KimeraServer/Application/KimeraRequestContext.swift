import Hummingbird
import KimeraCore
import KimeraModels
import KimeraObservability
import NIOCore

/// The request context of the hybrid server: Hummingbird's core storage plus the connection, so
/// access control can ask whether the client is on loopback (only when it needs to).
public struct KimeraRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Nil in in-process router tests.
    let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Bodies are read with an explicit limit (`JSONBody.bytes`); this is the framework's backstop.
    public var maxUploadSize: Int { 2 * 1024 * 1024 }

    var clientIsLoopback: Bool {
        guard let address = channel?.remoteAddress else { return false }
        switch address {
        case .v4(let v4): return (UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24) == 127
        case .v6: return address.ipAddress == "::1" || address.ipAddress?.hasPrefix("::ffff:127.") == true
        case .unixDomainSocket: return true
        }
    }
}
