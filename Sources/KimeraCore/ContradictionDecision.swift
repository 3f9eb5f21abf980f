import KimeraModels

/// What contradiction processing does with a tension (docs/DOMAIN.md "Decision and SCAR").
public enum ContradictionDecision: String, Sendable, Equatable, CaseIterable {
    case collapse, surge, buffer

    /// force_collapse → collapse. Else pulse < 0.3 → buffer; 0.3 ≤ pulse < 0.7 → surge when stability > 0.6,
    /// else buffer; pulse ≥ 0.7 → surge when stability > 0.7, collapse when stability < 0.3, else buffer.
    public static func decide(pulse: Double, stability: Double, forceCollapse: Bool) -> ContradictionDecision {
        if forceCollapse { return .collapse }
        if pulse < 0.3 { return .buffer }
        if pulse < 0.7 { return stability > 0.6 ? .surge : .buffer }
        if stability > 0.7 { return .surge }
        if stability < 0.3 { return .collapse }
        return .buffer
    }

    /// Δ entropy recorded on the SCAR: −0.02 collapse, +0.05 surge, +0.02 buffer.
    public var entropyDelta: Double {
        switch self {
        case .collapse: -0.02
        case .surge: 0.05
        case .buffer: 0.02
        }
    }

    /// "Collapsed", "Surged", "Buffered": the verb of the SCAR reason.
    public var pastTense: String {
        switch self {
        case .collapse: "Collapsed"
        case .surge: "Surged"
        case .buffer: "Buffered"
        }
    }

    /// "Collapse", "Surge", "Buffer": the suffix of `resolved_by`.
    public var resolverName: String {
        switch self {
        case .collapse: "Collapse"
        case .surge: "Surge"
        case .buffer: "Buffer"
        }
    }
}
