import Testing

@testable import KimeraTelemetry

/// The bounded queue between the request threads and the exporter (docs/OPERATIONS.md "OpenTelemetry
/// export"): its items come out in the order they went in, across the end of its ring storage, and every
/// item is counted exactly once.
@Suite struct ExportQueueTests {
    /// An item whose release can be watched.
    final class Token: Sendable {
        let number: Int
        init(_ number: Int) { self.number = number }
    }

    @Test func batchesComeOutInOrderAcrossTheEndOfTheRing() {
        let queue = ExportQueue<Int>(capacity: 5, batchSize: 3)
        var next = 0
        var taken: [Int] = []
        // Three items in, two out, many times: the ring's start walks around its five slots.
        for _ in 0..<20 {
            for _ in 0..<3 {
                queue.offer(next)
                next += 1
            }
            let batch = queue.takeBatch()
            #expect(batch.count == 3)
            taken += batch
            queue.complete(batch.count, exported: true, retries: 0)
        }
        #expect(taken == Array(0..<60))
        #expect(queue.takeBatch().isEmpty)
    }

    @Test func aFullQueueDropsTheNewestAndTheCountsAddUp() {
        let queue = ExportQueue<Int>(capacity: 4, batchSize: 3)
        for number in 0..<6 { queue.offer(number) }  // 4 kept, 2 dropped
        let first = queue.takeBatch()
        #expect(first == [0, 1, 2])
        // In flight still counts toward the bound: 3 is queued, 0 to 2 are being sent, so 6 is dropped.
        queue.offer(6)
        queue.complete(first.count, exported: false, retries: 1)
        queue.offer(7)
        #expect(queue.takeBatch(fullOnly: true).isEmpty)  // two wait, fewer than a batch
        let second = queue.takeBatch()
        #expect(second == [3, 7])
        var counts = queue.counts
        #expect(counts.offered == 8)
        #expect(counts.dropped == 3)
        #expect(counts.failedItems == 3)
        #expect(counts.queued == 2)
        queue.complete(second.count, exported: true, retries: 0)
        counts = queue.counts
        #expect(counts.exportedItems == 2 && counts.queued == 0)
        #expect(counts.offered == counts.exportedItems + counts.dropped + counts.failedItems + counts.queued)
    }

    @Test func itemsLeftInTheQueueAreReleasedWithIt() {
        weak var leftAtTheEnd: Token?
        weak var leftWrapped: Token?
        do {
            let queue = ExportQueue<Token>(capacity: 4, batchSize: 2)
            for number in 0..<3 { queue.offer(Token(number)) }
            let first = queue.takeBatch()
            #expect(first.map(\.number) == [0, 1])
            queue.complete(first.count, exported: true, retries: 0)
            // 2 sits in slot 2; 3, 4 and 5 go to slots 3, 0 and 1: what is left spans the ring's end.
            for number in 3..<6 {
                let token = Token(number)
                if number == 3 { leftAtTheEnd = token }
                if number == 5 { leftWrapped = token }
                queue.offer(token)
            }
            #expect(queue.counts.queued == 4)
            #expect(leftAtTheEnd != nil && leftWrapped != nil)
        }
        #expect(leftAtTheEnd == nil)
        #expect(leftWrapped == nil)
    }

    @Test func aWakeBeforeTheWaitIsNotLost() async {
        let queue = ExportQueue<Int>(capacity: 8, batchSize: 4)
        queue.wake()
        await queue.waitForWork()  // returns at once: the schedule's wake came first
        for number in 0..<4 { queue.offer(number) }
        await queue.waitForWork()  // a full batch waits
        #expect(queue.takeBatch() == [0, 1, 2, 3])
    }
}
