// From openapi.json by scripts/gen-openapi; do not edit.

/// The SHA-256 of the openapi.json these files were generated from: a test compares it with the document's.
public enum GeneratedDocument {
    public static let sha256 = "27d2e343b76f50b71f8bf96122be1b60745a5df79a66860a8636bd8a7c26a689"
}
