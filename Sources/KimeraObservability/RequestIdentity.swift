import KimeraModels
import Synchronization

/// Request ids: the inbound `X-Request-ID` when valid, else the trace id of a valid W3C `traceparent`,
/// else a cheap generated one: a random process prefix and an atomic counter (no UUID per request).
/// Generated ids are 15 characters, so Swift stores them inline without a heap allocation.
package enum RequestIdentity {
    private static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)
    private static let prefix: [UInt8] = (0..<6).map { _ in alphabet[Int.random(in: 0..<36)] }
    private static let counter = Atomic<UInt64>(0)

    /// The request's id: a valid `X-Request-ID`, else the trace id of `traceparent`, else `spanTraceID` (the
    /// trace id of the span OpenTelemetry export started for it, so that id and trace agree), else a new one.
    package static func resolve(requestID: String?, traceparent: String?, spanTraceID: String? = nil) -> String {
        if let requestID, isValid(requestID) { return requestID }
        if let traceparent, let traceID = traceID(fromTraceparent: traceparent) { return traceID }
        return spanTraceID ?? generate()
    }

    package static func generate() -> String {
        var value = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return String(unsafeUninitializedCapacity: 15) { buffer in
            for index in 0..<6 { buffer[index] = prefix[index] }
            buffer[6] = UInt8(ascii: "-")
            for index in stride(from: 14, through: 7, by: -1) {
                buffer[index] = alphabet[Int(value % 36)]
                value /= 36
            }
            return 15
        }
    }

    /// 1–128 characters of `[A-Za-z0-9._:-]`.
    static func isValid(_ id: String) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= 128 else { return false }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"),
                UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return true
    }

    /// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, ids not all zero.
    package static func traceID(fromTraceparent header: String) -> String? {
        let parts = header.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", parts[1].count == 32, parts[2].count == 16,
            parts[3].count == 2
        else { return nil }
        func isLowerHex(_ text: Substring) -> Bool {
            text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
        }
        guard parts.prefix(4).allSatisfy(isLowerHex), parts[1].contains(where: { $0 != "0" }),
            parts[2].contains(where: { $0 != "0" })
        else { return nil }
        if parts[0] == "00" && parts.count != 4 { return nil }
        return String(parts[1])
    }
}
