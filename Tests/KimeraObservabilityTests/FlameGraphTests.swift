import Testing

@testable import KimeraObservability

/// The flame graph's layout and escaping, on stacks whose shares are known.
@Suite struct FlameGraphTests {
    @Test func framesAreMergedByPathAndSizedByTheirSamples() {
        let graph = FlameGraph(
            title: "t",
            stacks: [
                (["main", "serve", "search"], 6), (["main", "serve", "encode"], 2), (["main", "idle"], 2),
                (["main", "serve", "search"], 0),
            ])
        let svg = graph.svg()
        #expect(svg.contains("<title>all (10 samples, 100.0%)</title>"))
        #expect(svg.contains("<title>main (10 samples, 100.0%)</title>"))
        #expect(svg.contains("<title>serve (8 samples, 80.0%)</title>"))
        #expect(svg.contains("<title>search (6 samples, 60.0%)</title>"))
        #expect(svg.contains("<title>encode (2 samples, 20.0%)</title>"))
        // Callees in name order from the left: idle, then serve, whose encode starts at its x, search after it.
        #expect(svg.contains(#"data-x="0.0" data-w="0.2"><title>idle"#))
        #expect(svg.contains(#"data-x="0.2" data-w="0.2"><title>encode"#))
        #expect(svg.contains(#"data-x="0.4" data-w="0.6"><title>search"#))
        #expect(svg.components(separatedBy: "<g class=\"f\"").count - 1 == 6)
    }

    @Test func namesAreEscapedAndNarrowFramesLeftOut() {
        var stacks: [(functions: [String], count: Int)] = [(["Array<Int>.append(_:) & \"x\" 'y'"], 100_000)]
        stacks.append((["tiny"], 1))
        let svg = FlameGraph(title: "a < b", stacks: stacks).svg()
        #expect(svg.contains("Array&lt;Int&gt;.append(_:) &amp; &quot;x&quot; &apos;y&apos;"))
        #expect(svg.contains(">a &lt; b</text>"))
        #expect(!svg.contains("<title>tiny"))
        #expect(!svg.contains("Array<Int>"))
    }

    @Test func labelsAreCutToTheFrame() {
        #expect(FlameGraph.label("VectorIndex.Snapshot.nearest", width: 20) == "")
        #expect(FlameGraph.label("VectorIndex.Snapshot.nearest", width: 76) == "VectorIn..")
        #expect(FlameGraph.label("main", width: 100) == "main")
    }
}
