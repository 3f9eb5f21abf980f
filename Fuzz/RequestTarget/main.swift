/// Request targets and queries (`RequestTarget`, `ParsedQuery`): the one reading that access control, the
/// response cache and the fast path decide on. The input is `<target>\n<other query>`.
/// - The canonical form is a fixed point, and `isCanonicalOriginForm` agrees with the rewrite.
/// - A canonical origin-form path has no empty, `.` or `..` segment, no escaped unreserved byte, no
///   fragment and no trailing slash but on `/`.
/// - Two queries with one cache key give every handler the same values (the first of each name).

func checkTarget(_ target: String) {
    let canonical = RequestTarget.canonical(target)
    let form = canonical ?? target
    check(RequestTarget.canonical(form) == nil, "canonical(\(form.debugDescription)) is not a fixed point")
    if RequestTarget.isCanonicalOriginForm(target) {
        check(canonical == nil, "\(target.debugDescription) said canonical, rewritten to \(String(describing: canonical))")
    }
    guard form.utf8.first == UInt8(ascii: "/") else { return }
    check(RequestTarget.isCanonicalOriginForm(form), "\(form.debugDescription) is the rewrite but not canonical")
    let path = form.utf8.split(separator: UInt8(ascii: "?"), maxSplits: 1, omittingEmptySubsequences: false)[0]
    check(!path.contains(UInt8(ascii: "#")) && !form.utf8.contains(UInt8(ascii: "#")), "fragment kept in \(form.debugDescription)")
    let segments = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
    if Array(path) != [UInt8(ascii: "/")] {
        for segment in segments {
            let text = Array(segment)
            check(!text.isEmpty && text != [46] && text != [46, 46], "segment \(text) kept in \(form.debugDescription)")
            var index = 0
            while index + 2 < text.count {
                if text[index] == 37, let byte = RequestTarget.escape(text, at: index) {
                    check(!RequestTarget.isUnreserved(byte), "escaped unreserved byte kept in \(form.debugDescription)")
                }
                index += 1
            }
        }
    }
}

func checkQueries(_ first: String, _ second: String) {
    let a = ParsedQuery(first), b = ParsedQuery(second)
    let keyA = a.cacheKey(path: "/p", excluding: "bypass_cache")
    check(keyA == ParsedQuery(first).cacheKey(path: "/p", excluding: "bypass_cache"), "the key is not deterministic")
    guard keyA == b.cacheKey(path: "/p", excluding: "bypass_cache") else { return }
    for pair in a.pairs where pair.name != "bypass_cache" {
        check(a.first(pair.name) == b.first(pair.name), "one key \(keyA.debugDescription), two readings of \(pair.name.debugDescription)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = text(data, size)
    let parts = input.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    checkTarget(parts[0])
    let query = parts[0].split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? parts[0]
    checkQueries(query, parts.count > 1 ? parts[1] : query)
    return 0
}
