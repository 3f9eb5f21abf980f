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
