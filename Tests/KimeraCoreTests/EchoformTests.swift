import KimeraModels
import Testing

@testable import KimeraCore

@Suite("Echoform parser")
struct EchoformTests {
    @Test("nested lists become nested arrays, atoms strings")
    func nested() throws {
        #expect(
            try EchoformParser.parse("(define (square x) (* x x))")
                == .array([
                    .string("define"), .array([.string("square"), .string("x")]),
                    .array([.string("*"), .string("x"), .string("x")]),
                ]))
    }

    @Test("'x is [\"quote\", x], also before a list and twice")
    func quote() throws {
        #expect(try EchoformParser.parse("'x") == .array([.string("quote"), .string("x")]))
        #expect(
            try EchoformParser.parse("(a '(b c))")
                == .array([.string("a"), .array([.string("quote"), .array([.string("b"), .string("c")])])]))
        #expect(
            try EchoformParser.parse("''x")
                == .array([.string("quote"), .array([.string("quote"), .string("x")])]))
    }

    @Test("quoted strings with escapes; integers and decimals are numbers")
    func atoms() throws {
        #expect(
            try EchoformParser.parse(#"("two words" "say \"hi\"" 42 -1.5 .5 +3 2. x1 - 1e5)"#)
                == .array([
                    .string("two words"), .string(#"say "hi""#), .number(42), .number(-1.5), .number(0.5),
                    .number(3), .number(2), .string("x1"), .string("-"), .string("1e5"),
                ]))
    }

    @Test("several top-level expressions form an array; none is []")
    func topLevel() throws {
        #expect(try EchoformParser.parse("(a) b") == .array([.array([.string("a")]), .string("b")]))
        #expect(try EchoformParser.parse("  ") == .array([]))
        #expect(try EchoformParser.parse("()") == .array([]))
    }

    @Test("an unclosed '(' is reported where it opened")
    func unclosed() {
        #expect(
            throws: DomainError.unbalancedEchoform(
                position: EchoformPosition(offset: 3, line: 1, column: 4),
                problem: "the '(' here is never closed (2 are unclosed in all)")
        ) {
            try EchoformParser.parse("(a (b (c d)")
        }
    }

    @Test("an extra ')' is reported where it stands, with line and column")
    func extraClose() {
        do {
            _ = try EchoformParser.parse("(a\n  b))")
            Issue.record("expected an error")
        } catch {
            #expect(
                error
                    == .unbalancedEchoform(
                        position: EchoformPosition(offset: 7, line: 2, column: 5),
                        problem: "a ')' with no '(' before it"))
            #expect(
                error.message
                    == "echoform_text has unbalanced parentheses: a ')' with no '(' before it at line 2, column 5 (offset 7)."
            )
            #expect(error.field == "echoform_text")
        }
    }

    @Test("an unterminated string and a dangling quote are malformed")
    func malformed() {
        #expect(
            throws: DomainError.malformedEchoform(
                position: EchoformPosition(offset: 3, line: 1, column: 4), problem: "a string that is never closed")
        ) { try EchoformParser.parse(#"(a "b)"#) }
        #expect(
            throws: DomainError.malformedEchoform(
                position: EchoformPosition(offset: 3, line: 1, column: 4), problem: "a quote (') with nothing after it")
        ) { try EchoformParser.parse("(a ')") }
    }

    @Test("nesting deeper than the bound is refused, not a stack overflow")
    func tooDeep() {
        let deep = String(repeating: "(", count: 100_000) + String(repeating: ")", count: 100_000)
        #expect(throws: DomainError.self) { try EchoformParser.parse(deep) }
        let ok =
            String(repeating: "(", count: EchoformParser.maximumDepth)
            + String(repeating: ")", count: EchoformParser.maximumDepth)
        #expect((try? EchoformParser.parse(ok)) != nil)
    }
}
