import Synchronization
import Tracing

/// The identity of a span as W3C Trace Context carries it: a 128-bit trace id, a 64-bit span id and
/// the sampled flag, plus the caller's `tracestate`, passed on untouched.
public struct SpanContext: Sendable, Equatable {
    public var traceIDHigh: UInt64
    public var traceIDLow: UInt64
    public var spanID: UInt64
    public var sampled: Bool
    /// The inbound `tracestate`, when a caller sent one.
    public var traceState: String?
    /// True for a context read from a request (`traceparent`), false for a span of this process.
    public var isRemote: Bool

    public var traceIDHex: String {
        String(unsafeUninitializedCapacity: 32) { buffer in
            Hex.write(traceIDHigh, into: buffer, at: 0)
            Hex.write(traceIDLow, into: buffer, at: 16)
            return 32
        }
    }

    public var spanIDHex: String { Hex.string(spanID) }

    /// `00-TRACE-SPAN-FLAGS`, written in one go (one allocation).
    public var traceparent: String {
        String(unsafeUninitializedCapacity: 55) { buffer in
            let dash = UInt8(ascii: "-")
            let zero = UInt8(ascii: "0")
            buffer[0] = zero
            buffer[1] = zero
            buffer[2] = dash
            Hex.write(traceIDHigh, into: buffer, at: 3)
            Hex.write(traceIDLow, into: buffer, at: 19)
            buffer[35] = dash
            Hex.write(spanID, into: buffer, at: 36)
            buffer[52] = dash
            buffer[53] = zero
            buffer[54] = sampled ? UInt8(ascii: "1") : zero
            return 55
        }
    }

    /// A `traceparent` value (version 00; a later version is read as 00 demands), or nil when malformed or
    /// all-zero, as the W3C specification says.
    public init?(traceparent: String, traceState: String? = nil) {
        let utf8 = Array(traceparent.utf8)
        guard utf8.count >= 55, utf8[2] == UInt8(ascii: "-"), utf8[35] == UInt8(ascii: "-"),
            utf8[52] == UInt8(ascii: "-"),
            let version = Hex.value(utf8[0..<2]), version != 0xff,
            version != 0 || utf8.count == 55,
            let high = Hex.value(utf8[3..<19]), let low = Hex.value(utf8[19..<35]),
            let span = Hex.value(utf8[36..<52]), let flags = Hex.value(utf8[53..<55]),
            high != 0 || low != 0, span != 0
        else { return nil }
        self.init(
            traceIDHigh: high, traceIDLow: low, spanID: span, sampled: flags & 1 == 1, traceState: traceState,
            isRemote: true)
    }

    public init(
        traceIDHigh: UInt64, traceIDLow: UInt64, spanID: UInt64, sampled: Bool, traceState: String? = nil,
        isRemote: Bool = false
    ) {
        self.traceIDHigh = traceIDHigh
        self.traceIDLow = traceIDLow
        self.spanID = spanID
        self.sampled = sampled
        self.traceState = traceState
        self.isRemote = isRemote
    }
}

/// Where a span's identity lives in a `ServiceContext` (swift-distributed-tracing's context).
enum SpanContextKey: ServiceContextKey {
    typealias Value = SpanContext
    static let nameOverride: String? = "otel-span-context"
}

extension ServiceContext {
    /// The identity of the current span, or of the caller's span read from `traceparent`.
    public var spanContext: SpanContext? {
        get { self[SpanContextKey.self] }
        set { self[SpanContextKey.self] = newValue }
    }
}

/// Lowercase hexadecimal, as W3C Trace Context and the log records' `trace_id` / `span_id` write ids.
enum Hex {
    static func string(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            write(value, into: buffer, at: 0)
            return 16
        }
    }

    /// The 16 digits of `value` at `offset`.
    @inline(__always)
    static func write(_ value: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        let digits: StaticString = "0123456789abcdef"
        let table = digits.utf8Start
        for index in 0..<16 {
            buffer[offset + index] = table[Int((value >> UInt64(60 - 4 * index)) & 0xf)]
        }
    }

    /// The value of at most 16 hex digits (either case), nil when any byte is not one.
    static func value(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var result: UInt64 = 0
        for byte in digits {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            result = result << 4 | UInt64(digit)
        }
        return result
    }
}

/// Trace and span ids: a 64-bit counter run through SplitMix64's finaliser (a bijection, so ids of one
/// process never repeat before 2⁶⁴ of them) from a random seed per process, so two processes do not share
/// a sequence. One relaxed atomic add per span, not one per id and no `getrandom` call: a new trace takes
/// three counter values (its two trace-id halves and its span id) with one add of three steps. The ids are
/// uniformly spread, which the `traceidratio` sampler relies on.
final class IDGenerator: Sendable {
    /// The counter's step (2⁶⁴ divided by the golden ratio, odd: every value comes once per 2⁶⁴ steps).
    private static let step: UInt64 = 0x9E37_79B9_7F4A_7C15
    /// The next counter value; shared by every thread that starts spans.
    private let counter: Atomic<UInt64>

    init(seed: UInt64 = UInt64.random(in: 1...UInt64.max)) { counter = Atomic(seed) }

    /// A span id for a span of an existing trace.
    @inline(__always)
    func next() -> UInt64 {
        Self.mix(counter.wrappingAdd(Self.step, ordering: .relaxed).newValue)
    }

    /// The ids of a new trace's root span: trace id (high, low) and span id, from one atomic add.
    @inline(__always)
    func nextTrace() -> (high: UInt64, low: UInt64, span: UInt64) {
        let last = counter.wrappingAdd(Self.step &* 3, ordering: .relaxed).newValue
        return (Self.mix(last &- Self.step &* 2), Self.mix(last &- Self.step), Self.mix(last))
    }

    /// SplitMix64's finaliser; never 0 (an all-zero id is invalid in W3C Trace Context).
    @inline(__always)
    private static func mix(_ counter: UInt64) -> UInt64 {
        var value = counter
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        value ^= value >> 31
        return value == 0 ? 1 : value
    }
}
