import CKimeraProfiler

/// What a pprof CPU profile says per function, read back from its gzipped `profile.proto`: the samples in
/// which a function is the innermost frame (self) and those in which it appears at all (cumulative).
public struct PprofSummary: Sendable {
    /// One function's share.
    public struct Entry: Sendable, Equatable {
        public var function: String
        public var selfSamples: Int
        public var cumulativeSamples: Int
    }

    public var totalSamples: Int
    public var periodNanos: Int64
    public var durationNanos: Int64
    /// Most self samples first, then most cumulative, then by name.
    public var entries: [Entry]
    /// Every sampled stack, outermost function first, with its samples (what a flame graph draws).
    public var stacks: [(functions: [String], count: Int)]

    /// Why a file is not a profile this can read.
    public struct Malformed: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Reads a gzipped (or plain) pprof profile; a sample counts its first value (a CPU profile's samples), or
    /// with `lastValue` its last (an allocation profile's bytes).
    public init(pprof data: [UInt8], lastValue: Bool = false) throws(Malformed) {
        let bytes = data.starts(with: [0x1F, 0x8B]) ? try Self.gunzip(data) : data
        var strings: [String] = []
        var functionNames: [UInt64: Int64] = [:]
        var locationFunctions: [UInt64: [UInt64]] = [:]
        var samples: [(locations: [UInt64], count: Int64)] = []
        var period: Int64 = 0
        var duration: Int64 = 0
        var reader = ProtobufReader(bytes[...])
        while case let (field, value)? = try reader.next() {
            switch (field, value) {
            case (2, .bytes(let sample)):
                var inner = ProtobufReader(sample)
                var locations: [UInt64] = []
                var values: [Int64] = []
                while case let (field, value)? = try inner.next() {
                    if field == 1 { locations += try value.varints() }
                    if field == 2 { values += try value.varints().map { Int64(bitPattern: $0) } }
                }
                samples.append((locations, (lastValue ? values.last : values.first) ?? 0))
            case (4, .bytes(let location)):
                var inner = ProtobufReader(location)
                var id: UInt64 = 0
                var functions: [UInt64] = []
                while case let (field, value)? = try inner.next() {
                    if field == 1, case .varint(let number) = value { id = number }
                    if field == 4, case .bytes(let line) = value {
                        var lineReader = ProtobufReader(line)
                        while case let (field, value)? = try lineReader.next() {
                            if field == 1, case .varint(let function) = value { functions.append(function) }
                        }
                    }
                }
                locationFunctions[id] = functions
            case (5, .bytes(let function)):
                var inner = ProtobufReader(function)
                var id: UInt64 = 0
                var name: Int64 = 0
                while case let (field, value)? = try inner.next() {
                    if field == 1, case .varint(let number) = value { id = number }
                    if field == 2, case .varint(let number) = value { name = Int64(bitPattern: number) }
                }
                functionNames[id] = name
            case (6, .bytes(let string)):
                strings.append(String(decoding: string, as: UTF8.self))
            case (10, .varint(let number)):
                duration = Int64(bitPattern: number)
            case (12, .varint(let number)):
                period = Int64(bitPattern: number)
            default:
                break
            }
        }
        func name(_ function: UInt64) -> String {
            let index = Int(functionNames[function] ?? 0)
            return index > 0 && index < strings.count ? strings[index] : "[unknown]"
        }
        var stacks: [(functions: [String], count: Int)] = []
        for sample in samples {
            // Innermost location first; a location's last line is its outermost inlined function.
            let names = sample.locations.flatMap { (locationFunctions[$0] ?? []).map(name) }
            stacks.append((names.reversed(), Int(sample.count)))
        }
        self.init(stacks: stacks, periodNanos: period, durationNanos: duration)
    }

    /// Several servers' profiles of the same kind as one (`kimera profile cpu` against a fleet): their stacks
    /// side by side, the period of the first, the longest window.
    public init(merging summaries: [PprofSummary]) {
        self.init(
            stacks: summaries.flatMap(\.stacks), periodNanos: summaries.first?.periodNanos ?? 0,
            durationNanos: summaries.map(\.durationNanos).max() ?? 0)
    }

    /// The per-function shares of `stacks` (outermost function first).
    init(stacks: [(functions: [String], count: Int)], periodNanos: Int64, durationNanos: Int64) {
        var selfCounts: [String: Int] = [:]
        var cumulative: [String: Int] = [:]
        var total = 0
        for (functions, count) in stacks {
            total += count
            if let leaf = functions.last { selfCounts[leaf, default: 0] += count }
            for function in Set(functions) { cumulative[function, default: 0] += count }
        }
        totalSamples = total
        self.stacks = stacks
        self.periodNanos = periodNanos
        self.durationNanos = durationNanos
        entries = cumulative.map {
            Entry(function: $0.key, selfSamples: selfCounts[$0.key] ?? 0, cumulativeSamples: $0.value)
        }
        .sorted {
            ($0.selfSamples, $0.cumulativeSamples, $1.function) > ($1.selfSamples, $1.cumulativeSamples, $0.function)
        }
    }

    static func gunzip(_ data: [UInt8]) throws(Malformed) -> [UInt8] {
        var stream = z_stream()
        guard kimera_inflate_init_gzip(&stream) == Z_OK else { throw Malformed(description: "zlib would not start") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        var result: Int32 = Z_OK
        data.withUnsafeBufferPointer { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
            stream.avail_in = UInt32(source.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { target in
                    stream.next_out = target.baseAddress
                    stream.avail_out = UInt32(target.count)
                    result = inflate(&stream, Z_NO_FLUSH)
                    output.append(contentsOf: target.prefix(target.count - Int(stream.avail_out)))
                }
            } while result == Z_OK && output.count < 1 << 30
        }
        guard result == Z_STREAM_END else {
            throw Malformed(description: "not a complete gzip stream (zlib \(result))")
        }
        return output
    }
}

/// Reads the protobuf wire format: varints and length-delimited fields (fixed-width ones are skipped).
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed

        /// A packed repeated varint field, or a single varint.
        func varints() throws(PprofSummary.Malformed) -> [UInt64] {
            switch self {
            case .varint(let value): return [value]
            case .bytes(let bytes):
                var reader = ProtobufReader(bytes)
                var values: [UInt64] = []
                while !reader.atEnd { values.append(try reader.varint()) }
                return values
            case .fixed: return []
            }
        }
    }

    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }

    var atEnd: Bool { bytes.isEmpty }

    mutating func varint() throws(PprofSummary.Malformed) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let byte = bytes.popFirst() {
            guard shift < 64 else { break }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        throw PprofSummary.Malformed(description: "a varint runs past the end")
    }

    mutating func next() throws(PprofSummary.Malformed) -> (Int, Value)? {
        guard !bytes.isEmpty else { return nil }
        let key = try varint()
        let field = Int(key >> 3)
        switch key & 7 {
        case 0:
            return (field, .varint(try varint()))
        case 1, 5:
            let width = key & 7 == 1 ? 8 : 4
            guard bytes.count >= width else {
                throw PprofSummary.Malformed(description: "a fixed field runs past the end")
            }
            bytes = bytes.dropFirst(width)
            return (field, .fixed)
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.count) else {
                throw PprofSummary.Malformed(description: "a field of \(length) bytes runs past the end")
            }
            let value = bytes.prefix(Int(length))
            bytes = bytes.dropFirst(Int(length))
            return (field, .bytes(value))
        default:
            throw PprofSummary.Malformed(description: "wire type \(key & 7) is not one pprof uses")
        }
    }
}
