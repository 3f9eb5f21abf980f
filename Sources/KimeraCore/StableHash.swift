import KimeraModels

/// FNV-1a, 64-bit, over UTF-8 bytes: the same value in every process and on every machine, unlike Swift's
/// per-process seeded `Hasher`. Anything persisted or compared across runs hashes with this.
public enum StableHash {
    /// The FNV-1a 64-bit offset basis: the fixed seed.
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    public static let prime: UInt64 = 0x0000_0100_0000_01b3

    public static func fnv1a64(_ text: String) -> UInt64 {
        var hash = offsetBasis
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= prime
        }
        return hash
    }
}
