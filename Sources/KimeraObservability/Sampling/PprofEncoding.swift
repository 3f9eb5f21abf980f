import CKimeraProfiler
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraModels

/// A profile symbolized: what the pprof encoding and the folded text are both made of.
public struct SymbolizedProfile: Sendable {
    /// A frame: its address (the return address less one for callers) and the function holding it.
    public struct Frame: Hashable, Sendable {
        public var address: UInt
        public var function: String
        /// The index in `mappings` of the object holding the address.
        public var mapping: Int?
    }

    /// An executable segment of a loaded object.
    public struct Mapping: Sendable {
        public var start: UInt
        public var end: UInt
        public var fileOffset: UInt64
        public var path: String
    }

    /// What the samples are: CPU time, a thread dump's one sample per thread, or sampled allocations.
    public enum Kind: Sendable {
        case cpu
        case threads
        case allocations
    }

    /// Stacks innermost frame first, with their sample counts.
    public var stacks: [(frames: [Frame], count: Int)]
    /// pprof string labels of each stack, in the order of `stacks` (a thread dump: the thread's id and name);
    /// empty for a CPU profile.
    public var labels: [[(key: String, value: String)]] = []
    /// An allocation profile's estimated allocations and bytes per stack, in the order of `stacks`.
    public var allocations: [(objects: Int64, bytes: Int64)] = []
    public var kind = Kind.cpu
    public var mappings: [Mapping]
    public var periodNanos: Int64
    public var startNanos: Int64
    public var durationNanos: Int64

    init(
        stacks: [(frames: [Frame], count: Int)], mappings: [Mapping], periodNanos: Int64, startNanos: Int64,
        durationNanos: Int64
    ) {
        self.stacks = stacks
        self.mappings = mappings
        self.periodNanos = periodNanos
        self.startNanos = startNanos
        self.durationNanos = durationNanos
    }

    /// Symbolizes `profile` against the objects loaded in this process now.
    public init(_ profile: SampledProfile) {
        let symbolize = Self.symbolizer()
        mappings = symbolize.mappings
        if let rate = profile.allocationRate {
            kind = .allocations
            // The allocator's own frames dropped (as Go's heap profile drops mallocgc's): the innermost frame
            // is the code that allocated. Stacks that become the same merge.
            var merged: [[Frame]: (count: Int, objects: Double, bytes: Double)] = [:]
            for (pcs, weight) in profile.weights {
                let frames = Array(Self.withoutAllocatorFrames(symbolize.frames(pcs)))
                let count = profile.stacks[pcs] ?? 0
                merged[frames, default: (0, 0, 0)].count += count
                merged[frames]!.objects += weight.objects
                merged[frames]!.bytes += weight.bytes
            }
            let ordered = merged.sorted { $0.value.bytes > $1.value.bytes }
            stacks = ordered.map { ($0.key, $0.value.count) }
            allocations = ordered.map { (Int64($0.value.objects.rounded()), Int64($0.value.bytes.rounded())) }
            periodNanos = Int64(rate)
        } else {
            // A stack sampled under several routes is one sample per route (label `route`), and one without.
            var split: [(frames: [Frame], count: Int, route: String?)] = []
            for (pcs, count) in profile.stacks.sorted(by: { $0.value > $1.value }) {
                let frames = symbolize.frames(pcs)
                var rest = count
                for (route, routed) in (profile.routes[pcs] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    split.append((frames, routed, route))
                    rest -= routed
                }
                if rest > 0 { split.append((frames, rest, nil)) }
            }
            stacks = split.map { ($0.frames, $0.count) }
            if !profile.routes.isEmpty { labels = split.map { $0.route.map { [("route", $0)] } ?? [] } }
            periodNanos = profile.periodNanos
        }
        startNanos = Int64(profile.start.timeIntervalSince1970 * 1e9)
        durationNanos = profile.duration.nanoseconds
    }

    /// A thread dump as a profile (`GET /debug/pprof/threads?format=pprof`): one sample per thread, labelled
    /// with its id and name, in the order of `threads`.
    public init(threads: [ThreadStack], at date: Date) {
        let symbolize = Self.symbolizer()
        mappings = symbolize.mappings
        stacks = threads.map { (symbolize.frames($0.addresses), 1) }
        labels = threads.map { [("thread_id", String($0.id)), ("thread_name", $0.name)] }
        kind = .threads
        periodNanos = 1
        startNanos = Int64(date.timeIntervalSince1970 * 1e9)
        durationNanos = 0
    }

