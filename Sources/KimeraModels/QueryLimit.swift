/// The one rule for `limit` query values (docs/API.md §1): ASCII digits only (no sign, no spaces), not all
/// zeros; anything above `maximum`, even a number too large for Int, is just "large" and clamped to it.
public enum QueryLimit {
    /// The count `text` asks for, clamped to `maximum`; nil when it is not a positive integer.
    public static func parse(_ text: some StringProtocol, maximum: Int) -> Int? {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.allSatisfy({ (48...57).contains($0) }), bytes.contains(where: { $0 != 48 })
        else { return nil }
        return min(Int(text, radix: 10) ?? maximum, maximum)
    }
}
