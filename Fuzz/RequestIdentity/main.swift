/// `X-Request-ID` and `traceparent`: `RequestIdentity.resolve` always yields one of its three forms, and the
/// right one, checked against a byte-level reference of the documented rules (W3C Trace Context for
/// `traceparent`). The input is `<X-Request-ID>\n<traceparent>`; without a newline it is tried as each.

func isIDByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 97...122, 65...90, 48...57, UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"): true
    default: false
    }
}

func isLowerHex(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (97...102).contains(byte) }

func referenceValid(_ id: String) -> Bool {
    let bytes = Array(id.utf8)
    return (1...128).contains(bytes.count) && bytes.allSatisfy(isIDByte)
}

/// `version-traceid-parentid-flags`: 2, 32, 16 and 2 lowercase hex; version not `ff`; ids not all zero; version
/// `00` is exactly 55 bytes, a later version may go on after a `-`.
func referenceTraceID(_ header: String) -> String? {
    let bytes = Array(header.utf8)
    guard bytes.count >= 55, bytes[2] == 45, bytes[35] == 45, bytes[52] == 45 else { return nil }
    let version = bytes[0..<2], trace = bytes[3..<35], parent = bytes[36..<52], flags = bytes[53..<55]
    guard (version + trace + parent + flags).allSatisfy(isLowerHex), Array(version) != [102, 102],
        trace.contains(where: { $0 != 48 }), parent.contains(where: { $0 != 48 })
    else { return nil }
    if Array(version) == [48, 48] { guard bytes.count == 55 else { return nil } }
    guard bytes.count == 55 || bytes[55] == 45 else { return nil }
    return String(decoding: trace, as: UTF8.self)
}

func isGenerated(_ id: String) -> Bool {
    let bytes = Array(id.utf8)
    let base36: (UInt8) -> Bool = { (48...57).contains($0) || (97...122).contains($0) }
    return bytes.count == 15 && bytes[6] == 45 && bytes[..<6].allSatisfy(base36) && bytes[7...].allSatisfy(base36)
}

func verify(requestID: String?, traceparent: String?) {
    let resolved = RequestIdentity.resolve(requestID: requestID, traceparent: traceparent)
    let what = "resolve(requestID: \(requestID.debugDescription), traceparent: \(traceparent.debugDescription)) = \(resolved.debugDescription)"
    check(referenceValid(resolved), "\(what): not 1-128 characters of [A-Za-z0-9._:-]")
    if let requestID, referenceValid(requestID) {
        check(resolved == requestID, "\(what): a valid X-Request-ID was not kept")
        return
    }
    let expected = traceparent.flatMap(referenceTraceID)
    if let expected, traceparent.map(isASCII) == true {
        check(resolved == expected, "\(what): the traceparent's trace id was not used")
    } else if resolved.utf8.count == 32, resolved.utf8.allSatisfy(isLowerHex) {
        check(expected == resolved, "\(what): a trace id from an invalid traceparent")
    } else {
        check(isGenerated(resolved), "\(what): neither kept, traced nor generated")
    }
    if let traceparent {
        // Beyond ASCII (never a valid header) the reference, reading bytes, may accept what the parser rejects.
        let traced = RequestIdentity.traceID(fromTraceparent: traceparent)
        check(
            isASCII(traceparent) ? traced == referenceTraceID(traceparent) : traced == nil || traced == referenceTraceID(traceparent),
            "traceID(fromTraceparent: \(traceparent.debugDescription)) = \(traced.debugDescription)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data, count: size)
    if let newline = buffer.firstIndex(of: 10) {
        let requestID = String(decoding: buffer[..<newline], as: UTF8.self)
        let traceparent = String(decoding: buffer[(newline + 1)...], as: UTF8.self)
        verify(requestID: requestID, traceparent: traceparent)
        verify(requestID: nil, traceparent: traceparent)
    } else {
        let value = text(data, size)
        check(RequestIdentity.isValid(value) == referenceValid(value), "isValid(\(value.debugDescription))")
        verify(requestID: value, traceparent: nil)
        verify(requestID: nil, traceparent: value)
        verify(requestID: value, traceparent: value)
    }
    return 0
}