    /// The Swift runtime's and the C library's allocation entry points, which lead every allocation stack.
    static let allocatorFrames: Set<String> = [
        "swift_slowAlloc", "swift_slowAllocTyped", "swift_allocObject", "_swift_allocObject_", "swift_allocBox",
        "swift_allocEmptyBox", "swift_task_alloc", "swift_job_allocate", "malloc", "calloc", "realloc",
        "posix_memalign", "aligned_alloc", "memalign", "operator new(unsigned long)",
        "operator new(unsigned long, std::align_val_t)", "operator new[](unsigned long)",
    ]

    /// `frames` (innermost first) from the first frame that is not the allocator's; the last frame stays.
    static func withoutAllocatorFrames(_ frames: [Frame]) -> ArraySlice<Frame> {
        var trimmed = frames[...]
        while trimmed.count > 1, let first = trimmed.first,
            allocatorFrames.contains(first.function) || first.function.hasPrefix("swift::StackAllocator")
                || first.function.hasPrefix("swift::swift_slowAlloc")
        {
            trimmed = trimmed.dropFirst()
        }
        return trimmed
    }

    /// The loaded objects as mappings, and a function that symbolizes a stack of addresses (innermost first)
    /// against them, each address once.
    private static func symbolizer() -> (mappings: [Mapping], frames: ([UInt]) -> [Frame]) {
        let symbolizer = Symbolizer()
        let mappings = symbolizer.objects.map {
            Mapping(start: $0.start, end: $0.end, fileOffset: $0.fileOffset, path: $0.path)
        }
        var known: [UInt: Frame] = [:]
        func frame(_ address: UInt) -> Frame {
            if let frame = known[address] { return frame }
            let name = symbolizer.name(at: address)
            let made = Frame(address: address, function: name, mapping: symbolizer.objectIndex(of: address))
            known[address] = made
            return made
        }
        // A caller's return address is the instruction after the call: one less is inside the call.
        return (mappings, { pcs in pcs.enumerated().map { frame($0.offset == 0 ? $0.element : $0.element - 1) } })
    }

