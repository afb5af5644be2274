import Foundation
import GRDB
import Testing

@testable import FacegateJournal

/// `facegate log` reads in chunks of rows by id: each chunk must be read along the id, whatever the
/// filter. With a filter SQLite could answer from its own index (the door's, the outcome's), it picked
/// that index for every chunk and sorted all the matching rows again each time: 39 s to list one door
/// of a 300,000-row journal, where the id range takes 0.2 s.
@Suite(.timeLimit(.minutes(1)))
struct ListingQueryPlanTests {
    @Test func eachChunkIsReadAlongTheIdWhateverTheFilter() throws {
        let queue = try DatabaseQueue()
        try JournalSchema.migrator.migrate(queue)
        var filter = RowFilter(since: nil, until: nil, door: "front")
        filter.match("outcome", anyOf: ["granted"])
        let (sql, arguments) = filter.chunk("id", from: "decision", after: 0, through: 1_000, count: 256)
        let plan = try queue.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String? ?? "" }
        }
        #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "a sort of every matching row, for each chunk: \(plan)")
        #expect(plan.contains { $0.contains("INTEGER PRIMARY KEY") || $0.contains("rowid") }, "\(plan)")
    }
}
