// From openapi.json by scripts/gen-openapi; do not edit.

/// The SHA-256 of the openapi.json these files were generated from: a test compares it with the document's.
public enum GeneratedDocument {
    public static let sha256 = "a677614b216390d1a798f10847a372d4d12181b992402582bd3e84d1a5fd8e37"
}
