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
        #expect(DurationText.parse("25h") == nil)
        #expect(DurationText.parse("") == nil)
        #expect(BooleanValue.parse("On") == true)
        #expect(BooleanValue.parse("no") == false)
        #expect(BooleanValue.parse("maybe") == nil)
    }

    @Test func modesFollowTheTwoFlags() {
        #expect(ServerMode(debug: false, performance: true) == .performance)
        #expect(ServerMode(debug: true, performance: false) == .fullDebug)
        #expect(ServerMode.fullDebug.debug && !ServerMode.fullDebug.performance)
    }
}
