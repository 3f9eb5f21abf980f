// From openapi.json by scripts/gen-openapi; do not edit.

/// The SHA-256 of the openapi.json these files were generated from: a test compares it with the document's.
public enum GeneratedDocument {
    public static let sha256 = "67e2e50b1fb10b2ec4ac040365b83227ebd3f323427a58de607a8cc0aa94a059"
}
