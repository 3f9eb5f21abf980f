import AsyncHTTPClient
import Foundation
import KimeraAPI
import KimeraModels
import NIOCore
import NIOHTTP1
import Synchronization

/// A typed async client of the Kimera HTTP API (`docs/API.md`): one method per endpoint, each decoding the
/// `KimeraModels` type the server encodes, each failing with a `ClientError`.
///
/// The client is a value: copies share one `KimeraTransport` (a connection pool), which its maker shuts
/// down once, after the last request.
public struct KimeraClient: Sendable {
    /// The server's base URL without a trailing slash, e.g. `http://127.0.0.1:8001`.
    public let baseURL: String
    /// Sent as `Authorization: Bearer <token>` when set.
    public let token: String?
    /// How long one request may take from connect to the last byte of its body. A log stream's body is
    /// not bounded by it: only its response head is.
    public let timeout: Duration
    public let transport: KimeraTransport

    /// The largest response body read into memory (a 5000-record log page is about 2 MiB).
    public static let maxBodyBytes = 64 * 1024 * 1024
    public static let defaultURL = "http://127.0.0.1:8001"
    /// A connection that reads nothing for this long is given up: a log stream sends a heartbeat every 15 s.
    public static let idleReadTimeout = Duration.seconds(45)

    /// How long one request may take unless the caller says otherwise (`kimera --timeout`).
    public static let defaultTimeout = Duration.seconds(5)

    /// - Throws: `ClientError.invalidURL` when `url` is not an http(s) URL with a host.
    public init(url: String, token: String? = nil, timeout: Duration = defaultTimeout, transport: KimeraTransport) throws {
        baseURL = try Self.normalise(url: url)
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        self.timeout = timeout
        self.transport = transport
    }

    var http: HTTPClient { transport.http }

    /// A client of the same server with another base URL (the shell's `connect`).
    public func connecting(to url: String) throws -> KimeraClient {
        try KimeraClient(url: url, token: token, timeout: timeout, transport: transport)
    }

    /// Checks that `url` can be a base URL and returns it without a trailing slash.
    public static func normalise(url: String) throws -> String {
        let trimmed = url.trimmingCharacters(in: .whitespaces)
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased() else {
            throw ClientError.invalidURL(maskingCredentials(url), reason: "expected http://HOST[:PORT]")
        }
        // A password in a URL ends up in shell history, `ps`, error messages and saved contexts: refused,
        // and never repeated (the token options carry credentials).
        if components.user != nil || components.password != nil {
            throw ClientError.invalidURL(
                maskingCredentials(url),
                reason: "a user name or password in the URL is not accepted; use --token, --token-file or KIMERA_TOKEN")
        }
        guard scheme == "http" || scheme == "https" else {
            throw ClientError.invalidURL(url, reason: "the scheme must be http or https, not \(scheme)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw ClientError.invalidURL(url, reason: "no host; expected \(scheme)://HOST[:PORT]")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw ClientError.invalidURL(url, reason: "port \(port) is out of range")
        }
        guard components.query == nil, components.fragment == nil else {
            throw ClientError.invalidURL(url, reason: "a base URL has no query or fragment")
        }
        var normalised = trimmed
        while normalised.hasSuffix("/") { normalised.removeLast() }
        return normalised
    }

    /// `url` with any `user:password@` shown as `***@`, for messages about a URL that was refused.
    public static func maskingCredentials(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<schemeEnd.upperBound]) + "***" + String(url[at...])
    }
}

/// The HTTP connection pool the clients of one process share. Connection failures are not retried (a
/// refused connection is reported at once, not after the timeout), and a connection that reads nothing
/// for `KimeraClient.idleReadTimeout` is given up.
///
/// A plain `http://` request that is answered whole goes through `PlainHTTP` (a socket of its own, no event
/// loop); AsyncHTTPClient, with its event loop threads, starts only when something needs it (TLS, the log
/// stream, a long-window profile), so a one-shot command over plain HTTP never starts it.
public final class KimeraTransport: Sendable {
    private let readTimeout: Duration
    private let client = Mutex<HTTPClient?>(nil)

    /// `readTimeout`: how long a connection may read nothing; longer only for answers that come late by
    /// design (a CPU profile answers when it ends).
    public init(readTimeout: Duration = KimeraClient.idleReadTimeout, plainHTTP: Bool = true) {
        self.readTimeout = readTimeout
        self.plainHTTP = plainHTTP
    }

