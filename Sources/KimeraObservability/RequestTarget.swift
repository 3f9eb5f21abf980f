/// The one reading of a request target (RFC 9112 §3.2, RFC 3986 §6.2.2). A path can be spelled many ways
/// (`//debug/info`, `/kimera/./geoids/../geoids`, `/debug/%69nfo`, `/health/`, `http://host/metrics`); the
/// server rewrites every spelling to its canonical origin-form before the router sees it, so the router's
/// match — and with it access control, the response cache and the fast path — is decided once, on one
/// form (docs/API.md §1 "Request targets"). Pure Swift with no dependency, so the fuzz target
/// `request-target` compiles it alone.
///
/// The canonical form: the path of an absolute-form target; no fragment; percent-encoded unreserved bytes
/// (`A-Z a-z 0-9 - . _ ~`) decoded, other escapes kept as sent; empty and `.` segments removed, `..`
/// removing the segment before it (never above the root); no trailing slash but on `/` itself; the query
/// kept byte for byte (`ParsedQuery` reads it).
public enum RequestTarget {
    /// The canonical form of `target`, or nil when `target` already is canonical — the common case, decided
    /// by one scan without allocating.
    public static func canonical(_ target: String) -> String? {
        if isCanonicalOriginForm(target) { return nil }
        let rewritten = rewrite(Array(target.utf8))
        return rewritten.elementsEqual(target.utf8) ? nil : String(decoding: rewritten, as: UTF8.self)
    }

