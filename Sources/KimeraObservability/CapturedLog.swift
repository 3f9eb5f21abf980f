import KimeraAPI
import KimeraModels
import Logging

/// A log record as the ring stores it: raw values, formatted only when somebody reads it.
package struct CapturedLog: Sendable {
    var seq: UInt64
    /// Wall clock, nanoseconds since the epoch.
    var timeNanos: Int64
    var level: Logger.Level
    var module: String
    var message: String
    var requestID: String?
    var metadata: [String: String]
    var file: String
    var function: String
    var line: UInt

    /// What the record costs the ring, for its byte bound: the text it holds plus a fixed overhead.
    var bytes: Int {
        var total = 160 + module.utf8.count + message.utf8.count + file.utf8.count + function.utf8.count
        total += requestID?.utf8.count ?? 0
        for (key, value) in metadata { total += key.utf8.count + value.utf8.count + 32 }
        return total
    }

    package var record: LogRecord {
        LogRecord(
            seq: Int(clamping: seq), timestamp: Timestamp.iso8601(nanos: timeNanos), level: LogLevel(level),
            module: module, message: message, requestID: requestID, metadata: .init(metadata),
            source: SourceLocation(file: file, function: function, line: Int(clamping: line)))
    }
}

/// Which records a reader wants (`/debug/logs`, the stream, the CLI).
public struct LogFilter: Sendable {
    public var level: Logger.Level?
    /// `level` is a minimum unless `exact`.
    public var exact = false
    /// A module label or any label below it.
    public var module: String?
    public var requestID: String?
    /// Only records with a greater seq.
    public var sinceSeq: UInt64?

    public init(
        level: Logger.Level? = nil, exact: Bool = false, module: String? = nil, requestID: String? = nil,
        sinceSeq: UInt64? = nil
    ) {
        self.level = level
        self.exact = exact
        self.module = module
        self.requestID = requestID
        self.sinceSeq = sinceSeq
    }

    func matches(_ log: CapturedLog) -> Bool {
        if let sinceSeq, log.seq <= sinceSeq { return false }
        if let level {
            if exact ? log.level != level : log.level < level { return false }
        }
        if let module, !ModulePath.covers(module, log.module) { return false }
        if let requestID, log.requestID != requestID { return false }
        return true
    }
}

/// Module labels are dot-separated paths; a parent covers its children.
enum ModulePath {
    static func covers(_ parent: String, _ module: String) -> Bool {
        guard module.hasPrefix(parent) else { return false }
        if module.utf8.count == parent.utf8.count { return true }
        return module.utf8[module.utf8.index(module.utf8.startIndex, offsetBy: parent.utf8.count)] == UInt8(ascii: ".")
    }
}
