#if canImport(Glibc)
    import Glibc
#endif

/// A broken invariant: print what and why, then abort so libFuzzer saves the input as a crash.
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition {
        fputs("invariant broken: \(message())\n", stderr)
        abort()
    }
}

/// The input as the server sees a header or query value: bytes decoded as UTF-8, invalid sequences repaired.
func text(_ data: UnsafePointer<UInt8>, _ size: Int) -> String {
    String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
}

func isASCII(_ text: String) -> Bool { text.utf8.allSatisfy { $0 < 0x80 } }

/// ASCII-only case mapping: the reference the parsers' "any case" is checked against.
func asciiLowercased(_ text: String) -> String {
    String(decoding: text.utf8.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
}