    /// True when `target` starts with `/` and rewriting it would change nothing.
    public static func isCanonicalOriginForm(_ target: String) -> Bool {
        var target = target
        return target.withUTF8 { bytes in
            guard bytes.first == slash else { return false }
            var segmentStart = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == question { break }
                if byte == hash { return false }
                if byte == slash {
                    if index > 0 && !isKeptSegment(bytes, from: segmentStart + 1, to: index) { return false }
                    segmentStart = index
                } else if byte == percent, let decoded = escape(bytes, at: index), isUnreserved(decoded) {
                    return false
                }
                index += 1
            }
            if index > 1 && bytes[index - 1] == slash { return false }
            // The last segment: empty only for `/` itself.
            if index > 1 && !isKeptSegment(bytes, from: segmentStart + 1, to: index) { return false }
            // A fragment after the query is not part of the target either.
            while index < bytes.count {
                if bytes[index] == hash { return false }
                index += 1
            }
            return true
        }
    }

    /// The rewrite itself, over bytes.
    static func rewrite(_ bytes: [UInt8]) -> [UInt8] {
        let end = bytes.firstIndex(of: hash) ?? bytes.count
        var start = 0
        if bytes.first != slash {
            // Absolute-form (`http://host:port/path?query`): keep the path and query. Anything else that does
            // not start with `/` (`*`, `host:443` of CONNECT) is not a path the router can match: unchanged.
            guard let schemeEnd = find([colon, slash, slash], in: bytes[..<end]) else { return Array(bytes[..<end]) }
            start = bytes[(schemeEnd + 3)..<end].firstIndex(where: { $0 == slash || $0 == question }) ?? end
        }
        let queryStart = bytes[start..<end].firstIndex(of: question) ?? end
        var segments: [[UInt8]] = []
        for raw in bytes[start..<queryStart].split(separator: slash, omittingEmptySubsequences: true) {
            let segment = decodeUnreserved(raw)
            if segment == [dot] { continue }
            if segment == [dot, dot] {
                _ = segments.popLast()
                continue
            }
            segments.append(segment)
        }
        var result: [UInt8] = []
        result.reserveCapacity(end - start + 1)
        if segments.isEmpty { result.append(slash) }
        for segment in segments {
            result.append(slash)
            result.append(contentsOf: segment)
        }
        if queryStart < end {
            result.append(contentsOf: bytes[queryStart..<end])
        }
        return result
    }

    private static let slash = UInt8(ascii: "/")
    private static let question = UInt8(ascii: "?")
    private static let hash = UInt8(ascii: "#")
    private static let percent = UInt8(ascii: "%")
    private static let dot = UInt8(ascii: ".")
    private static let colon = UInt8(ascii: ":")

    /// A segment the rewrite keeps as it is: not empty, not `.` or `..` (in any spelling).
    private static func isKeptSegment(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Bool {
        let count = to - from
        if count == 0 { return false }
        if count == 1 && bytes[from] == dot { return false }
        if count == 2 && bytes[from] == dot && bytes[from + 1] == dot { return false }
        return true
    }

    /// The byte a `%XX` at `index` stands for, nil when it is not a valid escape.
    static func escape<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, at index: Int) -> UInt8? {
        guard index + 2 < bytes.count else { return nil }
        let position = bytes.index(bytes.startIndex, offsetBy: index)
        guard let high = hexValue(bytes[bytes.index(position, offsetBy: 1)]),
            let low = hexValue(bytes[bytes.index(position, offsetBy: 2)])
        else { return nil }
        return high << 4 | low
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    /// A path segment with its escapes of unreserved bytes decoded.
    private static func decodeUnreserved(_ segment: ArraySlice<UInt8>) -> [UInt8] {
        let bytes = Array(segment)
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == percent, let decoded = escape(bytes, at: index), isUnreserved(decoded) {
                result.append(decoded)
                index += 3
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return result
    }

    private static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = haystack.startIndex
        while index + needle.count <= haystack.endIndex {
            if haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}

/// A query string read once, as every reader of it sees it: `name=value` pairs split on `&`, names and
/// values percent-decoded (`+` is kept: this is a URI query, not a form), in the order sent. A handler
/// reads the first of repeated names (`QueryReader`); the response cache's key is the whole list, sorted
/// by name with repeated names kept in their order, so two queries share a key only when every handler
/// would read the same values from them.
public struct ParsedQuery: Sendable, Equatable {
    public struct Pair: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public let pairs: [Pair]

    public init(_ query: (some StringProtocol)?) {
        guard let query, !query.isEmpty else {
            pairs = []
            return
        }
        var pairs: [Pair] = []
        for part in query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let bytes = Array(part)
            let equals = bytes.firstIndex(of: UInt8(ascii: "="))
            let name = Self.decode(bytes[..<(equals ?? bytes.count)])
            let value = equals.map { Self.decode(bytes[($0 + 1)...]) } ?? ""
            pairs.append(Pair(name: name, value: value))
        }
        self.pairs = pairs
    }

    /// Parameters already decoded, in order.
    public init(pairs: [(name: String, value: String)]) {
        self.pairs = pairs.map { Pair(name: $0.name, value: $0.value) }
    }

    /// The value of the first parameter called `name`.
    public func first(_ name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    public func contains(_ name: String) -> Bool { pairs.contains { $0.name == name } }

    /// The response cache's key of this query on `path` (see the type's comment); `excluding` names a
    /// parameter that selects no content (the cache's own `bypass_cache`).
    public func cacheKey(path: String, excluding: String) -> String {
        let kept = pairs.filter { $0.name != excluding }
        guard !kept.isEmpty else { return path }
        // A stable sort: repeated names keep the order the handler reads them in.
        let sorted = kept.enumerated().sorted { lhs, rhs in
            lhs.element.name != rhs.element.name ? lhs.element.name < rhs.element.name : lhs.offset < rhs.offset
        }
        var key = path + "?"
        for (index, item) in sorted.enumerated() {
            if index > 0 { key += "&" }
            key += Self.escapeForKey(item.element.name)
            key += "="
            key += Self.escapeForKey(item.element.value)
        }
        return key
    }

    /// `%`, `&` and `=` escaped, so that the key's text tells its pairs apart.
    private static func escapeForKey(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x25 || $0 == 0x26 || $0 == 0x3D }) else { return text }
        var result = ""
        for character in text.unicodeScalars {
            switch character {
            case "%": result += "%25"
            case "&": result += "%26"
            case "=": result += "%3D"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    /// Percent-decoded bytes as text; the text as sent when an escape is invalid or the bytes are not UTF-8
    /// (as Hummingbird's own query reader does).
    static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        guard bytes.contains(UInt8(ascii: "%")) else { return String(decoding: bytes, as: UTF8.self) }
        let raw = Array(bytes)
        var result: [UInt8] = []
        result.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            if raw[index] == UInt8(ascii: "%") {
                guard let decoded = RequestTarget.escape(raw, at: index) else {
                    return String(decoding: raw, as: UTF8.self)
                }
                result.append(decoded)
                index += 3
            } else {
                result.append(raw[index])
                index += 1
            }
        }
        return String(validating: result, as: UTF8.self) ?? String(decoding: raw, as: UTF8.self)
    }
}
