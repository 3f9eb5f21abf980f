/// The one boolean grammar of Kimera: query parameters, environment variables and config values.
public enum BooleanValue {
    public static let allowed = ["true", "false", "1", "0", "yes", "no", "on", "off"]

    /// Parses `true/false/1/0/yes/no/on/off` in any case; nil for anything else.
    public static func parse(_ text: some StringProtocol) -> Bool? {
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: return nil
        }
    }
}