    /// The AsyncHTTPClient of this transport, made on first use.
    var http: HTTPClient {
        client.locked { client in
            if let client { return client }
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool.retryConnectionEstablishment = false
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
            configuration.timeout = .init(connect: .seconds(10), read: .nanoseconds(readTimeout.nanoseconds))
            configuration.decompression = .disabled
            let made = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            client = made
            return made
        }
    }

    /// Whether whole answers from plain `http://` servers go through `PlainHTTP` (false: AsyncHTTPClient for
    /// everything, as a test that compares the two asks).
    let plainHTTP: Bool

    /// Closes every connection; no request may follow. Required before the transport is released.
    public func shutdown() async {
        if let http = client.locked({ $0 }) { try? await http.shutdown() }
    }
}

// MARK: - Operations (docs/API.md §3)

extension KimeraClient {
    /// `GET /health`.
    public func health() async throws -> HealthResponse {
        try await generated { try await $0.getHealth().ok.body.json }
    }

    /// `GET /ready`; `ClientError.status(503, …)` while the server is not ready.
    public func ready() async throws -> ReadyResponse {
        try await generated { try await $0.getReady().ok.body.json }
    }

    /// `GET /`.
    public func root(bypassCache: Bool = false) async throws -> RootResponse {
        try await generated { try await $0.getRoot(query: .init(bypassCache: bypassCache ? "true" : nil)).ok.body.json }
    }

    /// `GET /debug/info`.
    public func debugInfo(includeLogs: Bool = true, includeTraces: Bool = true, includeProfiles: Bool = true)
        async throws -> DebugInfo
    {
        try await generated {
            try await $0.getDebugInfo(
                query: .init(
                    includeLogs: String(includeLogs), includeTraces: String(includeTraces),
                    includeProfiles: String(includeProfiles))
            ).ok.body.json
        }
    }

    /// `POST /debug/mode`. `ttl` is a duration as the server reads it (`15m`, `30s`).
    public func setDebugMode(_ enabled: Bool, ttl: String? = nil) async throws -> ModeChangeResponse {
        try await generated { try await $0.setDebugMode(query: .init(enabled: String(enabled), ttl: ttl)).ok.body.json }
    }

    /// `POST /debug/profiling`.
    public func setProfiling(_ enabled: Bool, ttl: String? = nil) async throws -> ModeChangeResponse {
        try await generated { try await $0.setProfiling(query: .init(enabled: String(enabled), ttl: ttl)).ok.body.json }
    }

    /// `GET /debug/logs`.
    public func logs(_ query: LogQuery = LogQuery()) async throws -> LogsResponse {
        try await generated { try await $0.getLogs(query: query.generated).ok.body.json }
    }

    /// `GET /debug/log-level`.
    public func logLevels() async throws -> LogLevelsResponse {
        try await generated { try await $0.getLogLevels().ok.body.json }
    }

    /// `POST /debug/log-level`; `module` nil sets the root level.
    public func setLogLevel(_ level: LogLevel, module: String? = nil, ttl: String? = nil) async throws
        -> LogLevelChangeResponse
    {
        try await generated {
            try await $0.setLogLevel(query: .init(level: level.rawValue, module: module, ttl: ttl)).ok.body.json
        }
    }

    /// `DELETE /debug/log-level`: the module inherits again; `module` nil clears the root level.
    public func unsetLogLevel(module: String? = nil) async throws -> LogLevelChangeResponse {
        try await generated { try await $0.unsetLogLevel(query: .init(module: module)).ok.body.json }
    }

    /// `GET /debug/traces`.
    public func traces(_ query: TraceQuery = TraceQuery()) async throws -> TracesResponse {
        try await generated { try await $0.getTraces(query: query.generated).ok.body.json }
    }

    /// `GET /debug/incidents`: requests kept because they ended badly, newest first.
    public func incidents(route: String? = nil, cause: String? = nil, since: String? = nil, limit: Int? = nil)
        async throws -> IncidentList
    {
        try await generated {
            try await $0.listIncidents(
                query: .init(limit: limit.map(String.init), route: route, cause: cause, since: since)
            ).ok.body.json
        }
    }

    /// `GET /debug/incidents/{id}`.
    public func incident(id: String) async throws -> Incident {
        try await generated { try await $0.getIncident(path: .init(id: id)).ok.body.json }
    }

    /// `GET /debug/profiles`.
    public func profiles(limit: Int? = nil, name: String? = nil) async throws -> ProfilesResponse {
        try await generated { try await $0.getProfiles(query: .init(limit: limit.map(String.init), name: name)).ok.body.json }
    }

    /// `GET /performance/stats`.
    public func performanceStats() async throws -> PerformanceStats {
        try await generated { try await $0.getPerformanceStats().ok.body.json }
    }

