import KimeraTelemetry
import Testing

@Suite struct TelemetrySettingsTests {
    func resolve(_ environment: [String: String], endpoint: String? = nil) throws -> TelemetrySettings? {
        try TelemetrySettings.resolve(environment: environment, endpoint: endpoint, defaultInstanceID: "host:8001")
    }

    @Test func noEndpointAnywhereMeansOff() throws {
        #expect(try resolve([:]) == nil)
        #expect(try resolve(["OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"]) == nil)
    }

    @Test func sdkDisabledWinsOverEveryEndpoint() throws {
        let environment = ["OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"]
        #expect(try resolve(environment, endpoint: "http://127.0.0.1:4318") == nil)
        #expect(throws: TelemetryConfigurationError.self) { try resolve(["OTEL_SDK_DISABLED": "maybe"]) }
    }

    @Test func baseURLGetsSignalPathsAndPerSignalURLsAreUsedAsIs() throws {
        let base = try #require(try resolve(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"]))
        #expect(base.tracesEndpoint == "http://collector:4318/v1/traces")
        #expect(base.logsEndpoint == "http://collector:4318/v1/logs")
        let specific = try #require(
            try resolve([
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/custom",
            ]))
        #expect(specific.tracesEndpoint == "http://tempo:4318/custom")
        #expect(specific.logsEndpoint == "http://collector:4318/v1/logs")
        let flag = try #require(try resolve([:], endpoint: "http://127.0.0.1:4318"))
        #expect(flag.tracesEndpoint == "http://127.0.0.1:4318/v1/traces")
        #expect(flag.configuredEndpoint == "http://127.0.0.1:4318")
    }

    @Test func serviceNameAndInstanceFollowTheSpecPrecedence() throws {
        let endpoint = "http://127.0.0.1:4318"
        #expect(try resolve([:], endpoint: endpoint)?.serviceName == "kimera")
        #expect(try resolve([:], endpoint: endpoint)?.instanceID == "host:8001")
        let fromResource = try resolve(
            ["OTEL_RESOURCE_ATTRIBUTES": "service.name=shop,service.instance.id=pod%2D7"], endpoint: endpoint)
        #expect(fromResource?.serviceName == "shop")
        #expect(fromResource?.instanceID == "pod-7")
        let both = try resolve(
            ["OTEL_RESOURCE_ATTRIBUTES": "service.name=shop", "OTEL_SERVICE_NAME": "checkout"], endpoint: endpoint)
        #expect(both?.serviceName == "checkout")
    }

    @Test func grpcAndBadURLsAreRefusedWithTheVariableNamed() throws {
        #expect(throws: TelemetryConfigurationError.self) {
            try resolve(["OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"])
        }
        do {
            _ = try resolve(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"])
            Issue.record("grpc accepted")
        } catch {
            #expect("\(error)".contains("OTEL_EXPORTER_OTLP_PROTOCOL"))
        }
    }

    @Test func displayedEndpointsDropCredentialsAndQuery() {
        #expect(
            TelemetrySettings.displayed("https://user:pass@collector:4318/v1/traces?token=abc")
                == "https://collector:4318/v1/traces")
    }
}
