// From openapi.json by scripts/gen-openapi; do not edit.

/// The SHA-256 of the openapi.json these files were generated from: a test compares it with the document's.
public enum GeneratedDocument {
    public static let sha256 = "9184fe9eb6c74161107cfa7f650b5d02acfd7f7b3e7e92a154e2f8328744973a"
}
