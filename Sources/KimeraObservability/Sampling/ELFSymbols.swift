import CKimeraProfiler

#if canImport(Glibc)
    import Glibc
#endif

/// One loaded object's code: where it runs, the file it came from, and its function symbols.
struct LoadedObject: Sendable {
    /// Added to the file's virtual addresses to give run-time addresses (0 for a non-PIE executable).
    var bias: UInt
    /// The executable segment at run time, `start..<end`.
    var start: UInt
    var end: UInt
    var fileOffset: UInt64
    /// The file, as `/proc/self/maps` would name it.
    var path: String

    /// The objects the dynamic loader knows, executable segments only (the vDSO included).
    static func current() -> [LoadedObject] {
        let capacity = 512
        let buffer = UnsafeMutablePointer<kimera_loaded_object>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        let count = min(Int(kimera_loaded_objects(buffer, Int32(capacity))), capacity)
        let executable = executablePath()
        return (0..<count).map { index in
            let object = buffer[index]
            let path = withUnsafeBytes(of: object.path) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            return LoadedObject(
                bias: UInt(object.bias), start: UInt(object.exec_start), end: UInt(object.exec_end),
                fileOffset: object.exec_offset, path: path.isEmpty ? executable : path)
        }
    }

    /// The running executable's path (what `/proc/self/exe` links to).
    static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return "/proc/self/exe" }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The function symbols of one ELF file, read from its `.symtab` (or `.dynsym` where that was stripped),
/// sorted by address. The file is mapped read-only while the table is alive; names are read on demand.
/// `dladdr` is no help here: it sees only dynamic symbols, and a static binary has next to none.
final class ELFSymbolTable {
    private struct Symbol {
        var address: UInt64
        var size: UInt64
        var nameOffset: UInt32
    }

    private let base: UnsafeRawPointer
    private let length: Int
    private let names: Int
    private let namesEnd: Int
    private var symbols: [Symbol] = []

