import KimeraModels

/// Where in an `echoform_text` the parser stopped: a 0-based character offset plus 1-based line and column.
public struct EchoformPosition: Sendable, Equatable, CustomStringConvertible {
    /// Characters (grapheme clusters) before the position.
    public var offset: Int
    public var line: Int
    public var column: Int

    public init(offset: Int, line: Int, column: Int) {
        self.offset = offset
        self.line = line
        self.column = column
    }

    public var description: String { "line \(line), column \(column) (offset \(offset))" }
}

/// What kind of thing a `notFound` error could not find.
public enum DomainResource: String, Sendable, Equatable {
    case geoid, scar, vault
}

/// Everything the Kimera core refuses, each with a message a person can act on.
/// The HTTP layer maps `notFound` to 404 and every other case to 400, naming `field` when it has one.
public enum DomainError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No such geoid, SCAR or vault.
    case notFound(DomainResource, id: String)
    /// A request field is missing or has a value the core cannot use.
    case invalidInput(field: String, problem: String)
    /// A `semantic_features` entry is not a finite number.
    case invalidFeature(name: String, found: String)
    /// An `)` without its `(`, or a `(` never closed (then `position` is where that `(` opened).
    case unbalancedEchoform(position: EchoformPosition, problem: String)
    /// Any other malformed `echoform_text`: an unterminated string, a quote with nothing after it, nesting too deep.
    case malformedEchoform(position: EchoformPosition, problem: String)

    /// The request field at fault, when there is one.
    public var field: String? {
        switch self {
        case .notFound: nil
        case .invalidInput(let field, _): field
        case .invalidFeature: "semantic_features"
        case .unbalancedEchoform, .malformedEchoform: "echoform_text"
        }
    }

    /// True for the 404 case.
    public var isNotFound: Bool {
        if case .notFound = self { return true }
        return false
    }

    /// One sentence a person can act on.
    public var message: String {
        switch self {
        case .notFound(let resource, let id):
            switch resource {
            case .geoid: "No geoid with id '\(id)' exists; create it with POST /kimera/geoids or check the id."
            case .scar: "No SCAR with id '\(id)' exists; SCARs are created by contradiction processing."
            case .vault: "No vault '\(id)'; the vaults are 'vault_a' and 'vault_b'."
            }
        case .invalidInput(let field, let problem):
            "Field '\(field)' \(problem)."
        case .invalidFeature(let name, let found):
            "Semantic feature '\(name)' must be a number, but is \(found)."
        case .unbalancedEchoform(let position, let problem):
            "echoform_text has unbalanced parentheses: \(problem) at \(position)."
        case .malformedEchoform(let position, let problem):
            "echoform_text is malformed: \(problem) at \(position)."
        }
    }

    public var description: String { message }
}
