import FacegateApp
import FacegateTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The relay the daemon starts with is recorded for `facegate door rest` after a stop.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct RestingRelayRecordTests {
    /// A record that cannot be written (the state folder's disk full) does not leave the previous start's in
    /// place: `door rest` would drive that line, perhaps since rewired to something else, after every stop
    /// (review). Without a record it rests the configuration file's relay, as the start's warning says.
    @Test(.enabled(if: getuid() == 0, "mounts a small file system"))
    func aRecordThatCannotBeWrittenLeavesNoOlderOne() throws {
        let folder = try TemporaryFolder("relay-record")
        defer { folder.remove() }
        let mount = try FaultMatrixHostTests.Mount(folder.url.appendingPathComponent("state"), ["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        let state = mount.point.path
        try RestingRelayRecord.write(.init(chip: "gpiochip0", line: "relay-a"), in: state)
        #expect(RestingRelayRecord.read(in: state)?.line == "relay-a")
        // The disk fills up.
        _ = try? ToolProcess.runBlocking(URL(fileURLWithPath: "/bin/dd"), ["if=/dev/zero", "of=\(state)/filler", "bs=4k"])
        #expect(throws: (any Error).self) { try RestingRelayRecord.write(.init(chip: "gpiochip0", line: "relay-b"), in: state) }
        #expect(RestingRelayRecord.read(in: state) == nil, "the earlier start's relay is not left to be rested")
    }
}
