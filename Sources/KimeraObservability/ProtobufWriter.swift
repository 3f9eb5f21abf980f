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
    // Visible to inlined code only: the writer's methods are inlined into the encoders of other modules
    // (a call per varint or tag cost the OTLP encoder a fifth of its time).
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var capacity: Int
    /// How many bytes are written.
    @usableFromInline package internal(set) var count = 0

    package init(capacity: Int = 0) {
        self.capacity = max(capacity, 256)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// What was written, copied out.
    package var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// What was written from `start` on, copied out.
    package func bytes(from start: Int) -> [UInt8] {
        Array(UnsafeBufferPointer(start: base + start, count: count - start))
    }

    /// What was written, in place (valid only inside `body`).
    package func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Empties the buffer and keeps its capacity, for the next batch.
    package mutating func reset() { count = 0 }

    /// Makes room for `extra` more bytes.
    @inlinable @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    @usableFromInline @inline(never)
    mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    @inlinable @inline(__always)
    mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inlinable @inline(__always)
    mutating func append(_ buffer: UnsafeBufferPointer<UInt8>) {
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

    @inlinable @inline(__always)
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

    @inlinable @inline(__always)
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
    @inlinable
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

    @inlinable
    package mutating func appendRaw(_ raw: UnsafeBufferPointer<UInt8>) { append(raw) }

    /// How many bytes `varint(value)` writes: a message whose length is known before it is written
    /// gets its length in front at once, without `message`'s move.
    @inlinable @inline(__always)
    package static func varintSize(_ value: UInt64) -> Int {
        var size = 1
        var value = value >> 7
        while value != 0 {
            size += 1
            value >>= 7
        }
        return size
    }

    /// A nested message field: `body` writes its fields, then its length goes in front of them.
    /// `lengthBytes` are kept for the length first: one is all a message under 128 bytes needs (most of
    /// them: an attribute, a status), two a span or a log record, three a batch. When the length needs
    /// another number of bytes, the body moves behind it.
    @inlinable
    package mutating func message(_ field: Int, lengthBytes: Int = 1, _ body: (inout ProtobufWriter) -> Void) {
        tag(field, .lengthDelimited)
        reserve(lengthBytes)
        count += lengthBytes
        let start = count
        body(&self)
        let length = count - start
        let size = Self.varintSize(UInt64(length))
        let prefix = start - lengthBytes
        if size != lengthBytes {
            if size > lengthBytes { reserve(size - lengthBytes) }
            // The regions overlap: copyMemory is a memmove.
            UnsafeMutableRawPointer(base + prefix + size).copyMemory(from: base + start, byteCount: length)
            count += size - lengthBytes
        }
        var value = length
        for index in 0..<size {
            base[prefix + index] = UInt8(truncatingIfNeeded: value) | (index < size - 1 ? 0x80 : 0)
            value >>= 7
        }
    }
}
