import KimeraCore
import KimeraModels
import KimeraObservability

/// Who may use the debug API and the mutating endpoints, and the limits that keep hostile clients out.
public struct SecuritySettings: Sendable, Equatable {
    /// Clients on loopback need no token. Off makes every client show a token (used by tests on 127.0.0.1).
    public var trustLoopback = true
    /// The bearer token; from `KIMERA_ADMIN_TOKEN`, else generated at start into `<data-dir>/admin.token`.
    public var adminToken: String?
    /// Where the generated token was written, for the banner.
    public var adminTokenFile: String?
    /// Browser origins allowed to send mutating requests; any other `Origin` is refused.
    public var allowedOrigins: [String] = []
    /// Open connections past this get a 503.
    public var maxConnections = 1000
    public var maxURIBytes = 8192
    public var maxHeaderBytes = 32 * 1024
    /// A connection with nothing to read or write for this long is closed.
    public var idleTimeoutSeconds = 60

    public init() {}

    /// True when `host` can only be reached from this machine.
    public static func isLoopback(host: String) -> Bool {
        let lowered = host.lowercased()
        return lowered == "localhost" || lowered == "::1" || lowered == "[::1]" || lowered.hasPrefix("127.")
    }
}
