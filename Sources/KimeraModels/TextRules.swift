/// When a text parameter or field counts as empty (`content`, `echoform_text`, search `query`): when it
/// holds nothing but ASCII white space. The OpenAPI document publishes the same rule as `nonBlankPattern`,
/// so a client generated from it and the server agree on every string.
public enum TextRules {
    /// "Contains a character other than space, tab, newline, vertical tab, form feed or carriage return."
    public static let nonBlankPattern = "[^\\t\\n\\u000B\\f\\r ]"

    public static func isBlank(_ text: some StringProtocol) -> Bool {
        text.utf8.allSatisfy { byte in
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0B || byte == 0x0C || byte == 0x0D
        }
    }
}
