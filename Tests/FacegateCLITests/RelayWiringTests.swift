import FacegateApp
import FacegateTesting
import Foundation
import Testing

/// The wiring rule of `facegate door pulse`, `bench` and `watch`: the file's relay and wiring, or the
/// command line's line with its fail mode said or agreeing with the file; never a guess.
@Suite(.timeLimit(.minutes(1))) struct RelayWiringTests {
    typealias GPIOLine = FacegateConfiguration.GPIOLine
    typealias Door = FacegateConfiguration.DoorWiring

    /// A maglock door: `door.fail_safe: true`, its relay on an active-low driver.
    static let maglock = Door(relay: GPIOLine(chip: "gpiochip0", line: "relay", activeLow: true), failSafe: true)

    static func flags(_ chip: String = "gpiochip0", line: String = "relay", activeLow: Bool = false, failSafe: Bool? = nil) -> RelayWiring.Flags {
        RelayWiring.Flags(chip: chip, line: line, activeLow: activeLow, failSafe: failSafe, names: .relay)
    }

    static let unreadable = ConfigError(file: "/nowhere.yaml", problems: [ConfigProblem(path: "", message: "does not exist")])

    @Test func withoutALineTheRelayAndItsWiringAreTheFiles() throws {
        let wiring = try RelayWiring.resolve(nil, configuration: .success(Self.maglock)).get()
        #expect(wiring == RelayWiring(line: Self.maglock.relay!, failSafe: true, origin: .configuration))
        #expect(wiring.name == "door.relay", "the file's chip and line are not said")

        guard case .failure(let none) = RelayWiring.resolve(nil, configuration: .success(Door())), case .noRelayConfigured = none else {
            Issue.record("a file naming no relay was not refused")
            return
        }
        #expect(none.exitCode == 78)
        guard case .failure(let missing) = RelayWiring.resolve(nil, configuration: .failure(Self.unreadable)),
            case .configurationUnreadable = missing
        else {
            Issue.record("an unreadable file was not refused")
            return
        }
        #expect(missing.exitCode == 78)
    }

    /// The installer who forgets `--fail-safe` on a maglock door: the file's wiring for that line, said.
    @Test func theSameLineWithoutItsFailModeIsWiredAsTheFileSays() throws {
        for chip in ["gpiochip0", "/dev/gpiochip0"] {
            let wiring = try RelayWiring.resolve(Self.flags(chip), configuration: .success(Self.maglock)).get()
            #expect(wiring.failSafe && wiring.line.activeLow, "\(chip)")
            #expect(wiring.origin == .commandLineWiredAsConfigured)
            #expect(wiring.note(configuration: "f.yaml")?.contains("door.fail_safe") == true)
        }
        // Said in full and agreeing: the command line's, with nothing to note.
        let agreeing = try RelayWiring.resolve(Self.flags(activeLow: true, failSafe: true), configuration: .success(Self.maglock)).get()
        #expect(agreeing == RelayWiring(line: Self.maglock.relay!, failSafe: true, origin: .commandLine))
        #expect(agreeing.note(configuration: "f.yaml") == nil)
    }

    @Test func anotherLineWithoutItsFailModeIsRefused() throws {
        let cases: [(Result<Door, ConfigError>, RelayWiring.Refusal.FileSays)] = [
            (.success(Self.maglock), .anotherLine), (.success(Door(failSafe: true)), .noRelay), (.failure(Self.unreadable), .unreadable),
        ]
        for (configuration, expected) in cases {
            let result = RelayWiring.resolve(Self.flags(line: "7"), configuration: configuration)
            guard case .failure(let refusal) = result, case .failModeNotSaid(let names, let because) = refusal else {
                Issue.record("not refused: \(result)")
                continue
            }
            #expect(because == expected)
            #expect(names == .relay)
            #expect(refusal.exitCode == 64)
            let message = refusal.message(configuration: "/etc/facegate/facegate.yaml")
            #expect(message.contains("--fail-safe") && message.contains("--fail-secure"), "\(message)")
        }
        // Said, it is the command line's; with the file unread, the command says nothing checked it.
        for failSafe in [true, false] {
            let wiring = try RelayWiring.resolve(Self.flags(line: "7", failSafe: failSafe), configuration: .failure(Self.unreadable)).get()
            #expect(wiring == RelayWiring(line: GPIOLine(chip: "gpiochip0", line: "7"), failSafe: failSafe, origin: .commandLineUnchecked))
            #expect(wiring.name == "gpiochip0:7")
            let note = try #require(wiring.note(configuration: "/etc/facegate/facegate.yaml"))
            #expect(note.contains("cannot be read") && note.contains("unchecked against door.fail_safe"), "\(note)")
            let checked = try RelayWiring.resolve(Self.flags(line: "7", failSafe: failSafe), configuration: .success(Self.maglock)).get()
            #expect(checked.origin == .commandLine && checked.note(configuration: "f.yaml") == nil)
        }
        // `door watch` names its own flags.
        let watch = RelayWiring.Flags(chip: "gpiochip0", line: "7", activeLow: false, failSafe: nil, names: .watch)
        guard case .failure(let refusal) = RelayWiring.resolve(watch, configuration: .success(Self.maglock)) else {
            Issue.record("not refused")
            return
        }
        #expect(refusal.message(configuration: "f.yaml").contains("--relay-fail-secure"))
    }

    @Test func flagsContradictingTheFileForTheSameLineAreRefusedByTheKey() throws {
        let cases: [(RelayWiring.Flags, [String])] = [
            // `--fail-secure` on the maglock's line, with its `--active-low` or without.
            (Self.flags(activeLow: true, failSafe: false), ["door.fail_safe"]),
            (Self.flags(failSafe: false), ["door.fail_safe"]),
        ]
        for (flags, keys) in cases {
            guard case .failure(let refusal) = RelayWiring.resolve(flags, configuration: .success(Self.maglock)),
                case .contradictsConfiguration(let contradicted) = refusal
            else {
                Issue.record("not refused: \(flags)")
                continue
            }
            #expect(contradicted == keys)
            #expect(refusal.exitCode == 64)
            let message = refusal.message(configuration: "f.yaml")
            #expect(message.contains("door.fail_safe") && !message.contains("gpiochip0"), "\(message)")
        }
        // `--active-low` on a line the file drives active-high, and the fail mode contradicted too.
        let strike = Door(relay: GPIOLine(chip: "gpiochip0", line: "relay"), failSafe: false)
        guard case .failure(.contradictsConfiguration(let keys)) = RelayWiring.resolve(Self.flags(activeLow: true, failSafe: true), configuration: .success(strike))
        else {
            Issue.record("not refused")
            return
        }
        #expect(keys == ["door.fail_safe", "door.relay.active_low"])
    }

    /// Only the `door` section is read, and `fail_safe` from the door, where the daemon reads it.
    @Test func theFileIsReadForItsDoorAlone() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = folder.file("facegate.yaml")
        try """
        camera: {fps: lots}
        backend: {kind: nowhere}
        door:
          threshold: twelve
          relay: {chip: gpiochip3, line: LOCK, active_low: true}
          fail_safe: true
          contact: {chip: gpiochip3, line: CONTACT, bias: pull-up}

        """.write(toFile: file, atomically: true, encoding: .utf8)
        let door = try FacegateConfiguration.doorWiring(path: file)
        #expect(door == Door(
            relay: GPIOLine(chip: "gpiochip3", line: "LOCK", activeLow: true), failSafe: true,
            contact: GPIOLine(chip: "gpiochip3", line: "CONTACT", bias: .pullUp)))

        try "door:\n  relay: {chip: gpiochip3, line: LOCK}\n  fail_safe: maybe\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try FacegateConfiguration.doorWiring(path: file) }

        // A key the daemon refuses as unknown is refused here too: `failsafe: true` on a maglock was driven as a
        // strike (the default) by `door pulse` (review).
        for typo in ["failsafe: true", "fail-safe: true"] {
            try "door:\n  relay: {chip: gpiochip3, line: LOCK}\n  \(typo)\n".write(toFile: file, atomically: true, encoding: .utf8)
            #expect(throws: ConfigError.self, "\(typo)") { try FacegateConfiguration.doorWiring(path: file) }
            #expect(throws: ConfigError.self, "the daemon refuses it too") { try FacegateConfiguration(yaml: "door:\n  \(typo)\n") }
        }
        // Every key the daemon reads in `door` is one this reading knows.
        try """
        door:
          name: front
          relay: {chip: gpiochip3, line: LOCK}
          contact: {chip: gpiochip3, line: CONTACT}
          exit_button: {chip: gpiochip3, line: EXIT}
          pulse_seconds: 3
          fail_safe: false
          held_open_seconds: 30
          tags: [staff]
          face_list: front
          threshold: 7000
          minimum_margin: 500
          deny_list: [mallory]
          reentry_cooldown_seconds: 0
          schedules: []

        """.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try FacegateConfiguration.doorWiring(path: file).relay?.line == "LOCK")
    }
}
