import FacegateApp
import FacegateCore
import FacegateDoor
import FacegateJournal
import Foundation
import Logging
import Testing
import FacegateTesting

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon's control socket with the real `facegate status` and `facegate door unlock`, and the
/// kernel's word on who connects: root and the admin group in, anyone else out.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ControlSocketTests {
    static let facegate = BuiltProducts.executable("facegate")

    @Test func statusAndAManualUnlockThroughTheCommands() async throws {
        try await DoorRig.with { rig in
            let socket = rig.folder.appendingPathComponent("control.sock").path
            rig.configuration.control.socket = socket
            rig.configuration.metrics.listen = ListenAddress(host: "127.0.0.1", port: 0)
            try await rig.runHeldDoor(visitors: [DoorControllerEndToEndTests.strangerWalksUp]) { door in
                let status = try await ToolProcess.run(Self.facegate, ["status", "--socket", socket, "--json"])
                #expect(status.status == 0, "\(status.errors)")
                let report = try JSONDecoder.iso8601.decode(DoorHealthReport.self, from: Data(status.output.utf8))
                #expect(report.canDecide && report.camera.status == .ok)
                let readable = try await ToolProcess.run(Self.facegate, ["status", "--socket", socket])
                #expect(readable.output.contains("can decide") && readable.output.contains("camera: ok"))

                let relayBefore = door.lines.relayChanges
                var asSudo = ProcessInfo.processInfo.environment
                asSudo["SUDO_USER"] = "alice"
                let unlock = try await ToolProcess.run(
                    Self.facegate, ["door", "unlock", "--socket", socket, "--reason", "delivery at the front desk"], environment: asSudo)
                #expect(unlock.status == 0, "\(unlock.errors)")
                #expect(unlock.output.contains("unlocked"))
                #expect(door.lines.relayChanges > relayBefore, "the relay moved")

                let refused = try await ToolProcess.run(Self.facegate, ["door", "unlock", "--socket", socket, "--reason", "  "])
                #expect(refused.status == 1 && refused.errors.contains("needs a reason"))
                // 200 characters, but tens of kilobytes: one letter and its combining marks.
                let heavy = "a" + String(repeating: "\u{0301}", count: 5_000)
                let tooLong = try await ToolProcess.run(Self.facegate, ["door", "unlock", "--socket", socket, "--reason", heavy])
                #expect(tooLong.status == 1 && tooLong.errors.contains("needs a reason"), "\(tooLong.errors)")

                try await door.service.flushJournal()
                let manual = try await rig.journaledDecisions().filter { $0.record.decision.outcome == .manualUnlock }
                #expect(manual.count == 1)
                // Who asked: the kernel's uid and pid, and the login sudo acted for, as stated.
                let reason = manual.first?.record.decision.reason ?? ""
                #expect(reason.hasPrefix("manual unlock (uid \(getuid()), pid "), "\(reason)")
                #expect(reason.hasSuffix(", stated user alice): delivery at the front desk"), "\(reason)")
                #expect(manual.first?.record.relay == .unlocked)
                let samples = try await StatusEndpointTests.parsePrometheus(try await door.get("/metrics").body)
                #expect(samples["facegate_decisions_total{outcome=manual-unlock}"] == 1)
            }
            // The daemon gone, the command says so instead of hanging.
            let gone = try await ToolProcess.run(Self.facegate, ["status", "--socket", socket])
            #expect(gone.status == 2 && gone.errors.contains("no facegate daemon is listening"))
        }
    }

    @Test func theSocketAdmitsTheAdminGroupAndRefusesEveryoneElse() async throws {
        try #require(getuid() == 0, "needs root to connect as other users")
        try await DoorRig.with { rig in
            let socket = rig.folder.appendingPathComponent("control.sock").path
            rig.configuration.control.socket = socket
            // Debian's `users` group (gid 100) stands for the installer's admin group.
            rig.configuration.control.adminGroup = "users"
            try await rig.runHeldDoor(visitors: [DoorControllerEndToEndTests.strangerWalksUp]) { _ in
                let attributes = try FileManager.default.attributesOfItem(atPath: socket)
                #expect(attributes[.posixPermissions] as? Int == 0o660, "owner and the admin group only")
                #expect((attributes[.groupOwnerAccountID] as? NSNumber)?.intValue == 100)

                // nobody in the users group: let in by the file's mode and by the daemon's check.
                let member = try await Self.ask(socket, as: ["--reuid=65534", "--regid=65534", "--groups=100"])
                #expect(member.contains("\"ok\":true"), "\(member)")
                // nobody alone: the file's mode already keeps them out.
                let outsider = try await Self.ask(socket, as: ["--reuid=65534", "--regid=65534", "--clear-groups"])
                #expect(outsider.contains("PermissionError"), "\(outsider)")
                // And were the file's mode opened up, the daemon's own check still refuses them.
                #expect(chmod(socket, 0o666) == 0)
                let checked = try await Self.ask(socket, as: ["--reuid=65534", "--regid=65534", "--clear-groups"])
                #expect(checked.contains("not allowed"), "\(checked)")
                #expect(!checked.contains("camera"), "nothing of the door's state to an outsider")
            }
        }
    }

    @Test func aSocketThatCannotBeMadeCostsTheCommandsNotTheDoor() async throws {
        let logs = CapturedLogs()
        try await DoorRig.with { rig in
            rig.logger = logs.logger(label: "control-socket", level: .trace)
            _ = try await rig.enrol(DoorControllerEndToEndTests.enrolledPhoto)
            // /proc takes no new folders, even from root.
            rig.configuration.control.socket = "/proc/facegate-no-such-folder/control.sock"
            try await rig.runHeldDoor(visitors: [DoorControllerEndToEndTests.enrolledWalksUp]) { door in
                let decided = try await rig.journaledDecisionsAfterFlush(door)
                #expect(decided.map(\.record.decision.outcome) == [.granted], "the door decided without its control socket")
            }
        }
        // Said, without the path: the installer's configuration is not for the log.
        #expect(logs.all.contains { $0.contains("control socket unavailable") })
        #expect(!logs.all.contains { $0.contains("facegate-no-such-folder") }, "\(logs.all.filter { $0.contains("no-such") })")
    }

    /// A status request from a process running as another user (setpriv), by Python's socket module.
    static func ask(_ socket: String, as identity: [String]) async throws -> String {
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(sys.argv[1])
            except PermissionError:
                print("PermissionError"); sys.exit(0)
            s.sendall(b'{"command":"status"}\\n')
            print(s.makefile().readline())
            """
        let run = try await ToolProcess.run(URL(fileURLWithPath: "/usr/bin/setpriv"), identity + ["/usr/bin/python3", "-c", script, socket])
        return run.output + run.errors
    }
}

extension DoorRig {
    func journaledDecisionsAfterFlush(_ door: HeldDoor) async throws -> [JournaledDecision] {
        try await door.service.flushJournal()
        return try await journaledDecisions()
    }
}
