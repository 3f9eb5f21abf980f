import Configuration
import Foundation
import Hummingbird
import HummingbirdCore
import KimeraCore
import KimeraModels
import KimeraObservability
import KimeraTelemetry
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Builds the hybrid server: router, middleware, routes and background services.
public struct KimeraApplication: Sendable {
    public let configuration: ServerConfiguration
    public let engine: ObservabilityEngine
    public let readiness: Readiness
    /// The SWM core; nil only in tests of the operations and debug API alone.
    public let service: KimeraService?
    /// The contradiction job table, in the vault; nil without a service.
    public let jobs: ContradictionJobs?
    /// What the vault adapter needs running beside the server (a shared database's pool and listener).
    let vaultServices: [any Service]
    let connections = ConnectionRegistry()
    /// The OpenTelemetry export; nil when off (no span middleware, no exporter services).
    public let telemetry: TelemetryExport?
    /// Requests answered by the event-loop fast path.
    let fastPathAnswers = FastPathCount()
    let logger: Logger

    public init(
        configuration: ServerConfiguration, engine: ObservabilityEngine, service: KimeraService? = nil,
        vaultServices: [any Service] = [], telemetry: TelemetryExport? = nil
    ) {
        self.configuration = configuration
        self.engine = engine
        self.service = service
        self.vaultServices = vaultServices
        jobs = service.map { ContradictionJobs(store: $0.store, owner: configuration.instanceID) }
        let store = service?.store
        readiness = Readiness(vaultProblem: { store?.availabilityProblem })
        self.telemetry = telemetry
        logger = engine.logger("kimera.server")
    }

    /// The router with every route and middleware; the route table is returned for inspection
    /// (405 handling, the OpenAPI check).
    public func makeRouter() -> (router: Router<KimeraRequestContext>, routes: [(path: String, methods: [String])]) {
        // HEAD is answered on every GET route (RFC 9110 §9.3.2): the GET handler, its body left unsent.
        let router = Router(context: KimeraRequestContext.self, options: .autoGenerateHeadEndpoints)
        let table = RouteTable(router: router, bodyLimit: configuration.limits.maxBodyBytes)
        // Hummingbird applies router middleware to the routes added after it: middleware first.
        for entry in middleware(cacheable: table.cacheable, known: table.known) { entry.add(to: router) }
        // The routes served by hand first; the generated registration then adds every other operation.
        OperationsRoutes.register(on: table, engine: engine, readiness: readiness)
        DebugRoutes.register(on: table, engine: engine)
        OpenAPIRoute.register(on: table)
        let readiness = self.readiness
        let api = KimeraAPIService(
            engine: engine, configuration: configuration, readiness: readiness,
            core: service.flatMap { service in jobs.map { KimeraAPIService.Core(service: service, jobs: $0) } },
            kimeraStatus: { readiness.problem == nil ? .operational : .starting },
            extraBuffers: { [jobs] in jobs.map { ["contradiction_jobs": $0.fill] } ?? [:] })
        do {
            try api.register(on: table)
        } catch {
            // Only a document without one of its own operations could fail here; a test builds the router.
            preconditionFailure("The generated operations could not be registered: \(error)")
        }
        return (router, table.routes.map { ($0.path, $0.methods.map(\.rawValue)) })
    }

    /// The router's middleware in order; the fast path is built from the same list (`KimeraMiddleware`
    /// says how it treats each). `cacheable` and `known` fill as the routes register.
    func middleware(cacheable: CacheableRoutes, known: KnownRoutes) -> [KimeraMiddleware] {
        var list: [KimeraMiddleware] = serverSpans.map { [.serverSpan(TelemetrySpanMiddleware(spans: $0))] } ?? []
        list += [
            .escalation(DebugEscalationMiddleware(access: accessControl)),
            .tracing(RequestTracingMiddleware(engine: engine)),
            .limits(requestLimits),
            .access(accessControl),
            .cache(ResponseCacheMiddleware(cache: engine.cache, runtime: engine.runtime, cacheableRoutes: cacheable)),
            .methodNotAllowed(MethodNotAllowedMiddleware(known: known)),
        ]
        return list
    }

    /// How request spans are made; nil while OpenTelemetry export is off.
    var serverSpans: ServerSpans? {
        telemetry.map {
            ServerSpans(tracer: $0.tracer, serverAddress: configuration.host, serverPort: configuration.port)
        }
    }

    var requestLimits: RequestLimitsMiddleware {
        RequestLimitsMiddleware(
            settings: configuration.security, maxBodyBytes: configuration.limits.maxBodyBytes, connections: connections)
    }

    var accessControl: AccessControlMiddleware {
        AccessControlMiddleware(
            settings: configuration.security, listensBeyondLoopback: configuration.listensBeyondLoopback)
    }

