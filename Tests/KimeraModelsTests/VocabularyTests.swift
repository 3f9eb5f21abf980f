import Foundation
import KimeraModels
import Testing

/// The shared vocabulary encodes to exactly the strings the wire has always carried.
@Suite struct VocabularyTests {
    @Test func logLevelsParseInAnyCaseAndWarnMeansWarning() {
        #expect(LogLevel(parsing: "warn") == .warning)
        #expect(LogLevel(parsing: "Debug") == .debug)
        #expect(LogLevel(parsing: "CRITICAL") == .critical)
        #expect(LogLevel(parsing: "verbose") == nil)
        #expect(LogLevel(parsing: "\u{0131}nfo") == nil)
        #expect(LogLevel.allowed == ["TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL"])
        #expect(LogLevel.debug < LogLevel.error)
    }

    @Test func enumsEncodeToTheirWireStrings() throws {
        let encoder = JSONEncoder()
        func wire(_ value: some Encodable) throws -> String {
            String(decoding: try encoder.encode(value), as: UTF8.self)
        }
        #expect(try wire(LogLevel.warning) == #""WARNING""#)
        #expect(try wire(VaultID.vaultB) == #""vault_b""#)
        #expect(try wire(CacheOutcome.bypassed) == #""BYPASSED""#)
        #expect(try wire(JobState.completed) == #""completed""#)
        #expect(try wire(ServerMode.performanceDebug) == #""performance+debug""#)
        #expect(try JSONDecoder().decode(VaultID.self, from: Data(#""vault_a""#.utf8)) == .vaultA)
    }

    @Test func durationsAndBooleansHaveOneGrammar() {
        #expect(DurationText.parse("15m") == .seconds(900))
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        // Out of range is refused, never cut: 1ms to 24h.
        #expect(DurationText.parse("25h") == nil)
        #expect(DurationText.parse("2d") == nil)
        #expect(DurationText.parse("24h") == .seconds(86_400))
        #expect(DurationText.parse("0.5ms") == .milliseconds(1))
        #expect(DurationText.parse("0.4ms") == nil)
        #expect(DurationText.parse("0s") == nil)
        #expect(DurationText.parse("1e3") == nil)
        #expect(DurationText.parse(" 5m") == nil)
        #expect(DurationText.parse("2H") == .seconds(7200))
        #expect(DurationText.parse("") == nil)
        #expect(BooleanValue.parse("On") == true)
        #expect(BooleanValue.parse("no") == false)
        #expect(BooleanValue.parse("maybe") == nil)
    }

    /// Found by the query-values fuzz target: what the pattern accepts is a positive duration or refused as
    /// out of range, never zero.
    @Test func aPositiveDurationNeverRoundsToZero() {
        #expect(DurationText.parse("0.0004") == nil)
        #expect(DurationText.seconds("0.0004") == 0.0004)
        #expect(DurationText.parse("0." + String(repeating: "0", count: 400) + "1s") == nil)
        #expect((DurationText.seconds("0." + String(repeating: "0", count: 400) + "1s") ?? 0) > 0)
        #expect(DurationText.parse("0.000") == nil)
        #expect(DurationText.parse("1.5ms") == .milliseconds(2))
    }

    @Test func limitsAreDigitsOnlyAndClamped() {
        #expect(QueryLimit.parse("5", maximum: 100) == 5)
        #expect(QueryLimit.parse("007", maximum: 100) == 7)
        #expect(QueryLimit.parse("1001", maximum: 100) == 100)
        #expect(QueryLimit.parse(String(repeating: "9", count: 40), maximum: 100) == 100)
        for bad in ["", "0", "000", "-1", "+1", " 1", "1 ", "1.0", "1e2", "\u{661}"] {
            #expect(QueryLimit.parse(bad, maximum: 100) == nil, "\(bad.debugDescription)")
        }
    }

    @Test func modesFollowTheTwoFlags() {
        #expect(ServerMode(debug: false, performance: true) == .performance)
        #expect(ServerMode(debug: true, performance: false) == .fullDebug)
        #expect(ServerMode.fullDebug.debug && !ServerMode.fullDebug.performance)
    }
}
