// Fields the document says are always sent, as null when they have no value. The generator makes them
// optionals and its synthesized encoding leaves a nil out, so these types encode themselves: every field,
// nil as null. (An `encode(to:)` in this module takes the place of the synthesized one.)

extension ModeChangeResponse {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(debug, forKey: .debug)
        try container.encodeIfPresent(profiling, forKey: .profiling)
        // null when the change is permanent.
        try container.encode(expiresAt, forKey: .expiresAt)
    }
}

extension LogLevelChangeResponse {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(level, forKey: .level)
        try container.encode(module, forKey: .module)
        try container.encode(previous, forKey: .previous)
        try container.encode(expiresAt, forKey: .expiresAt)
    }
}

extension ModuleLevel {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(module, forKey: .module)
        // null when the module inherits.
        try container.encode(configured, forKey: .configured)
        try container.encode(effective, forKey: .effective)
        try container.encode(expiresAt, forKey: .expiresAt)
    }
}

extension LogRecord {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(timestamp, forKey: .timestamp)
        try container.encode(level, forKey: .level)
        try container.encode(module, forKey: .module)
        try container.encode(message, forKey: .message)
        // null when the record has no request.
        try container.encode(requestID, forKey: .requestID)
        try container.encode(metadata, forKey: .metadata)
        try container.encode(source, forKey: .source)
    }
}

extension Trace {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(requestID, forKey: .requestID)
        try container.encode(method, forKey: .method)
        try container.encode(path, forKey: .path)
        try container.encode(route, forKey: .route)
        // query, cache and error: null when the request had none.
        try container.encode(query, forKey: .query)
        try container.encode(status, forKey: .status)
        try container.encode(durationMs, forKey: .durationMs)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(bytesIn, forKey: .bytesIn)
        try container.encode(bytesOut, forKey: .bytesOut)
        try container.encode(cache, forKey: .cache)
        try container.encode(slow, forKey: .slow)
        try container.encode(error, forKey: .error)
        try container.encode(logCount, forKey: .logCount)
        // The headers only when the trace kept them (debug mode).
        try container.encodeIfPresent(requestHeaders, forKey: .requestHeaders)
        try container.encodeIfPresent(responseHeaders, forKey: .responseHeaders)
    }
}

extension Profile {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        // null outside a request.
        try container.encode(requestID, forKey: .requestID)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(durationMs, forKey: .durationMs)
        // null when allocations were not counted.
        try container.encode(allocations, forKey: .allocations)
        try container.encode(allocatedBytes, forKey: .allocatedBytes)
        try container.encode(memoryDeltaBytes, forKey: .memoryDeltaBytes)
        try container.encode(peakRSSBytes, forKey: .peakRSSBytes)
    }
}

extension Incident {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(summary, forKey: .summary)
        try container.encode(trace, forKey: .trace)
        try container.encode(logs, forKey: .logs)
        try container.encode(logsDropped, forKey: .logsDropped)
        // null before the route's first request ended.
        try container.encode(routeLatency, forKey: .routeLatency)
        try container.encode(process, forKey: .process)
        try container.encode(mode, forKey: .mode)
        try container.encode(reason, forKey: .reason)
    }
}
