import ArgumentParser
import KimeraModels

/// A duration option, parsed once at the option (`--interval 2s`): the text as typed, which is what a
/// server parameter is sent as, and its value. A text that is no duration fails at parse time with exit 64
/// and the grammar; each command checks its own range in `validate()`. ArgumentParser shows no default for
/// a `transform:` option, so the help text says it.
struct DurationArgument: CustomStringConvertible, Sendable, Equatable {
    let text: String
    let value: Duration

    /// A default, written as the help shows it.
    init(default text: String, _ value: Duration) {
        self.text = text
        self.value = value
    }

    /// The `transform:` of a duration option.
    static func parse(_ text: String) throws -> DurationArgument {
        guard let value = DurationText.parse(text) else {
            throw ValidationError(
                "not a duration; use a positive number and a unit (ms, s, m, h, d), e.g. 500ms, 30s, 15m")
        }
        return DurationArgument(default: text, value)
    }

    var description: String { text }
}
