#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraClient

/// How a command prints a fan-out: a row (or JSON object) per instance, a stderr line per instance that
/// did not answer, and the worst exit code of those — never silence.
enum FleetOutput {
    /// One instance in JSON output: its answer, or its error and the exit code that error means.
    struct Row<Value: Encodable>: Encodable {
        var instance: String
        var url: String
        var result: Value?
        var error: String?
        var exitCode: Int32?

        init(_ result: InstanceResult<some Sendable>, value: Value?) {
            instance = result.instance
            url = result.url
            self.result = value
            if let failure = result.error {
                error = failure.message
                exitCode = CLIExit.from(failure).code
            }
        }

        enum CodingKeys: String, CodingKey {
            case instance, url, result, error
            case exitCode = "exit_code"
        }
    }

    /// The answer of a fleet command in JSON: every instance's row.
    struct Rows<Value: Encodable>: Encodable {
        var instances: [Row<Value>]
    }

    /// Prints a line on stderr for each instance that failed and a count; returns the exit to end with,
    /// or nil when every instance answered.
    static func summarise(_ results: [InstanceResult<some Sendable>], output: Output) -> CLIExit? {
        let failed = results.filter { $0.error != nil }
        guard !failed.isEmpty else { return nil }
        for result in failed { output.notice("\(result.instance): \(result.error!.message)") }
        output.notice("\(failed.count) of \(results.count) instances did not answer")
        return .partial(code: worstCode(failed.compactMap(\.error).map { CLIExit.from($0).code }))
    }

    /// The most severe of several exit codes: interrupted, then the highest.
    static func worstCode(_ codes: [Int32]) -> Int32 {
        if codes.contains(130) { return 130 }
        return codes.filter { $0 != 64 }.max() ?? codes.max() ?? 0
    }

    /// The colours instance prefixes cycle through.
    static let palette: [TextStyle.Color] = [.cyan, .green, .yellow, .magenta, .blue, .red]

    /// `[host:port] ` in the instance's colour, padded so that lines line up.
    static func prefix(_ instance: String, index: Int, width: Int, style: TextStyle) -> String {
        let padding = String(repeating: " ", count: max(0, width - instance.count - 2))
        return style.paint("[\(instance)]", palette[index % palette.count]) + padding + " "
    }

    /// What one read of every instance answered, as sections: `== host:port` and that instance's text
    /// (`-o json`: a row each), then a stderr line for each instance that failed and the worst exit code.
    static func sections<Value: Encodable & Sendable>(
        _ results: [InstanceResult<Value>], output: Output, text: (Value) -> String
    ) throws {
        let rows = results.map { Row<Value>($0, value: $0.value) }
        output.emit(Rows(instances: rows), records: rows) {
            results.compactMap { result in
                result.value.map { output.style.paint("== \(result.instance)", .bold) + "\n" + text($0) }
            }.joined(separator: "\n")
        }
        if let exit = summarise(results, output: output) { throw exit }
    }

    /// Applies a change to every instance (`debug mode`, `debug log-level`, `profile on|off`): a result row
    /// each, a stderr summary of those that failed, and the worst exit code.
    static func apply<Value: Encodable & Sendable>(
        in context: CommandContext, _ operation: @escaping @Sendable (KimeraClient) async throws -> Value,
        describe: @escaping (Value) -> String
    ) async throws {
        let results = await context.fleet.each(operation)
        let output = context.output
        let rows = results.map { Row<Value>($0, value: $0.value) }
        output.emit(Rows(instances: rows), records: rows) {
            var table = Table([Table.Column("INSTANCE"), Table.Column("RESULT", flexible: true, minWidth: 12)])
            for result in results {
                switch result.result {
                case .success(let value): table.append([Table.Cell(result.instance), Table.Cell(describe(value))])
                case .failure(let error):
                    table.append([Table.Cell(result.instance), Table.Cell("failed: \(error.message)", .red)])
                }
            }
            return table.render(width: output.width, style: output.style)
        }
        if let exit = summarise(results, output: output) { throw exit }
    }
}

/// A value that encodes as `record`'s own fields plus `instance`: logs and traces of a fleet in JSON.
struct InstanceTagged<Record: Encodable>: Encodable {
    var instance: String
    var record: Record

    enum CodingKeys: String, CodingKey { case instance }

    func encode(to encoder: any Encoder) throws {
        try record.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(instance, forKey: .instance)
    }
}