    /// The HTTP/1 server: Hummingbird's, with the connection tracking and (unless `fast_path` is off) the
    /// event-loop fast path in each connection's pipeline (`KimeraHTTP1Channel`). With OpenTelemetry export
    /// on, the fast path makes the server span of what it answers, as the middleware does.
    public func makeServer() -> HTTPServerBuilder {
        let connections = self.connections
        let idleTimeout = Duration.seconds(configuration.security.idleTimeoutSeconds)
        let maxBodyBytes = configuration.limits.maxBodyBytes
        let fastPath =
            configuration.fastPath
            ? FastPathResponder(
                engine: engine, middleware: middleware(cacheable: CacheableRoutes(), known: KnownRoutes()),
                answered: fastPathAnswers) : nil
        return HTTPServerBuilder { responder in
            KimeraHTTP1Channel(
                responder: responder, connections: connections, idleTimeout: idleTimeout, fastPath: fastPath,
                maxBodyBytes: maxBodyBytes)
        }
    }

    /// Runs until SIGINT/SIGTERM, then stops as `ShutdownSequence` says (drain, stop accepting, let in-flight
    /// requests finish up to the grace period, close what is left), closes the vault and the log sinks and
    /// returns. `onListening` gets the bound address (the port may have been 0).
    public func run(
        reloadingConfig: ReloadingFileProvider<JSONSnapshot>? = nil,
        onListening: @escaping @Sendable (String, Int) async -> Void = { _, _ in }
    ) async throws {
        let (router, _) = makeRouter()
        let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: configuration.workers)
        // The exporters first: ServiceLifecycle stops services in reverse order, so they outlive the
        // server and flush the last spans and records.
        var services: [any Service] = (telemetry?.services ?? []) + vaultServices + [RuntimeMaintenance(engine: engine)]
        if let jobs { services.append(jobs) }
        if let reloadingConfig {
            services.append(reloadingConfig)
            services.append(ConfigReloader(provider: reloadingConfig, configuration: configuration, engine: engine))
        }
        let readiness = self.readiness
        let engine = self.engine
        // Hummingbird's and ServiceLifecycle's own records, at NOTICE once closing is deliberate.
        let closing = StoppingLogHandler.Switch()
        let frameworkLogger = Logger(label: "kimera.http") {
            StoppingLogHandler(base: engine.pipeline.makeHandler(label: $0), state: closing)
        }
        let app = Application(
            router: CanonicalTargetRouter(router: router),
            server: makeServer(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            services: services,
            onServerRunning: { channel in
                readiness.setVaultOpen(true)
                let port = channel.localAddress?.port ?? 0
                await onListening(channel.localAddress?.ipAddress ?? "", port)
            },
            eventLoopGroupProvider: .shared(eventLoopGroup),
            logger: frameworkLogger
        )
        // The stop signals are ours, not ServiceLifecycle's: the drain comes before its graceful shutdown.
        let serviceGroup = ServiceGroup(configuration: .init(services: [app], logger: frameworkLogger))
        let serving = Task { try await serviceGroup.run() }
        let shutdown = ShutdownSequence(
            settings: configuration.shutdown, readiness: readiness, connections: connections,
            serviceGroup: serviceGroup, serving: serving, logger: logger, closing: closing)
        let stopSignals = [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")].map { signalNumber, name in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber)
            source.setEventHandler { shutdown.signal(name) }
            source.resume()
            return source
        }
        defer { stopSignals.forEach { $0.cancel() } }
        let result = await withTaskCancellationHandler {
            await serving.result
        } onCancel: {
            serving.cancel()
        }
        shutdown.finish()
        readiness.setDraining()
        // Once a stop signal came, an error of a service is part of stopping (cancelled at the end of the
        // grace period), not a failure to report.
        if case .failure(let error) = result, !shutdown.requested {
            // The server never listened (busy port, foreign address) and the caller exits on this error.
            // The event loops are left to the exit: NIO still closes the failed listener on them, and
            // shutting them down first makes it print "Cannot schedule tasks…" after our one line.
            throw error
        }
        // After a forced close (a second signal, the grace period over) channels may still be closing on the
        // loops; shutting them down under those would make NIO print "Cannot schedule tasks…" to stderr. The
        // process exits next, which ends them as surely.
        if !closing.closing.load(ordering: .relaxed) {
            try? await eventLoopGroup.shutdownGracefully()
        }
        if let service {
            do {
                try await service.store.close()
            } catch {
                logger.error("closing the vault failed: \(error)")
            }
        }
        if let elapsed = shutdown.elapsed {
            logger.notice("shutdown complete \(ShutdownSettings.text(elapsed)) after the stop signal")
        }
        await engine.closeSinks()
    }
}
