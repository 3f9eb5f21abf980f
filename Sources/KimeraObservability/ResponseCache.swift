import HTTPTypes
import KimeraAPI
import KimeraModels
import NIOCore
import Synchronization

/// Pre-encoded responses of cacheable GET routes, LRU-bounded by entries and bytes, each with its TTL.
public final class ResponseCache: Sendable {
    /// The key of a cacheable GET: the canonical path (`RequestTarget`) and the parsed query
    /// (`ParsedQuery.cacheKey`): parameter order between names, spelling (percent-encoding) and the cache's
    /// own `bypass_cache` make no new entry; the order of a repeated name does, since handlers read its
    /// first value. Without a query the key is the path itself, at no cost.
    public static func key(path: String, query: String?) -> String {
        guard let query, !query.isEmpty else { return path }
        return key(path: path, parsed: ParsedQuery(query))
    }

    public static func key(path: String, parsed: ParsedQuery) -> String {
        parsed.cacheKey(path: path, excluding: bypassParameter)
    }

    /// The query parameter that skips the cache.
    public static let bypassParameter = "bypass_cache"

    struct Entry: Sendable {
        var key: String
        /// The route template that produced it, for the tracer's statistics on a hit.
        var route: String
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: ByteBuffer
        var storedAt: Int64
        var ttlNanos: Int64
        var bytes: Int
        var previous: Int
        var next: Int
    }

    /// A hit: what to send and how old it is.
    package struct Hit: Sendable {
        package var route: String
        package var status: HTTPResponse.Status
        package var headers: HTTPFields
        package var body: ByteBuffer
        package var ageNanos: Int64
    }

    /// A doubly linked LRU list over `nodes`; index -1 is "none". Free slots are reused.
    struct State: Sendable {
        var index: [String: Int] = [:]
        var nodes: [Entry?] = []
        var free: [Int] = []
        var newest = -1
        var oldest = -1
        var bytes = 0
        var hits: UInt64 = 0
        var misses: UInt64 = 0
        var evictions: UInt64 = 0
    }

    public let maxEntries: Int
    public let maxBytes: Int
    let runtime: RuntimeConfiguration
    /// Protects the index, the LRU list and the counters.
    private let state = Mutex<State>(State())

    public init(runtime: RuntimeConfiguration, maxEntries: Int, maxBytes: Int) {
        self.runtime = runtime
        self.maxEntries = max(1, maxEntries)
        self.maxBytes = max(1024, maxBytes)
    }

    package func lookup(_ key: String, now: Int64 = Timestamp.monotonicNanos()) -> Hit? {
        state.locked { state in
            guard let slot = state.index[key], let entry = state.nodes[slot] else { return nil }
            let age = now - entry.storedAt
            if age >= entry.ttlNanos {
                Self.unlink(slot, &state)
                return nil
            }
            state.hits += 1
            Self.moveToFront(slot, &state)
            return Hit(
                route: entry.route, status: entry.status, headers: entry.headers, body: entry.body, ageNanos: age)
        }
    }

    /// Counts a lookup of a cacheable route that found nothing fresh.
    package func recordMiss() {
        state.locked { $0.misses += 1 }
    }

    package func store(
        _ key: String, route: String = "", status: HTTPResponse.Status, headers: HTTPFields, body: ByteBuffer,
        ttlSeconds: Double,
        now: Int64 = Timestamp.monotonicNanos()
    ) {
        let size =
            key.utf8.count + body.readableBytes
            + headers.reduce(0) { $0 + $1.name.rawName.utf8.count + $1.value.utf8.count } + 128
        guard ttlSeconds > 0, size <= maxBytes / 4 else { return }
        state.locked { state in
            if let existing = state.index[key] { Self.unlink(existing, &state) }
            while !state.index.isEmpty && (state.index.count >= maxEntries || state.bytes + size > maxBytes) {
                Self.unlink(state.oldest, &state)
                state.evictions += 1
            }
            let entry = Entry(
                key: key, route: route, status: status, headers: headers, body: body, storedAt: now,
                ttlNanos: Int64(ttlSeconds * 1e9), bytes: size, previous: -1, next: state.newest)
            let slot: Int
            if let reused = state.free.popLast() {
                slot = reused
                state.nodes[slot] = entry
            } else {
                slot = state.nodes.count
                state.nodes.append(entry)
            }
            if state.newest >= 0 { state.nodes[state.newest]?.previous = slot }
            state.newest = slot
            if state.oldest < 0 { state.oldest = slot }
            state.index[key] = slot
            state.bytes += size
        }
    }

    /// Drops every entry whose key starts with `prefix` (writers call this for what they made stale).
    public func invalidate(prefix: String) {
        state.locked { state in
            let stale = state.index.filter { $0.key.hasPrefix(prefix) }.map(\.value)
            for slot in stale { Self.unlink(slot, &state) }
        }
    }

    private static func unlink(_ slot: Int, _ state: inout State) {
        guard slot >= 0, let entry = state.nodes[slot] else { return }
        if entry.previous >= 0 { state.nodes[entry.previous]?.next = entry.next } else { state.newest = entry.next }
        if entry.next >= 0 { state.nodes[entry.next]?.previous = entry.previous } else { state.oldest = entry.previous }
        state.nodes[slot] = nil
        state.free.append(slot)
        state.index[entry.key] = nil
        state.bytes -= entry.bytes
    }

    private static func moveToFront(_ slot: Int, _ state: inout State) {
        guard state.newest != slot, let entry = state.nodes[slot] else { return }
        if entry.previous >= 0 { state.nodes[entry.previous]?.next = entry.next }
        if entry.next >= 0 { state.nodes[entry.next]?.previous = entry.previous } else { state.oldest = entry.previous }
        state.nodes[slot]?.previous = -1
        state.nodes[slot]?.next = state.newest
        state.nodes[state.newest]?.previous = slot
        state.newest = slot
    }

    public var stats: CacheStats {
        let enabled = runtime.performance
        let ttl = runtime.defaultCacheTTL
        return state.locked { state in
            let lookups = state.hits + state.misses
            return CacheStats(
                enabled: enabled, hits: Int(clamping: state.hits), misses: Int(clamping: state.misses),
                hitRate: lookups == 0 ? 0 : Double(state.hits) / Double(lookups),
                evictions: Int(clamping: state.evictions),
                entries: state.index.count, bytes: state.bytes, maxEntries: maxEntries, maxBytes: maxBytes,
                defaultTTLSeconds: ttl)
        }
    }

    var fill: BufferFill {
        state.locked { state in
            BufferFill(
                used: state.index.count, limit: maxEntries, bytes: state.bytes, bytesLimit: maxBytes,
                dropped: Int(clamping: state.evictions))
        }
    }
}
