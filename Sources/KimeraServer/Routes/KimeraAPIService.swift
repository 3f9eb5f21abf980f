import HTTPTypes
import Hummingbird
import KimeraAPI
import KimeraCore
import KimeraModels
import KimeraObservability
import Logging
import OpenAPIRuntime

/// The server side of `openapi.json`: the generated `APIProtocol`, one method per operation, registered
/// by the generated `registerHandlers` on the route table (`OpenAPITransport.swift`; docs/ARCHITECTURE.md
/// "The contract"). Each method takes the operation's generated input and answers its generated output;
/// an error it throws (`APIError`, a vault error) becomes Kimera's JSON error body as before.
///
/// The query parameters arrive as text (the generator reads them so, `scripts/gen-openapi`): each method
/// reads them through `QueryReader`, whose 400s name the parameter and the allowed values.
///
/// The `/kimera` operations are in `KimeraOperations.swift`, the debug API in `DebugOperations.swift`.
/// Eight operations are served by hand and never reach this type (`handServed`).
struct KimeraAPIService: APIProtocol {
    let engine: ObservabilityEngine
    let configuration: ServerConfiguration
    let readiness: Readiness
    /// The SWM core; nil only in tests of the operations and debug API alone.
    let core: Core?
    let kimeraStatus: @Sendable () -> PerformanceStats.KimeraStatusPayload
    let extraBuffers: @Sendable () -> [String: BufferFill]

    struct Core: Sendable {
        let service: KimeraService
        let jobs: ContradictionJobs
    }

    let geoidLog: Logger
    let contradictionLog: Logger
    let vaultLog: Logger
    let cycleLog: Logger

    init(
        engine: ObservabilityEngine, configuration: ServerConfiguration, readiness: Readiness, core: Core?,
        kimeraStatus: @escaping @Sendable () -> PerformanceStats.KimeraStatusPayload,
        extraBuffers: @escaping @Sendable () -> [String: BufferFill]
    ) {
        self.engine = engine
        self.configuration = configuration
        self.readiness = readiness
        self.core = core
        self.kimeraStatus = kimeraStatus
        self.extraBuffers = extraBuffers
        geoidLog = engine.logger("kimera.core.geoids")
        contradictionLog = engine.logger("kimera.core.contradiction")
        vaultLog = engine.logger("kimera.core.vault")
        cycleLog = engine.logger("kimera.core.cycle")
    }

    /// Registers every operation not already registered by hand on `routes`.
    func register<Context: RequestContext>(on routes: RouteTable<Context>) throws {
        try registerHandlers(on: routes, configuration: Self.runtimeConfiguration)
    }

    /// Kimera's JSON: sorted keys, `/` unescaped, no indentation (`JSONBody.encoder`).
    static let runtimeConfiguration = Configuration(jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])

    /// The SWM core, or a 503 where this server runs without one.
    var kimera: Core {
        get throws {
            guard let core else { throw APIError.unavailable("This server runs without the Kimera core.") }
            return core
        }
    }

    // MARK: Served by hand

    /// Operations with a route of their own, registered before the generated ones (which then skip them):
    /// - `/health` and `/` are answered by the event-loop fast path and the response cache, with a body
    ///   written straight into a buffer (`HealthBody`);
    /// - `/metrics` negotiates its text format from `Accept`, which the generated code would refuse;
    /// - the log stream writes for as long as its client reads and needs the connection's channel;
    /// - the three pprof profiles run for seconds and answer binary or text by their `format`;
    /// - `/openapi.json` is the document itself, one shared buffer.
    /// Their methods are never called: the transport does not register an operation twice.
    static func handServed(_ operation: String) -> APIError {
        APIError(
            .internalServerError, code: .internal,
            message: "Operation \(operation) is served by its own route; the generated one is not registered.")
    }

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        throw Self.handServed(Operations.GetHealth.id)
    }

    func getRoot(_ input: Operations.GetRoot.Input) async throws -> Operations.GetRoot.Output {
        throw Self.handServed(Operations.GetRoot.id)
    }

    func getMetrics(_ input: Operations.GetMetrics.Input) async throws -> Operations.GetMetrics.Output {
        throw Self.handServed(Operations.GetMetrics.id)
    }

    func streamLogs(_ input: Operations.StreamLogs.Input) async throws -> Operations.StreamLogs.Output {
        throw Self.handServed(Operations.StreamLogs.id)
    }

    func getAllocationProfile(
        _ input: Operations.GetAllocationProfile.Input
    ) async throws -> Operations.GetAllocationProfile.Output {
        throw Self.handServed(Operations.GetAllocationProfile.id)
    }

    func getCPUProfile(_ input: Operations.GetCPUProfile.Input) async throws -> Operations.GetCPUProfile.Output {
        throw Self.handServed(Operations.GetCPUProfile.id)
    }

    func getThreadStacks(_ input: Operations.GetThreadStacks.Input) async throws -> Operations.GetThreadStacks.Output {
        throw Self.handServed(Operations.GetThreadStacks.id)
    }

    func getOpenAPIDocument(
        _ input: Operations.GetOpenAPIDocument.Input
    ) async throws -> Operations.GetOpenAPIDocument.Output {
        throw Self.handServed(Operations.GetOpenAPIDocument.id)
    }
}

extension QueryReader {
    /// The parameters an operation's generated input carries, by their names in the query.
    init(_ values: KeyValuePairs<String, String?>) {
        self.init(parsed: ParsedQuery(pairs: values.compactMap { name, value in value.map { (name, $0) } }))
    }
}