    /// `GET /metrics`: the Prometheus text exposition.
    public func metrics() async throws -> String {
        let response = try await send("GET", "/metrics")
        try response.requireSuccess()
        return String(decoding: response.body, as: UTF8.self)
    }
}

// MARK: - The Kimera SWM core (docs/API.md §5)

extension KimeraClient {
    /// `POST /kimera/geoids`.
    public func createGeoid(_ request: CreateGeoidRequest) async throws -> CreateGeoidResponse {
        try await generated { try await $0.createGeoid(body: .json(request)).created.body.json }
    }

    /// `GET /kimera/geoids/{id}`.
    public func geoid(id: String) async throws -> Geoid {
        try await generated { try await $0.getGeoid(path: .init(id: id)).ok.body.json }
    }

    /// `DELETE /kimera/geoids/{id}`.
    public func deleteGeoid(id: String) async throws {
        try await generated { _ = try await $0.deleteGeoid(path: .init(id: id)).noContent }
    }

    /// `GET /kimera/geoids/search`.
    public func searchGeoids(query: String, limit: Int? = nil) async throws -> SearchResponse {
        try await generated { try await $0.searchGeoids(query: .init(query: query, limit: limit.map(String.init))).ok.body.json }
    }

    /// `POST /kimera/contradiction/detect`.
    public func detectContradictions(_ request: DetectRequest) async throws -> DetectResponse {
        try await generated { try await $0.detectContradictions(body: .json(request)).ok.body.json }
    }

    /// `POST /kimera/contradiction/process/contradictions/sync`: processes and waits for the result.
    public func processContradictions(_ request: ProcessRequest) async throws -> ProcessResult {
        try await generated { try await $0.processContradictionsSync(body: .json(request)).ok.body.json }
    }

    /// `POST /kimera/contradiction/process/contradictions`: starts a job (202).
    public func startContradictionJob(_ request: ProcessRequest) async throws -> JobResponse {
        try await generated { try await $0.processContradictions(body: .json(request)).accepted.body.json }
    }

    /// `GET /kimera/contradiction/jobs/{job_id}`.
    public func contradictionJob(id: String) async throws -> JobStatusResponse {
        try await generated { try await $0.getContradictionJob(path: .init(jobID: id)).ok.body.json }
    }

    /// `GET /kimera/scars/{id}`.
    public func scar(id: String) async throws -> Scar {
        try await generated { try await $0.getScar(path: .init(id: id)).ok.body.json }
    }

    /// `GET /kimera/scars/search`.
    public func searchScars(query: String, limit: Int? = nil) async throws -> ScarSearchResponse {
        try await generated { try await $0.searchScars(query: .init(query: query, limit: limit.map(String.init))).ok.body.json }
    }

    /// The vault status (operation `getVaultStatus`).
    public func vaultStatus() async throws -> VaultStatus {
        try await generated { try await $0.getVaultStatus().ok.body.json }
    }

    /// `GET /kimera/vault/geoids/count`.
    public func geoidCount() async throws -> GeoidCountResponse {
        try await generated { try await $0.getGeoidCount().ok.body.json }
    }

    /// `GET /kimera/vault/scars/count`.
    public func scarCount() async throws -> ScarCountResponse {
        try await generated { try await $0.getScarCount().ok.body.json }
    }

    /// `GET /kimera/vault/vaults/{vault_id}`. Any id is sent as given, so that the server's 404 names a
    /// vault that does not exist.
    public func vaultContents(vaultID: String, limit: Int? = nil) async throws -> VaultContents {
        try await generated {
            try await $0.getVaultContents(path: .init(vaultID: vaultID), query: .init(limit: limit.map(String.init)))
                .ok.body.json
        }
    }

    /// `POST /kimera/vault/vaults/rebalance`.
    public func rebalanceVaults(byWeight: Bool = false) async throws -> RebalanceResponse {
        try await generated { try await $0.rebalanceVaults(query: .init(byWeight: String(byWeight))).ok.body.json }
    }

    /// `GET /kimera/status`.
    public func kimeraStatus() async throws -> KimeraStatus {
        try await generated { try await $0.getKimeraStatus().ok.body.json }
    }

    /// `GET /kimera/system/health`.
    public func systemHealth() async throws -> SystemHealth {
        try await generated { try await $0.getSystemHealth().ok.body.json }
    }

    /// `GET /kimera/system/stability`.
    public func stability() async throws -> StabilityMetrics {
        try await generated { try await $0.getStability().ok.body.json }
    }

