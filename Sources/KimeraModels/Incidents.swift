/// Why a finished request was kept as an incident (docs/OPERATIONS.md "Incidents").
public enum IncidentCause: String, Codable, Sendable, CaseIterable {
    /// Slower than the slow threshold, fixed or adaptive.
    case slow
    /// Answered with a 5xx.
    case error
    /// Sent with `X-Kimera-Debug: 1` by a client allowed to (docs/OPERATIONS.md "One-request escalation").
    case escalated
}