    /// Nil when the file cannot be read or is not a 64-bit ELF file with a symbol table.
    init?(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 64 else { return nil }
        let length = Int(info.st_size)
        guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0),
            mapped != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            return nil
        }
        let base = UnsafeRawPointer(mapped)
        self.base = base
        self.length = length
        func u16(_ offset: Int) -> Int { Int(base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
        func u32(_ offset: Int) -> Int { Int(base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        func u64(_ offset: Int) -> Int {
            Int(truncatingIfNeeded: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        // "\x7fELF", 64-bit, little-endian.
        guard base.load(as: UInt32.self) == 0x464C_457F, base.load(fromByteOffset: 4, as: UInt8.self) == 2,
            base.load(fromByteOffset: 5, as: UInt8.self) == 1
        else {
            // Fully initialised: deinit unmaps the file.
            names = 0
            namesEnd = 0
            return nil
        }
        let sectionTable = u64(0x28)
        let entrySize = u16(0x3A)
        let sectionCount = u16(0x3C)
        var found: (table: Int, tableSize: Int, strings: Int, stringsSize: Int)?
        if entrySize >= 64, sectionTable > 0, sectionTable + sectionCount * entrySize <= length {
            // The full table when there is one, else the dynamic one.
            for wanted in [2, 11] where found == nil {
                for index in 0..<sectionCount {
                    let header = sectionTable + index * entrySize
                    guard u32(header + 4) == wanted else { continue }
                    let link = u32(header + 40)
                    guard link < sectionCount else { continue }
                    let stringsHeader = sectionTable + link * entrySize
                    found = (u64(header + 24), u64(header + 32), u64(stringsHeader + 24), u64(stringsHeader + 32))
                    break
                }
            }
        }
        guard let found, found.table + found.tableSize <= length, found.strings + found.stringsSize <= length else {
            names = 0
            namesEnd = 0
            return nil
        }
        names = found.strings
        namesEnd = found.strings + found.stringsSize
        var symbols: [Symbol] = []
        symbols.reserveCapacity(found.tableSize / 24)
        var entry = found.table
        while entry + 24 <= found.table + found.tableSize {
            let kind = base.load(fromByteOffset: entry + 4, as: UInt8.self) & 0xF
            let section = u16(entry + 6)
            let address = base.loadUnaligned(fromByteOffset: entry + 8, as: UInt64.self)
            // Functions defined in this file (section index 0 is "undefined").
            if kind == 2, section != 0, address != 0 {
                symbols.append(
                    Symbol(
                        address: address, size: base.loadUnaligned(fromByteOffset: entry + 16, as: UInt64.self),
                        nameOffset: base.loadUnaligned(fromByteOffset: entry, as: UInt32.self)))
            }
            entry += 24
        }
        symbols.sort { $0.address < $1.address }
        self.symbols = symbols
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), length)
    }

    var isEmpty: Bool { symbols.isEmpty }

    /// The raw (mangled) name of the function that holds `address`, a file virtual address.
    func name(at address: UInt64) -> String? {
        let low = countAtMost(symbols, address) { $0.address }
        guard low > 0 else { return nil }
        let symbol = symbols[low - 1]
        // A sized symbol must cover the address; an unsized one covers up to the next.
        if symbol.size > 0, address >= symbol.address + symbol.size { return nil }
        let start = names + Int(symbol.nameOffset)
        guard start < namesEnd else { return nil }
        let pointer = base.advanced(by: start).assumingMemoryBound(to: CChar.self)
        return String(cString: pointer)
    }
}

@_silgen_name("swift_demangle")
private func runtimeDemangle(
    _ mangled: UnsafePointer<CChar>?, _ length: Int, _ output: UnsafeMutablePointer<CChar>?,
    _ outputSize: UnsafeMutablePointer<Int>?, _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?

/// Swift (and C++) symbol names as people read them, by the runtimes' own demanglers.
enum SwiftDemangle {
    static func readable(_ name: String) -> String {
        if name.hasPrefix("_Z") {
            // The C++ of the Swift runtime (swift::runJobInEstablishedExecutorContext and the like).
            guard let demangled = kimera_cxx_demangle(name) else { return name }
            defer { free(demangled) }
            return String(cString: demangled)
        }
        guard name.hasPrefix("$s") || name.hasPrefix("_$s") || name.hasPrefix("$S") || name.hasPrefix("_T0") else {
            return name
        }
        return name.withCString { pointer in
            guard let demangled = runtimeDemangle(pointer, strlen(pointer), nil, nil, 0) else { return name }
            defer { free(demangled) }
            return String(cString: demangled)
        }
    }
}

/// Turns addresses of this process into function names: finds the loaded object, reads its symbol table
/// once, demangles Swift names, and remembers each answer.
final class Symbolizer {
    let objects: [LoadedObject]
    private var tables: [String: ELFSymbolTable?] = [:]
    private var cache: [UInt: String] = [:]

    init(objects: [LoadedObject] = LoadedObject.current()) {
        self.objects = objects.sorted { $0.start < $1.start }
    }

    /// The index in `objects` of the object whose code holds `address`.
    func objectIndex(of address: UInt) -> Int? {
        let low = countAtMost(objects, UInt64(address)) { UInt64($0.start) }
        guard low > 0, address < objects[low - 1].end else { return nil }
        return low - 1
    }

    /// The function holding `address`, or where no symbol covers it the object's file name in brackets
    /// (`[libc.so.6]`, as perf says it), or `[unknown]` outside every object.
    func name(at address: UInt) -> String {
        if let function = function(at: address) { return function }
        guard let index = objectIndex(of: address) else { return "[unknown]" }
        return "[" + (objects[index].path.split(separator: "/").last.map(String.init) ?? objects[index].path) + "]"
    }

    /// The demangled name of the function that holds `address`, nil when no symbol covers it.
    func function(at address: UInt) -> String? {
        if let known = cache[address] { return known }
        guard let index = objectIndex(of: address) else { return nil }
        let object = objects[index]
        let table: ELFSymbolTable?
        if let loaded = tables[object.path] {
            table = loaded
        } else {
            table = object.path.hasPrefix("/") ? ELFSymbolTable(path: object.path) : nil
            tables[object.path] = table
        }
        guard let raw = table?.name(at: UInt64(address &- object.bias)) else { return nil }
        let name = SwiftDemangle.readable(raw)
        cache[address] = name
        return name
    }
}

/// How many leading elements of `items`, sorted by `key`, have a key of at most `value` (a binary search):
/// the last of them is the one whose range may hold `value`.
private func countAtMost<Element>(_ items: [Element], _ value: UInt64, key: (Element) -> UInt64) -> Int {
    var low = 0
    var high = items.count
    while low < high {
        let middle = (low + high) / 2
        if key(items[middle]) <= value { low = middle + 1 } else { high = middle }
    }
    return low
}