    /// `POST /kimera/system/cycle`.
    public func runCycle() async throws -> CycleResult {
        try await generated { try await $0.runCycle().ok.body.json }
    }

    /// `POST /kimera/embed`.
    public func embed(text: String) async throws -> EmbedResponse {
        try await generated { try await $0.embedText(body: .json(.init(text: text))).ok.body.json }
    }

    /// `POST /kimera/semantic_features`.
    public func semanticFeatures(text: String) async throws -> EmbedResponse {
        try await generated { try await $0.semanticFeatures(body: .json(.init(text: text))).ok.body.json }
    }
}

// MARK: - Queries

/// The filters of `GET /debug/logs` and `/debug/logs/stream`.
public struct LogQuery: Sendable, Equatable {
    public var limit: Int?
    /// A level name; a minimum unless `exact`.
    public var level: LogLevel?
    public var exact: Bool
    /// A logger label; matches it and every label below it.
    public var module: String?
    public var requestID: String?
    /// Only records with a larger `seq`.
    public var sinceSeq: UInt64?

    public init(
        limit: Int? = nil, level: LogLevel? = nil, exact: Bool = false, module: String? = nil, requestID: String? = nil,
        sinceSeq: UInt64? = nil
    ) {
        self.limit = limit
        self.level = level
        self.exact = exact
        self.module = module
        self.requestID = requestID
        self.sinceSeq = sinceSeq
    }

    var generated: Operations.GetLogs.Input.Query {
        .init(
            limit: limit.map(String.init), level: level?.rawValue, module: module, requestID: requestID,
            sinceSeq: sinceSeq.map(String.init), exact: exact ? "true" : nil)
    }

    /// The same filters for the log stream, which is sent by hand (`logStream`).
    var items: [(String, String)] {
        var items = optional("level", level?.rawValue)
        if exact { items.append(("exact", "true")) }
        items += optional("module", module) + optional("request_id", requestID)
        return items + optional("since_seq", sinceSeq.map(String.init))
    }
}

/// The filters of `GET /debug/traces`.
public struct TraceQuery: Sendable, Equatable {
    public var limit: Int?
    /// A substring of the path.
    public var pathFilter: String?
    public var method: String?
    public var status: Int?
    public var minDurationMs: Double?
    public var requestID: String?
    public var slowOnly: Bool

    public init(
        limit: Int? = nil, pathFilter: String? = nil, method: String? = nil, status: Int? = nil,
        minDurationMs: Double? = nil, requestID: String? = nil, slowOnly: Bool = false
    ) {
        self.limit = limit
        self.pathFilter = pathFilter
        self.method = method
        self.status = status
        self.minDurationMs = minDurationMs
        self.requestID = requestID
        self.slowOnly = slowOnly
    }

    var generated: Operations.GetTraces.Input.Query {
        .init(
            limit: limit.map(String.init), pathFilter: pathFilter, method: method, status: status.map(String.init),
            minDurationMs: minDurationMs.map { String($0) }, requestID: requestID, slow: slowOnly ? "true" : nil)
    }
}

private func optional(_ name: String, _ value: String?) -> [(String, String)] {
    value.map { [(name, $0)] } ?? []
}

// MARK: - Raw requests

/// A response as it came: for the shell's `get PATH` / `post PATH` and for endpoints without a model.
public struct RawResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Data
    /// The URL that was requested.
    public var url: String

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Throws `ClientError.status` (with the decoded error body) unless the status is 2xx.
    public func requireSuccess() throws {
        guard (200..<300).contains(status) else {
            throw ClientError.status(status, body: try? JSONDecoder().decode(ErrorBody.self, from: body), url: url)
        }
    }

    /// The body decoded as `T`, after `requireSuccess()`.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try requireSuccess()
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch {
            throw ClientError.undecodable(url: url, type: "\(T.self)", detail: Self.describe(error))
        }
    }

    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing \(Self.path(context.codingPath + [key]))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(context.debugDescription) at \(Self.path(context.codingPath))"
        @unknown default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty
            ? "the top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

