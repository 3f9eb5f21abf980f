/// The OpenTelemetry export as `/debug/info` shows it under `telemetry` (docs/OPERATIONS.md
/// "OpenTelemetry export"). Endpoints are shown without their query; header values never appear.
public struct TelemetryStatus: Codable, Sendable, Equatable {
    /// False when no OTLP endpoint is configured or `OTEL_SDK_DISABLED=true`: no span is made then.
    public var enabled: Bool
    public var serviceName: String?
    public var instanceID: String?
    public var tracesEndpoint: String?
    public var logsEndpoint: String?
    public var spans: SignalExport
    public var logs: SignalExport
    /// The last export error the SDK reported, if any.
    public var lastError: String?

    public init(
        enabled: Bool, serviceName: String? = nil, instanceID: String? = nil, tracesEndpoint: String? = nil,
        logsEndpoint: String? = nil, spans: SignalExport = SignalExport(), logs: SignalExport = SignalExport(),
        lastError: String? = nil
    ) {
        self.enabled = enabled
        self.serviceName = serviceName
        self.instanceID = instanceID
        self.tracesEndpoint = tracesEndpoint
        self.logsEndpoint = logsEndpoint
        self.spans = spans
        self.logs = logs
        self.lastError = lastError
    }

    /// Export counters of one signal (spans or log records) since the server started. They add up at
    /// every instant: `offered` = `exported_items` + `dropped` + `failed_items` + `queued`.
    public struct SignalExport: Codable, Sendable, Equatable {
        /// Items handed to the export (finished sampled spans, log records at the export's level).
        public var offered: UInt64
        /// Items waiting in the bounded queue or being sent now.
        public var queued: UInt64
        /// The queue's bound (`OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BLRP_MAX_QUEUE_SIZE`).
        public var capacity: UInt64
        /// Export requests sent again after a retryable failure (429, 502, 503, 504, no answer).
        public var retries: UInt64
        /// Batches the collector accepted, and the items in them.
        public var exportedBatches: UInt64
        public var exportedItems: UInt64
        /// Batches that failed (collector down, refusing, timing out), and the items lost with them.
        public var failedBatches: UInt64
        public var failedItems: UInt64
        /// Items dropped before export because the bounded queue was full.
        public var dropped: UInt64

        public init(
            exportedBatches: UInt64 = 0, exportedItems: UInt64 = 0, failedBatches: UInt64 = 0,
            failedItems: UInt64 = 0, dropped: UInt64 = 0, offered: UInt64 = 0, queued: UInt64 = 0,
            capacity: UInt64 = 0, retries: UInt64 = 0
        ) {
            self.offered = offered
            self.queued = queued
            self.capacity = capacity
            self.retries = retries
            self.exportedBatches = exportedBatches
            self.exportedItems = exportedItems
            self.failedBatches = failedBatches
            self.failedItems = failedItems
            self.dropped = dropped
        }

        enum CodingKeys: String, CodingKey {
            case dropped, offered, queued, capacity, retries
            case exportedBatches = "exported_batches"
            case exportedItems = "exported_items"
            case failedBatches = "failed_batches"
            case failedItems = "failed_items"
        }
    }

    enum CodingKeys: String, CodingKey {
        case enabled, spans, logs
        case serviceName = "service_name"
        case instanceID = "instance_id"
        case tracesEndpoint = "traces_endpoint"
        case logsEndpoint = "logs_endpoint"
        case lastError = "last_error"
    }
}
