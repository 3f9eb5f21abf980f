import Testing

@testable import KimeraServer
@testable import KimeraTelemetry

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

    @Test func batchingHeadersCompressionAndSamplerComeFromTheirVariables() throws {
        let settings = try #require(
            try resolve([
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc, x-tenant=a",
                "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "x-tenant=logs",
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
                "OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "500",
                "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "0.25", "OTEL_SWIFT_LOG_LEVEL": "debug",
            ]))
        #expect(settings.traces.headers.map(\.1) == ["Bearer abc", "a"])
        #expect(settings.logs.headers.map(\.1) == ["Bearer abc", "logs"])
        #expect(settings.traces.gzip && !settings.logs.gzip)
        #expect(settings.traces.timeout == .milliseconds(2500))
        #expect(settings.traces.maxQueueSize == 100 && settings.traces.maxBatchSize == 100)
        #expect(settings.traces.scheduleDelay == .milliseconds(200))
        #expect(settings.logs.maxQueueSize == 2048 && settings.logs.maxBatchSize == 512)
        #expect(settings.sampler == .parentBased(root: .traceIDRatio(0.25)))
        #expect(settings.logLevel == .debug)
        let endpoint = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"]
        for (name, value) in [
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"), ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
            ("OTEL_TRACES_SAMPLER", "sometimes"), ("OTEL_TRACES_SAMPLER_ARG", "2"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"), ("OTEL_SWIFT_LOG_LEVEL", "loud"),
        ] {
            var environment = endpoint
            environment[name] = value
            if name == "OTEL_TRACES_SAMPLER_ARG" { environment["OTEL_TRACES_SAMPLER"] = "traceidratio" }
            do {
                _ = try resolve(environment)
                Issue.record("\(name)=\(value) accepted")
            } catch {
                #expect("\(error)".contains(name))
            }
        }
    }

    @Test func resourceAttributesAreKimerasThenTheEnvironmentsWhichWin() throws {
        let settings = try #require(
            try resolve(
                [
                    "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.version=9",
                    "OTEL_SERVICE_NAME": "api",
                ],
                endpoint: "http://127.0.0.1:4318"))
        let attributes = Dictionary(settings.resourceAttributes, uniquingKeysWith: { $1 })
        #expect(attributes["service.name"] == "api")
        #expect(attributes["service.instance.id"] == "host:8001")
        #expect(attributes["service.version"] == "9")
        #expect(attributes["deployment.environment"] == "prod")
        #expect(settings.resourceAttributes.count == Set(settings.resourceAttributes.map(\.0)).count)
    }

    @Test func traceparentIsReadAsW3CSaysAndWrittenBack() {
        let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        let context = SpanContext(traceparent: valid)
        #expect(context?.traceparent == valid)
        #expect(context?.sampled == true && context?.isRemote == true)
        #expect(SpanContext(traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")?.sampled == false)
        for invalid in [
            "", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",
        ] {
            #expect(SpanContext(traceparent: invalid) == nil, "\(invalid)")
        }
        // A later version may carry more fields after the four it shares with 00.
        #expect(SpanContext(traceparent: "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-later") != nil)
    }

    @Test func samplersDecideAsTheSpecificationSays() {
        let sampledParent = SpanContext(traceIDHigh: 1, traceIDLow: 2, spanID: 3, sampled: true, isRemote: true)
        var unsampledParent = sampledParent
        unsampledParent.sampled = false
        #expect(Sampler.default.shouldSample(traceIDLow: 5, parent: sampledParent))
        #expect(!Sampler.default.shouldSample(traceIDLow: 5, parent: unsampledParent))
        #expect(Sampler.default.shouldSample(traceIDLow: 5, parent: nil))
        #expect(!Sampler.alwaysOff.shouldSample(traceIDLow: 5, parent: sampledParent))
        #expect(Sampler.alwaysOn.shouldSample(traceIDLow: 5, parent: unsampledParent))
        // A quarter of uniformly spread trace ids, within a few percent.
        var generator = SystemRandomNumberGenerator()
        let kept = (0..<20_000).filter { _ in
            Sampler.traceIDRatio(0.25).shouldSample(traceIDLow: generator.next(), parent: nil)
        }.count
        #expect((4_500...5_500).contains(kept), "\(kept)")
    }
}

/// `server.address`/`server.port` of a server span come from the Host header as the client wrote it.
@Suite struct ServerSpanHostTests {
    @Test func hostAndPortOfEverySpelling() {
        let cases: [(String?, String?, Int?)] = [
            ("example.com:8080", "example.com", 8080), ("example.com", "example.com", nil),
            ("[::1]:9000", "[::1]", 9000), ("[::1]", "[::1]", nil), ("127.0.0.1:80", "127.0.0.1", 80),
            ("host:notaport", "host:notaport", nil), ("", nil, nil), (nil, nil, nil),
        ]
        for (authority, host, port) in cases {
            let parsed = HTTPServerFields.hostAndPort(authority)
            #expect(parsed?.host == host, "\(authority ?? "nil")")
            #expect(parsed?.port == port, "\(authority ?? "nil")")
        }
    }
}
