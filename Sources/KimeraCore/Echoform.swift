import KimeraModels

/// Parses `echoform_text`, a small s-expression language, into JSON (docs/DOMAIN.md "Geoid"):
/// `(a b)` → `["a", "b"]`, `'x` → `["quote", x]`, `"a \"b\""` → a string, `42` / `-1.5` → numbers, any other
/// atom → its text. One top-level expression is returned as it is; several become an array; none is `[]`.
///
/// The parser is iterative (no recursion), and nesting, counting quotes, is bounded by `maximumDepth`, so a
/// hostile body cannot exhaust the stack here or in the JSON encoder later.
public enum EchoformParser {
    /// The deepest nesting of lists and quotes accepted.
    public static let maximumDepth = 64

    /// One list being read: its items so far, where its `(` was, and quotes waiting for the next item.
    private struct Frame {
        var items: [JSONValue] = []
        var openOffset: Int
        var pendingQuoteOffsets: [Int] = []
    }

    public static func parse(_ text: String) throws(DomainError) -> JSONValue {
        let characters = Array(text)
        // frames[0] is the top level; its openOffset is never reported.
        var frames = [Frame(openOffset: -1)]
        var pendingQuotes = 0
        var index = 0

        func position(_ offset: Int) -> EchoformPosition {
            var line = 1
            var column = 1
            for character in characters[..<min(offset, characters.count)] {
                if character.isNewline {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            }
            return EchoformPosition(offset: offset, line: line, column: column)
        }

        func append(_ value: JSONValue) {
            var value = value
            let quotes = frames[frames.count - 1].pendingQuoteOffsets.count
            for _ in 0..<quotes { value = .array([.string("quote"), value]) }
            pendingQuotes -= quotes
            frames[frames.count - 1].pendingQuoteOffsets.removeAll()
            frames[frames.count - 1].items.append(value)
        }

        func checkDepth(at offset: Int) throws(DomainError) {
            if frames.count - 1 + pendingQuotes > maximumDepth {
                throw .malformedEchoform(
                    position: position(offset),
                    problem: "lists and quotes nest deeper than \(maximumDepth) levels")
            }
        }

        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace {
                index += 1
                continue
            }
            switch character {
            case "(":
                frames.append(Frame(openOffset: index))
                try checkDepth(at: index)
                index += 1
            case ")":
                guard frames.count > 1 else {
                    throw .unbalancedEchoform(position: position(index), problem: "a ')' with no '(' before it")
                }
                if let quote = frames[frames.count - 1].pendingQuoteOffsets.first {
                    throw .malformedEchoform(position: position(quote), problem: "a quote (') with nothing after it")
                }
                let closed = frames.removeLast()
                append(.array(closed.items))
                index += 1
            case "'":
                frames[frames.count - 1].pendingQuoteOffsets.append(index)
                pendingQuotes += 1
                try checkDepth(at: index)
                index += 1
            case "\"":
                let start = index
                var value = ""
                index += 1
                var closed = false
                while index < characters.count {
                    let next = characters[index]
                    if next == "\"" {
                        closed = true
                        index += 1
                        break
                    }
                    if next == "\\", index + 1 < characters.count {
                        switch characters[index + 1] {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        case "r": value.append("\r")
                        default: value.append(characters[index + 1])
                        }
                        index += 2
                    } else {
                        value.append(next)
                        index += 1
                    }
                }
                guard closed else {
                    throw .malformedEchoform(position: position(start), problem: "a string that is never closed")
                }
                append(.string(value))
            default:
                var atom = ""
                while index < characters.count {
                    let next = characters[index]
                    if next.isWhitespace || next == "(" || next == ")" || next == "\"" { break }
                    atom.append(next)
                    index += 1
                }
                append(atomValue(atom))
            }
        }

        if frames.count > 1 {
            let innermost = frames[frames.count - 1]
            let unclosed = frames.count - 1
            let problem =
                unclosed == 1
                ? "the '(' here is never closed"
                : "the '(' here is never closed (\(unclosed) are unclosed in all)"
            throw .unbalancedEchoform(position: position(innermost.openOffset), problem: problem)
        }
        if let quote = frames[0].pendingQuoteOffsets.first {
            throw .malformedEchoform(position: position(quote), problem: "a quote (') with nothing after it")
        }
        let top = frames[0].items
        return top.count == 1 ? top[0] : .array(top)
    }

    /// An integer or decimal (`42`, `-3`, `+0.5`, `.5`, `2.`) becomes a number; anything else stays text.
    static func atomValue(_ atom: String) -> JSONValue {
        var digits = 0
        var dots = 0
        for (offset, scalar) in atom.unicodeScalars.enumerated() {
            switch scalar {
            case "0"..."9": digits += 1
            case ".": dots += 1
            case "+" where offset == 0, "-" where offset == 0: continue
            default: return .string(atom)
            }
        }
        guard digits > 0, dots <= 1, let number = Double(atom) else { return .string(atom) }
        return .number(number)
    }
}
