import Configuration
import Foundation
import Hummingbird
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
    let connections = ConnectionCounter()
    let logger: Logger

    public init(
        configuration: ServerConfiguration, engine: ObservabilityEngine, service: KimeraService? = nil,
        vaultServices: [any Service] = []
    ) {
        self.configuration = configuration
        self.engine = engine
        self.service = service
        self.vaultServices = vaultServices
        jobs = service.map { ContradictionJobs(store: $0.store, owner: configuration.instanceID) }
        let store = service?.store
        readiness = Readiness(vaultProblem: { store?.availabilityProblem })
        logger = engine.logger("kimera.server")
    }

    /// The router with every route and middleware; the route table is returned for inspection
    /// (405 handling, the OpenAPI check).
    public func makeRouter() -> (router: Router<KimeraRequestContext>, routes: [(path: String, methods: [String])]) {
        let router = Router(context: KimeraRequestContext.self)
        let table = RouteTable(router: router)
        // Hummingbird applies router middleware to the routes added after it: middleware first.
        router.add(middleware: RequestTracingMiddleware(engine: engine))
        router.add(
            middleware: RequestLimitsMiddleware(
                settings: configuration.security, maxBodyBytes: configuration.limits.maxBodyBytes,
                connections: connections))
        router.add(
            middleware: AccessControlMiddleware(
                settings: configuration.security, listensBeyondLoopback: configuration.listensBeyondLoopback))
        router.add(
            middleware: ResponseCacheMiddleware(
                cache: engine.cache, runtime: engine.runtime, cacheableRoutes: table.cacheable))
        OperationsRoutes.register(on: table, engine: engine, readiness: readiness)
        let readiness = self.readiness
        DebugRoutes.register(
            on: table, engine: engine, configuration: configuration,
            kimeraStatus: { readiness.problem == nil ? "operational" : "starting" },
            extraBuffers: { [jobs] in jobs.map { ["contradiction_jobs": $0.fill] } ?? [:] })
        if let service, let jobs {
            KimeraRoutes.register(
                on: table, service: service, engine: engine, jobs: jobs, bodyLimit: configuration.limits.maxBodyBytes)
        }
        OpenAPIRoute.register(on: table)
        table.addMethodNotAllowed()
        return (router, table.routes.map { ($0.path, $0.methods.map(\.rawValue)) })
    }

    /// Runs until SIGINT/SIGTERM: stops accepting, lets in-flight requests finish, returns.
    /// `onListening` gets the bound address (the port may have been 0).
    public func run(
        reloadingConfig: ReloadingFileProvider<JSONSnapshot>? = nil,
        onListening: @escaping @Sendable (String, Int) async -> Void = { _, _ in }
    ) async throws {
        let (router, _) = makeRouter()
        let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: configuration.workers)
        var services: [any Service] = vaultServices + [RuntimeMaintenance(engine: engine)]
        if let reloadingConfig {
            services.append(reloadingConfig)
            services.append(ConfigReloader(provider: reloadingConfig, configuration: configuration, engine: engine))
        }
        let readiness = self.readiness
        let engine = self.engine
        let connections = self.connections
        let app = Application(
            router: router,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [ConnectionCountingHandler(counter: connections)],
                    idleTimeout: .seconds(Int64(configuration.security.idleTimeoutSeconds)))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            services: services,
            onServerRunning: { channel in
                readiness.setVaultOpen(true)
                let port = channel.localAddress?.port ?? 0
                await onListening(channel.localAddress?.ipAddress ?? "", port)
            },
            eventLoopGroupProvider: .shared(eventLoopGroup),
            logger: engine.logger("kimera.http")
        )
        // /ready reports draining from the moment a stop signal arrives (ServiceLifecycle handles the stop).
        let drainSignals = [SIGTERM, SIGINT].map { signalNumber in
            let source = DispatchSource.makeSignalSource(signal: signalNumber)
            source.setEventHandler { readiness.setDraining() }
            source.resume()
            return source
        }
        defer { drainSignals.forEach { $0.cancel() } }
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch {
            try? await eventLoopGroup.shutdownGracefully()
            throw error
        }
        try? await eventLoopGroup.shutdownGracefully()
        readiness.setDraining()
        engine.flushSinks()
    }
}

/// Reverts expired runtime changes (ttl) and wakes idle log streams for heartbeats.
struct RuntimeMaintenance: Service {
    let engine: ObservabilityEngine

    func run() async throws {
        var ticks = 0
        while !Task.isCancelledOrShuttingDown {
            try? await Task.sleep(for: .milliseconds(200))
            engine.expireDue()
            ticks += 1
            if ticks % 25 == 0 { engine.ring.subscriptions.wakeAll() }
        }
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool {
        Task.isCancelled || Task.isShuttingDownGracefully
    }
}

/// Applies live-changeable settings when the config file changes (polling, or SIGHUP), logs each
/// change, and warns about settings that need a restart.
struct ConfigReloader: Service {
    let provider: ReloadingFileProvider<JSONSnapshot>
    let configuration: ServerConfiguration
    let engine: ObservabilityEngine

    func run() async throws {
        let logger = engine.logger("kimera.config")
        let reader = ConfigReader(provider: provider)
        var current = configuration.live
        try await reader.watchSnapshot { snapshots in
            for await snapshot in snapshots.cancelOnGracefulShutdown() {
                do {
                    let live = try ServerConfiguration.liveSettings(from: snapshot)
                    for change in LiveSettingsDiff.changes(from: current, to: live) {
                        logger.notice(
                            "config reloaded: \(change)", metadata: ["source": .string(configuration.configFile ?? "")])
                    }
                    for key in configuration.restartOnlyChanges(in: snapshot) {
                        logger.warning("config file changes \(key); restart the server to apply it")
                    }
                    if live != current {
                        engine.runtime.apply(live)
                        current = live
                    }
                } catch {
                    logger.error("config file rejected, keeping the running settings: \(error)")
                }
            }
        }
    }
}

/// Human-readable differences between two sets of live settings.
enum LiveSettingsDiff {
    static func changes(from old: LiveSettings, to new: LiveSettings) -> [String] {
        var changes: [String] = []
        func name(_ level: Logger.Level?) -> String { level.map(LogLevelName.name) ?? "mode default" }
        if old.rootLevel != new.rootLevel {
            changes.append("logging.level \(name(old.rootLevel)) -> \(name(new.rootLevel))")
        }
        for module in Set(old.moduleLevels.keys).union(new.moduleLevels.keys).sorted()
        where old.moduleLevels[module] != new.moduleLevels[module] {
            changes.append(
                "logging.modules \(module) \(name(old.moduleLevels[module])) -> \(name(new.moduleLevels[module]))")
        }
        if old.cacheTTLSeconds != new.cacheTTLSeconds {
            changes.append("cache.ttl_s \(old.cacheTTLSeconds) -> \(new.cacheTTLSeconds)")
        }
        if old.routeTTLSeconds != new.routeTTLSeconds { changes.append("cache.routes changed") }
        if old.slowThresholdMs != new.slowThresholdMs {
            changes.append("tracing.slow_threshold_ms \(old.slowThresholdMs) -> \(new.slowThresholdMs)")
        }
        return changes
    }
}
