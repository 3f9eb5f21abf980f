/// The body of every error response (docs/API.md §1).
public struct ErrorBody: Codable, Sendable, Equatable {
    /// Machine-readable code: `invalid_parameter`, `not_found`, `method_not_allowed`, …
    public var error: String
    /// One sentence a person can act on.
    public var message: String
    public var requestID: String?
    /// The parameter at fault, for `invalid_parameter`.
    public var parameter: String?
    /// The values that would have been accepted.
    public var allowed: [String]?

    public init(
        error: String, message: String, requestID: String? = nil, parameter: String? = nil,
        allowed: [String]? = nil
    ) {
        self.error = error
        self.message = message
        self.requestID = requestID
        self.parameter = parameter
        self.allowed = allowed
    }

    enum CodingKeys: String, CodingKey {
        case error, message, parameter, allowed
        case requestID = "request_id"
    }
}