    /// Folded stacks, the input of flame-graph tools: `root;caller;leaf COUNT` a line, most samples first
    /// (an allocation profile: estimated bytes allocated).
    public func folded() -> String {
        var lines: [String: Int] = [:]
        for (index, stack) in stacks.enumerated() {
            let names = stack.frames.reversed().map { $0.function.replacingOccurrences(of: ";", with: ":") }
            let value = kind == .allocations ? Int(allocations[index].bytes) : stack.count
            lines[names.joined(separator: ";"), default: 0] += value
        }
        return lines.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) \($0.value)\n" }.joined()
    }

    /// The profile as perftools' `profile.proto` (what `go tool pprof` reads), not yet compressed.
    /// Field numbers are those of github.com/google/pprof/proto/profile.proto.
    public func pprof() -> [UInt8] {
        var strings = StringTable()
        var profile = ProtobufWriter()
        let valueTypes: [(Int64, Int64)]
        let periodType: (Int64, Int64)
        switch kind {
        case .cpu:
            let cpuType = (strings.index("cpu"), strings.index("nanoseconds"))
            valueTypes = [(strings.index("samples"), strings.index("count")), cpuType]
            periodType = cpuType
        case .threads:
            valueTypes = [(strings.index("threads"), strings.index("count"))]
            periodType = valueTypes[0]
        case .allocations:
            // As Go's allocs profile names them; the period is the sampling rate in bytes.
            valueTypes = [
                (strings.index("alloc_objects"), strings.index("count")),
                (strings.index("alloc_space"), strings.index("bytes")),
            ]
            periodType = (strings.index("space"), strings.index("bytes"))
        }
        let threadIDKey = strings.index("thread_id")
        for (type, unit) in valueTypes {
            profile.message(1) {
                $0.int(1, type); $0.int(2, unit)
            }  // sample_type: ValueType
        }
        var locations: [Frame: UInt64] = [:]
        var functions: [String: UInt64] = [:]
        var locationOrder: [Frame] = []
        var functionOrder: [String] = []
        for (position, stack) in stacks.enumerated() {
            var ids: [UInt64] = []
            for frame in stack.frames {
                if let id = locations[frame] {
                    ids.append(id)
                    continue
                }
                let id = UInt64(locations.count + 1)
                locations[frame] = id
                locationOrder.append(frame)
                if functions[frame.function] == nil {
                    functions[frame.function] = UInt64(functions.count + 1)
                    functionOrder.append(frame.function)
                }
                ids.append(id)
            }
            profile.message(2) { sample in  // sample: Sample
                sample.packed(1, ids)  // location_id
                let count = UInt64(stack.count)
                switch kind {  // value
                case .cpu: sample.packed(2, [count, count * UInt64(periodNanos)])
                case .threads: sample.packed(2, [count])
                case .allocations:
                    sample.packed(2, [UInt64(allocations[position].objects), UInt64(allocations[position].bytes)])
                }
                for (key, value) in position < labels.count ? labels[position] : [] {
                    // label: Label { key, str } (a numeric value as num, 3, for the thread id).
                    let keyIndex = key == "thread_id" ? threadIDKey : strings.index(key)
                    sample.message(3) { label in
                        label.int(1, keyIndex)
                        if let number = Int64(value), key == "thread_id" {
                            label.int(3, number)
                        } else {
                            label.int(2, strings.index(value))
                        }
                    }
                }
            }
        }
        for (index, mapping) in mappings.enumerated() {
            let file = strings.index(mapping.path)
            profile.message(3) { message in  // mapping: Mapping
                message.uint(1, UInt64(index + 1))  // id
                message.uint(2, UInt64(mapping.start))  // memory_start
                message.uint(3, UInt64(mapping.end))  // memory_limit
                message.uint(4, mapping.fileOffset)  // file_offset
                message.int(5, file)  // filename
                message.bool(7, true)  // has_functions
            }
        }
        for frame in locationOrder {
            let function = functions[frame.function]!
            profile.message(4) { location in  // location: Location
                location.uint(1, locations[frame]!)  // id
                location.uint(2, frame.mapping.map { UInt64($0 + 1) } ?? 0)  // mapping_id
                location.uint(3, UInt64(frame.address))  // address
                location.message(4) { $0.uint(1, function) }  // line: Line.function_id
            }
        }
        for (offset, name) in functionOrder.enumerated() {
            let nameIndex = strings.index(name)
            profile.message(5) { function in  // function: Function
                function.uint(1, UInt64(offset + 1))  // id
                function.int(2, nameIndex)  // name
                function.int(3, nameIndex)  // system_name
            }
        }
        profile.int(9, startNanos)  // time_nanos
        profile.int(10, durationNanos)  // duration_nanos
        profile.message(11) {
            $0.int(1, periodType.0); $0.int(2, periodType.1)
        }  // period_type
        profile.int(12, periodNanos)  // period
        if kind == .allocations { profile.int(14, strings.index("alloc_space")) }  // default_sample_type
        for string in strings.strings { profile.string(6, string, always: true) }  // string_table, "" first
        return profile.bytes
    }

    /// The gzipped pprof encoding, as `/debug/pprof/profile` answers it.
    public func pprofGzipped() throws -> [UInt8] {
        try Gzip.compress(pprof())
    }
}

/// pprof's string table: index 0 is the empty string.
struct StringTable {
    private(set) var strings: [String] = [""]
    private var indices: [String: Int64] = ["": 0]

    mutating func index(_ string: String) -> Int64 {
        if let known = indices[string] { return known }
        let index = Int64(strings.count)
        strings.append(string)
        indices[string] = index
        return index
    }
}

/// gzip by the system's zlib: pprof profiles (level 6) and OTLP export bodies (level 1, the exporter's CPU
/// is the serving core's too).
public enum Gzip {
    /// zlib refused; its return code.
    public struct Failure: Error, Sendable {
        public var code: Int32
    }

    public static func compress(_ input: [UInt8], level: Int32 = 6) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        let initialised = kimera_deflate_init_gzip(&stream, level)
        guard initialised == Z_OK else { throw Failure(code: initialised) }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 64)
        let result = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
                stream.avail_in = UInt32(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = UInt32(target.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard result == Z_STREAM_END else { throw Failure(code: result) }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }
}
