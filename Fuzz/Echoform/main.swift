import Foundation
import KimeraModels

/// `EchoformParser.parse` on any text: it returns a value JSON can carry, nested no deeper than the parser's
/// bound, or a positioned error inside the text; never a trap, a hang or a stack overflow.

func depth(_ value: JSONValue) -> Int {
    switch value {
    case .array(let items): 1 + (items.map(depth).max() ?? 0)
    case .object(let members): 1 + (members.values.map(depth).max() ?? 0)
    default: 0
    }
}

let encoder = JSONEncoder()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let source = text(data, size)
    do {
        let value = try EchoformParser.parse(source)
        // Every list and quote is one array level; several top-level expressions add one more.
        check(depth(value) <= EchoformParser.maximumDepth + 1, "depth \(depth(value)) of \(source.debugDescription)")
        do {
            _ = try encoder.encode(value)
        } catch {
            check(false, "the parse of \(source.debugDescription) cannot be encoded as JSON: \(error)")
        }
    } catch {
        switch error {
        case .unbalancedEchoform(let position, _), .malformedEchoform(let position, _):
            check(
                (0..<max(source.count, 1)).contains(position.offset) && position.line >= 1 && position.column >= 1,
                "position \(position) outside \(source.debugDescription)")
        default:
            check(false, "unexpected error \(error) for \(source.debugDescription)")
        }
    }
    return 0
}