extension KimeraClient {
    /// Sends one request to `path` (with `query`) and reads the whole response within `timeout`.
    /// Only a transport failure throws; an error status is returned for the caller to judge.
    /// `method` is an HTTP method name (`GET`, `POST`, …); `path` starts with `/`. `headers` are added to
    /// the client's own (`X-Kimera-Debug: 1` for an escalated request).
    public func send(
        _ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil,
        headers extra: [(String, String)] = []
    ) async throws -> RawResponse {
        let url = self.url(path, query: query)
        var requestHeaders = headers(hasBody: body != nil)
        for (name, value) in extra { requestHeaders.replaceOrAdd(name: name, value: value) }
        if transport.plainHTTP, let target = PlainHTTP.target(url) {
            do {
                let answer = try await PlainHTTP.exchange(
                    method: method.uppercased(), target: target, headers: requestHeaders.map { ($0.name, $0.value) },
                    body: body.map { Array($0) }, timeout: timeout, maxBodyBytes: Self.maxBodyBytes)
                return RawResponse(status: answer.status, headers: answer.headers, body: Data(answer.body), url: url)
            } catch {
                throw ClientError.classify(error, url: url, timeoutSeconds: timeout.seconds)
            }
        }
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method.uppercased())
        request.headers = requestHeaders
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let http = self.http
        let timeout = self.timeout
        let prepared = request
        do {
            return try await withThrowingTaskGroup(of: RawResponse?.self) { group in
                group.addTask {
                    let response = try await http.execute(prepared, timeout: .nanoseconds(timeout.nanoseconds))
                    let bytes = try await response.body.collect(upTo: Self.maxBodyBytes)
                    return RawResponse(
                        status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                        body: Data(bytes.readableBytesView), url: url)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else {
                    throw ClientError.timeout(url: url, seconds: timeout.seconds)
                }
                return response
            }
        } catch {
            throw ClientError.classify(error, url: url, timeoutSeconds: timeout.seconds)
        }
    }

    func headers(hasBody: Bool) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "User-Agent", value: "kimera-cli/\(KimeraVersion.current)")
        headers.add(name: "Accept", value: "application/json")
        if hasBody { headers.add(name: "Content-Type", value: "application/json") }
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        return headers
    }

    /// `path` (already starting with `/`) below the base URL, with `query` percent-encoded.
    func url(_ path: String, query: [(String, String)]) -> String {
        guard !query.isEmpty else { return baseURL + path }
        let encoded = query.map { Self.queryComponent($0.0) + "=" + Self.queryComponent($0.1) }
        return baseURL + path + "?" + encoded.joined(separator: "&")
    }

    static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func queryComponent(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }
}

extension KimeraClient {
    /// The encodings `GET /debug/pprof/profile` answers in.
    public enum ProfileFormat: String, Sendable {
        /// Gzipped pprof `profile.proto`, for `go tool pprof`.
        case pprof
        /// Folded stacks (`a;b;c 42`), for flame-graph tools.
        case folded
    }

    /// `GET /debug/pprof/profile`: samples the server's CPU for `seconds` at `hz` and returns the profile's
    /// bytes.
    public func cpuProfile(seconds: Int, hz: Int, format: ProfileFormat = .pprof) async throws -> Data {
        try await windowProfile(
            "/debug/pprof/profile", seconds: seconds,
            query: [("seconds", String(seconds)), ("hz", String(hz)), ("format", format.rawValue)])
    }

    /// `GET /debug/pprof/allocs`: samples the server's allocations for `seconds`, one per `rate` bytes on
    /// average, and returns the profile's bytes.
    public func allocationProfile(seconds: Int, rate: Int, format: ProfileFormat = .pprof) async throws -> Data {
        try await windowProfile(
            "/debug/pprof/allocs", seconds: seconds,
            query: [("seconds", String(seconds)), ("rate", String(rate)), ("format", format.rawValue)])
    }

    /// A profile over a window: the answer comes when the window ends, so this waits `seconds` plus the usual
    /// timeout, on a connection of its own that may stay silent that long.
    private func windowProfile(_ path: String, seconds: Int, query: [(String, String)]) async throws -> Data {
        let window = Duration.seconds(seconds)
        let transport = KimeraTransport(readTimeout: window + max(timeout, .seconds(30)))
        let response: RawResponse
        do {
            let client = try KimeraClient(
                url: baseURL, token: token, timeout: window + max(timeout, .seconds(30)), transport: transport)
            response = try await client.send("GET", path, query: query)
        } catch {
            await transport.shutdown()
            throw error
        }
        await transport.shutdown()
        try response.requireSuccess()
        return response.body
    }

    /// `GET /debug/pprof/threads`: every thread's current stack, as text.
    public func threadStacks() async throws -> String {
        let response = try await send("GET", "/debug/pprof/threads")
        try response.requireSuccess()
        return String(decoding: response.body, as: UTF8.self)
    }

    /// `GET /debug/histograms`: every series' histogram, for merging across servers.
    public func histograms() async throws -> HistogramsResponse {
        try await generated { try await $0.getHistograms().ok.body.json }
    }
}
