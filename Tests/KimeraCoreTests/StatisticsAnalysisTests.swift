import KimeraCore
import KimeraModels
import Testing

@Suite struct StatisticsAnalysisTests {
    /// Found by the json-bodies fuzz target: numpy spreads a single value by ±0.5 in the data's units
    /// ([5] → [4.5, 5.5]); scaled first, it became ±|v|/2 ([2.5, 7.5]) and, near the largest Double, infinite
    /// edges that JSON cannot carry.
    @Test func aSingleValueSpreadsByHalfAUnit() throws {
        let five = try #require(
            try StatisticsAnalysis.analyze([5, 5], analysisType: "distribution").histogram)
        #expect(five.bins.first == 4.5)
        #expect(approximately(five.bins.last!, 5.5))
        #expect(approximately(five.bins[1], 4.6))
        #expect(five.counts == [0, 0, 0, 0, 0, 2, 0, 0, 0, 0])

        let zero = try #require(try StatisticsAnalysis.analyze([0], analysisType: "distribution").histogram)
        #expect(zero.bins.first == -0.5 && zero.bins.last == 0.5)

        let huge = try #require(
            try StatisticsAnalysis.analyze([-Double.greatestFiniteMagnitude], analysisType: "distribution").histogram)
        #expect(huge.bins.allSatisfy { $0 == -Double.greatestFiniteMagnitude })
        #expect(huge.counts[5] == 1)
    }

    @Test func spreadDataStillUsesEqualBinsOverMinToMax() throws {
        let histogram = try #require(
            try StatisticsAnalysis.analyze([0, 10], analysisType: "distribution").histogram)
        #expect(histogram.bins.first == 0 && histogram.bins.last == 10)
        #expect(histogram.counts == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    }
}
