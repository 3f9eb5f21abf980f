import Testing

@testable import KimeraObservability
@testable import KimeraServer

/// The router's middleware and the fast path come from one list, and every entry says how the fast path
/// treats it (`KimeraMiddleware`).
@Suite struct MiddlewareListTests {
    @Test("the router's middleware in order, each with its fast-path treatment")
    func orderAndTreatments() {
        let engine = ObservabilityEngine(
            runtime: RuntimeConfiguration(debug: false, performance: true), limits: StoreLimits(),
            consoleEnabled: false)
        let app = KimeraApplication(configuration: ServerConfiguration(), engine: engine)
        let list = app.middleware(cacheable: CacheableRoutes(), known: KnownRoutes())
        #expect(
            list.map(\.name) == [
                "debug escalation", "tracing", "request limits", "access control", "response cache", "405",
            ])
        #expect(list.map(\.fastPath) == [.asked, .doneAlike, .asked, .asked, .answersFrom, .neverActs])
        // The fast path built from that list asks the same limits and access control the router runs.
        let fastPath = FastPathResponder(engine: engine, middleware: list, answered: FastPathCount())
        #expect(fastPath.spans == nil)
        #expect(fastPath.limits.maxBodyBytes == ServerConfiguration().limits.maxBodyBytes)
    }
}
