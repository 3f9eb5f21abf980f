/// The protobuf wire format, as much of it as Kimera's two encoders need: the OTLP export messages
/// (docs/OPERATIONS.md "OpenTelemetry export") and pprof profiles (`SymbolizedProfile.pprof`). Varints,
/// fixed64/fixed32, length-delimited bytes and strings, packed varints and nested messages.
/// A nested message is written in place and its length set in front of it afterwards, so nothing is
/// measured twice and no intermediate buffer is made per message.
///
/// Fields at their default value (0, empty) are left out, as proto3 encoders do.
///
/// The bytes go into one buffer of its own, grown by doubling: a field is written with one capacity check
/// and plain stores, without `Array`'s uniqueness and capacity checks per byte. The writer is not
/// copyable, so two writers never share the buffer; `bytes` copies what was written out.
package struct ProtobufWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// How many bytes are written.
    package private(set) var count = 0

    package init(capacity: Int = 0) {
        self.capacity = max(capacity, 256)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// What was written, copied out.
    package var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// Empties the buffer and keeps its capacity, for the next batch.
    package mutating func reset() { count = 0 }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    @inline(never)
    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    @inline(__always)
    private mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    private mutating func append(_ buffer: UnsafeBufferPointer<UInt8>) {
        guard let source = buffer.baseAddress, !buffer.isEmpty else { return }
        reserve(buffer.count)
        (base + count).update(from: source, count: buffer.count)
        count += buffer.count
    }

    package enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    @inline(__always)
    package mutating func varint(_ value: UInt64) {
        reserve(10)
        var value = value
        while value >= 0x80 {
            base[count] = UInt8(truncatingIfNeeded: value) | 0x80
            count += 1
            value >>= 7
        }
        base[count] = UInt8(value)
        count += 1
    }

    @inline(__always)
    package mutating func tag(_ field: Int, _ type: WireType) { varint(UInt64(field) << 3 | type.rawValue) }

    /// A `uint32`/`uint64`/enum field; an `int64` is the same with the value's bit pattern.
    package mutating func uint(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, .varint)
        varint(value)
    }

    package mutating func int(_ field: Int, _ value: Int64) { uint(field, UInt64(bitPattern: value)) }

    /// A `bool` field, written even when false where the caller asks (a oneof member has no default).
    package mutating func bool(_ field: Int, _ value: Bool) {
        tag(field, .varint)
        append(value ? 1 : 0)
    }

    package mutating func fixed64(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, .fixed64)
        littleEndian(value, count: 8)
    }

    package mutating func fixed32(_ field: Int, _ value: UInt32) {
        guard value != 0 else { return }
        tag(field, .fixed32)
        littleEndian(UInt64(value), count: 4)
    }

    /// A `double` field, written even when 0 (a oneof member has no default).
    package mutating func double(_ field: Int, _ value: Double) {
        tag(field, .fixed64)
        littleEndian(value.bitPattern, count: 8)
    }

    @inline(__always)
    private mutating func littleEndian(_ value: UInt64, count size: Int) {
        reserve(8)
        (UnsafeMutableRawPointer(base) + count).storeBytes(of: value.littleEndian, as: UInt64.self)
        count += size
    }

    /// A `string` field; `always` writes an empty one too (a oneof member).
    package mutating func string(_ field: Int, _ value: String, always: Bool = false) {
        guard always || !value.isEmpty else { return }
        tag(field, .lengthDelimited)
        var value = value
        value.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            append(utf8)
        }
    }

    /// A `string` field made of three parts, written without joining them first.
    package mutating func string(_ field: Int, _ first: String, _ second: StaticString, _ third: String) {
        var first = first
        var third = third
        tag(field, .lengthDelimited)
        varint(UInt64(first.utf8.count + second.utf8CodeUnitCount + third.utf8.count))
        first.withUTF8 { append($0) }
        second.withUTF8Buffer { append($0) }
        third.withUTF8 { append($0) }
    }

    /// A `bytes` field of a 16- or 8-byte id, big-endian as W3C writes it; all-zero ids are left out.
    package mutating func id(_ field: Int, high: UInt64, low: UInt64) {
        guard high != 0 || low != 0 else { return }
        tag(field, .lengthDelimited)
        append(16)
        bigEndian(high)
        bigEndian(low)
    }

    package mutating func id(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, .lengthDelimited)
        append(8)
        bigEndian(value)
    }

    @inline(__always)
    private mutating func bigEndian(_ value: UInt64) {
        reserve(8)
        (UnsafeMutableRawPointer(base) + count).storeBytes(of: value.bigEndian, as: UInt64.self)
        count += 8
    }

    /// A packed `repeated uint64` field (pprof's location ids and values).
    package mutating func packed(_ field: Int, _ values: [UInt64]) {
        message(field) { writer in
            for value in values { writer.varint(value) }
        }
    }

    package mutating func appendRaw(_ raw: [UInt8]) { raw.withUnsafeBufferPointer { append($0) } }

    /// A nested message field: `body` writes its fields, then its length goes in front of them. One byte
    /// is kept for the length first, which is all a message under 128 bytes needs (most of them: an
    /// attribute, a status); a longer one moves its body up behind the extra length bytes.
    package mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        tag(field, .lengthDelimited)
        append(0)
        let start = count
        body(&self)
        let length = count - start
        if length < 0x80 {
            base[start - 1] = UInt8(length)
            return
        }
        var size = 1
        while length >> (7 * size) != 0 { size += 1 }
        reserve(size - 1)
        // The regions overlap: copyMemory is a memmove.
        UnsafeMutableRawPointer(base + start - 1 + size).copyMemory(from: base + start, byteCount: length)
        count += size - 1
        var value = length
        for index in 0..<size {
            base[start - 1 + index] = UInt8(truncatingIfNeeded: value) | (index < size - 1 ? 0x80 : 0)
            value >>= 7
        }
    }
}
