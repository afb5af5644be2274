import ArgumentParser
import FacegateApp
import FacegateCore
import FacegateDoor
import Foundation
import Logging
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

struct DoorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "door",
        abstract: "Pulse the door relay and watch the door contact over GPIO; unlock through the running daemon.",
        subcommands: [DoorPulse.self, DoorWatch.self, DoorBenchmark.self, DoorUnlock.self, DoorRest.self]
    )
}

/// How the relay is wired.
struct RelayOptions: ParsableArguments {
    @Option(help: "GPIO chip: name (gpiochip0), path, label or number.")
    var chip: String

    @Option(help: "Relay line: name or offset.")
    var line: String

    @Flag(help: "The relay is energised when the line is low.")
    var activeLow = false

    @Flag(help: "Fail-safe wiring: the relay holds the door locked and releases to open (default: fail-secure).")
    var failSafe = false

    func address() -> GPIOLineAddress { GPIOLineAddress(chip: chip, line: line, activeLow: activeLow) }
}

/// The unit's `ExecStopPost=`, after every stop of the daemon, a crash or `kill -9` included: the kernel
/// frees a dead process's lines, but some chips (I2C expanders among them) keep driving a freed output at
/// its last level, so a strike energised mid-pulse would stay unlocked until the next start, and for
/// good if that start is refused. This drives the relay de-energised, its resting level (locked for a
/// fail-secure strike, open for a fail-safe maglock, as when facegate dies), and lets it go.
struct DoorRest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rest",
        abstract: "Drive the configured relay de-energised (its resting level) and let it go; the unit runs this after every stop.")

    @Option(help: "The door's configuration file: only door.relay is read, so a problem elsewhere in it does not stop this.")
    var config = "/etc/facegate/facegate.yaml"

    func run() throws {
        // The relay the file names now, and the one the daemon last started with (recorded in the unit's
        // state folder): a bad edit that does not parse, or a relay moved since, still rests the line the
        // daemon drove.
        var relays: [(source: String, line: FacegateConfiguration.GPIOLine)] = []
        var fileProblem: ConfigError?
        do {
            if let relay = try FacegateConfiguration.relayToRest(path: config) { relays.append(("the configuration", relay)) }
        } catch {
            fileProblem = error
        }
        if let folder = RestingRelayRecord.folder(), let recorded = RestingRelayRecord.read(in: folder) {
            // The same line in both (its `active_low` changed since, say) is rested once, as the daemon
            // drove it: resting it both ways would leave it at whichever came last.
            relays.removeAll { FacegateConfiguration.sameLine($0.line, recorded) }
            relays.append(("the last start", recorded))
        }
        if let fileProblem {
            FileHandle.standardError.write(Data("facegate door rest: \(fileProblem.description)\n".utf8))
            if relays.isEmpty { throw ExitCode(78) }
        }
        guard !relays.isEmpty else {
            print("no relay configured (the door is simulated): nothing to rest")
            return
        }
        var failed = false
        for (source, relay) in relays {
            do {
                // Requested fail-secure: at its de-energised level from the first instant, whichever way the
                // door is wired; release() drives that level again before letting the line go.
                let lines = try GPIODDoorLines(
                    configuration: .init(
                        relay: GPIOLineAddress(chip: relay.chip, line: relay.line, activeLow: relay.activeLow), failMode: .secure,
                        consumer: "facegate-rest"))
                lines.release()
                print("relay rested: de-energised and released (the relay of \(source))")
            } catch {
                // Said by its key, never the chip or line the file names (this reaches the journal).
                FileHandle.standardError.write(Data("facegate door rest: door.relay of \(source): \(error.message)\n".utf8))
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct DoorPulse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pulse", abstract: "Unlock the door for a time, then lock it again.")

    @OptionGroup var relay: RelayOptions

    @Option(help: "Milliseconds to keep the door unlocked.")
    var ms: Int = 3000

    func run() async throws {
        guard ms > 0, ms <= 600_000 else { throw ValidationError("--ms must be 1...600000") }
        let lines = try GPIODDoorLines(
            configuration: .init(relay: relay.address(), failMode: relay.failSafe ? .safe : .secure))
        let door = try DoorController(
            lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(ms)), logger: Logger(label: "facegate.door"))
        let running = Task { try await door.run() }
        let events = await door.events()
        // Trapped before the unlock: Ctrl-C or a stop during a long pulse locks the door again before the
        // command exits, instead of leaving the relay to however the chip treats a dead process's line.
        let stops = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let started = ContinuousClock.now
        try await door.unlock(because: .manual)
        // The signal that stopped the pulse, nil when it ran its course.
        let stoppedBy = await withTaskGroup(of: UnixSignal?.self) { group in
            group.addTask {
                for await event in events where event == .locked { return nil }
                return nil  // the door stopped: its fault is below
            }
            group.addTask {
                for await signal in stops { return signal }
                return nil
            }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
        // Stopping the door locks it (fail-secure) before its lines are let go.
        running.cancel()
        let held = Int((ContinuousClock.now - started) / .milliseconds(1))
        do {
            try await running.value
        } catch is CancellationError {
        } catch {
            // The relock failed every try: the door may be unlocked, which is not a success.
            FileHandle.standardError.write(Data("facegate door pulse: the door could not be locked again: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if let stoppedBy {
            print("stopped after \(held) ms: \(relay.chip):\(relay.line) locked again")
            // The shell's convention for a command ended by a signal: 128 + its number.
            throw ExitCode(128 + (stoppedBy == .sigint ? SIGINT : SIGTERM))
        }
        print("unlocked \(relay.chip):\(relay.line) for \(held) ms")
    }
}

struct DoorWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Watch the door contact (and exit button) and print events as JSON lines.")

    @Option(help: "GPIO chip of the door's lines.")
    var chip: String

    @Option(help: "Door contact line: name or offset.")
    var contact: String

    @Flag(help: "The contact reads low when the door is open.")
    var contactActiveLow = false

    @Option(help: "Request-to-exit button line, if any.")
    var exitButton: String?

    @Flag(help: "The exit button reads low when pressed.")
    var exitActiveLow = false

    @Option(help: "Pull for the contact and exit button lines: as-is (the board's), pull-up, pull-down or disabled.")
    var bias: FacegateConfiguration.GPIOLine.Bias = .asIs

    @Option(help: "Relay line, to unlock on an exit request; without it the relay is not touched.")
    var relay: String?

    @Flag(help: "The relay is energised when the line is low.")
    var relayActiveLow = false

    @Flag(help: "Fail-safe relay wiring: energised to keep the door locked.")
    var relayFailSafe = false

    @Option(help: "Seconds a grant or exit request keeps the door unlocked.")
    var unlockSeconds: Double = 5

    @Option(help: "Seconds open before the held-open alarm.")
    var heldOpenSeconds: Double = 30

    func run() async throws {
        guard unlockSeconds > 0, heldOpenSeconds > 0 else {
            throw ValidationError("times must be positive")
        }
        // Without --relay the relay line is left alone (it may belong to the running daemon).
        let lines = try GPIODDoorLines(
            configuration: .init(
                relay: relay.map { GPIOLineAddress(chip: chip, line: $0, activeLow: relayActiveLow) },
                failMode: relayFailSafe ? .safe : .secure,
                contact: GPIOLineAddress(chip: chip, line: contact, activeLow: contactActiveLow, bias: bias.address),
                exitButton: exitButton.map { GPIOLineAddress(chip: chip, line: $0, activeLow: exitActiveLow, bias: bias.address) }))
        // An opening is authorised while the relay is unlocked (and for the contact's settle time after).
        let timing = DoorTiming(
            unlockDuration: .milliseconds(Int64(unlockSeconds * 1000)), heldOpenAfter: .milliseconds(Int64(heldOpenSeconds * 1000)),
            contactSettle: lines.configuration.contactSettle)
        var logger = Logger(label: "facegate.door")
        logger.logLevel = .error
        let door = try DoorController(lines: lines, timing: timing, logger: logger)
        let events = await door.events()
        let printer = Task {
            for await event in events { Self.printJSON(event) }
        }
        try await withTaskCancellationHandler {
            try await door.run()
        } onCancel: {
            printer.cancel()
        }
        printer.cancel()
    }

    static func printJSON(_ event: DoorEvent) {
        var fields: [String: Any] = ["event": event.name, "time": ISO8601DateFormatter().string(from: Date())]
        switch event {
        case .unlocked(let reason): fields["reason"] = reason.rawValue
        case .opened(let authorized): fields["authorized"] = authorized
        default: break
        }
        if event.isAlarm { fields["alarm"] = true }
        if let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) {
            print(String(decoding: data, as: UTF8.self))
            fflush(nil)
        }
    }
}

/// Hidden: relay actuation latency, from the unlock decision to the line's
/// level changing, read on the simulator's side (gpio-sim `value`).
struct DoorBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure relay actuation latency on gpio-sim (for tests).", shouldDisplay: false)

    @OptionGroup var relay: RelayOptions

    @Option(help: "The simulator's value file for the relay line (sim_gpioN/value).")
    var simValue: String

    @Option(help: "Pulses to measure.")
    var count: Int = 20

    func run() async throws {
        guard count > 0 else { throw ValidationError("--count must be positive") }
        let lines = try GPIODDoorLines(configuration: .init(relay: relay.address(), failMode: relay.failSafe ? .safe : .secure))
        var logger = Logger(label: "facegate.door")
        logger.logLevel = .warning
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(20)), logger: logger)
        let running = Task { try await door.run() }
        defer { running.cancel() }
        let events = await door.events()
        var iterator = events.makeAsyncIterator()
        // The physical level of "unlocked": energised unless fail-safe, inverted when active-low.
        let unlockedLevel = (relay.failSafe != relay.activeLow) ? "0" : "1"
        var samples: [Double] = []
        for _ in 0..<count {
            let clock = ContinuousClock()
            let started = clock.now
            try await door.unlock(because: .manual)
            while Self.read(simValue) != unlockedLevel {
                if clock.now - started > .seconds(5) {
                    throw ValidationError("the relay line never changed: \(simValue) reads \"\(Self.read(simValue))\", expected \(unlockedLevel)")
                }
            }
            samples.append((clock.now - started).milliseconds)
            while let event = await iterator.next(), event != .locked {}
        }
        samples.sort()
        print(#"{"relayLatencyMillisecondsMedian":\#(samples[samples.count / 2]),"relayLatencyMillisecondsMax":\#(samples.last!)}"#)
    }

    static func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }
}

/// `--bias` of `door watch`, in the configuration's words.
extension FacegateConfiguration.GPIOLine.Bias: ExpressibleByArgument {}
