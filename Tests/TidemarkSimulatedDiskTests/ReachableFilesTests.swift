import Testing
@testable import TidemarkSimulatedDisk

/// The files a crash state keeps are those the namespace walk reaches, found without its order
/// and paths: the same set, with directory cycles (a reordered pair of renames) cut and entries
/// of unreachable directories left out.
struct ReachableFilesTests {
    typealias Ref = PendingSnapshot.NodeRef

    static func file(_ id: Int) -> Ref { Ref(id: id, isDirectory: false) }
    static func directory(_ id: Int) -> Ref { Ref(id: id, isDirectory: true) }

    static let nested: [Int: [String: Ref]] = [
        0: ["a": file(1), "d": directory(2)],
        2: ["b": file(3), "e": directory(4)],
        4: ["c": file(5)],
    ]
    /// 2 and 4 name each other; 6 is reachable from nowhere; 7 is named twice.
    static let cyclic: [Int: [String: Ref]] = [
        0: ["d": directory(2), "x": file(7)],
        2: ["e": directory(4), "f": file(8)],
        4: ["back": directory(2), "y": file(7)],
        6: ["lost": file(9)],
    ]

    @Test(arguments: [[:], nested, cyclic])
    func sameSetAsTheWalk(_ entries: [Int: [String: Ref]]) {
        var walked: Set<Int> = []
        PendingSnapshot.walk(entries) { _, _, node in if !node.isDirectory { walked.insert(node.id) } }
        #expect(PendingSnapshot.reachableFiles(entries) == walked)
    }

    @Test func cyclesAndUnreachableDirectories() {
        #expect(PendingSnapshot.reachableFiles(Self.cyclic) == [7, 8])
        #expect(PendingSnapshot.reachableFiles(Self.nested) == [1, 3, 5])
    }
}
