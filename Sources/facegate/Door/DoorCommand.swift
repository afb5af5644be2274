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

/// The relay to drive and how it is wired: the configuration's, or given here.
struct RelayOptions: ParsableArguments {
    @Option(help: "The door's configuration file: the relay and its wiring when --chip and --line are not given (only door is read).")
    var config = "/etc/facegate/facegate.yaml"

    @Option(help: "GPIO chip: name (gpiochip0), path, label or number (default: door.relay's).")
    var chip: String?

    @Option(help: "Relay line: name or offset.")
    var line: String?

    @Flag(help: "The relay is energised when the line is low.")
    var activeLow = false

    @Flag(help: "Fail-safe wiring (a maglock): the relay is energised to keep the door locked.")
    var failSafe = false

    @Flag(help: "Fail-secure wiring (a strike): the relay is energised to unlock. With --chip and --line, one of the two is needed unless the configuration names that line.")
    var failSecure = false

    func validate() throws {
        if failSafe, failSecure { throw ValidationError("--fail-safe and --fail-secure exclude each other") }
        if (chip == nil) != (line == nil) { throw ValidationError("--chip and --line go together") }
        if chip == nil, activeLow || failSafe || failSecure {
            throw ValidationError("--active-low, --fail-safe and --fail-secure describe --chip and --line; without them the relay is door.relay of --config")
        }
    }

    /// The relay's wiring, or a refusal said on standard error before any GPIO chip is opened.
    /// - Parameter notesToStandardError: where the one line saying the file settled the wiring goes
    ///   (standard error for the commands whose standard output is JSON).
    func wiring(command: String, notesToStandardError: Bool = false) throws -> RelayWiring {
        let flags = chip.map { chip in
            RelayWiring.Flags(
                chip: chip, line: line ?? "", activeLow: activeLow, failSafe: failSafe ? true : failSecure ? false : nil, names: .relay)
        }
        return try resolvedWiring(flags, config: config, command: command, notesToStandardError: notesToStandardError)
    }
}

/// ``RelayWiring/resolve(_:configuration:)`` on the file at `config`, its refusal said with its exit status.
func resolvedWiring(_ flags: RelayWiring.Flags?, config: String, command: String, notesToStandardError: Bool) throws -> RelayWiring {
    let configuration = Result<FacegateConfiguration.DoorWiring, ConfigError>(catching: { () throws(ConfigError) in
        try FacegateConfiguration.doorWiring(path: config)
    })
    switch RelayWiring.resolve(flags, configuration: configuration, sameLine: FacegateConfiguration.sameLineOnThisMachine) {
    case .success(let wiring):
        if let note = wiring.note(configuration: config) {
            if notesToStandardError {
                FileHandle.standardError.write(Data("\(note)\n".utf8))
            } else {
                print(note)
                fflush(nil)  // before the pulse, which a signal may end
            }
        }
        return wiring
    case .failure(let refusal):
        FileHandle.standardError.write(Data("facegate door \(command): \(refusal.message(configuration: config))\n".utf8))
        throw ExitCode(refusal.exitCode)
    }
}

extension RelayWiring {
    var address: GPIOLineAddress { line.address }
    var failMode: DoorFailMode { failSafe ? .safe : .secure }
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
        // The relay the daemon last started with (recorded in the unit's state folder) is rested first,
        // before the file is read: a bad edit that does not parse, or one whose reading never ends, still
        // rests the line the daemon drove. Then the relay the file names now, if it was moved since.
        var rested: [FacegateConfiguration.GPIOLine] = []
        var failed = false
        if let folder = RestingRelayRecord.folder(), let recorded = RestingRelayRecord.read(in: folder) {
            failed = !rest(recorded, of: "the last start")
            rested.append(recorded)
        }
        do {
            // The same line in both (its `active_low` changed since, say) is rested once, as the daemon
            // drove it: resting it both ways would leave it at whichever came last.
            if let relay = try FacegateConfiguration.relayToRest(path: config),
                !rested.contains(where: { FacegateConfiguration.sameLineOnThisMachine($0, relay) })
            {
                failed = !rest(relay, of: "the configuration") || failed
                rested.append(relay)
            }
        } catch {
            FileHandle.standardError.write(Data("facegate door rest: \(error.description)\n".utf8))
            if rested.isEmpty { throw ExitCode(78) }
        }
        guard !rested.isEmpty else {
            print("no relay configured (the door is simulated): nothing to rest")
            return
        }
        if failed { throw ExitCode(1) }
    }

    /// Drives `relay` de-energised and lets it go; false when that failed, said on standard error.
    private func rest(_ relay: FacegateConfiguration.GPIOLine, of source: String) -> Bool {
        do {
            // Requested fail-secure: at its de-energised level from the first instant, whichever way the
            // door is wired; release() drives that level again before letting the line go.
            let lines = try GPIODDoorLines(
                configuration: .init(
                    relay: GPIOLineAddress(chip: relay.chip, line: relay.line, activeLow: relay.activeLow), failMode: .secure,
                    consumer: "facegate-rest"))
            lines.release()
            print("relay rested: de-energised and released (the relay of \(source))")
            fflush(nil)  // said now, before a file that takes long to read
            return true
        } catch {
            // Said by its key, never the chip or line the file names (this reaches the journal).
            FileHandle.standardError.write(Data("facegate door rest: door.relay of \(source): \(error.message)\n".utf8))
            return false
        }
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
        let wiring = try relay.wiring(command: "pulse")
        let lines = try GPIODDoorLines(configuration: .init(relay: wiring.address, failMode: wiring.failMode))
        let door = try DoorController(
            lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(ms)), logger: Logger(label: "facegate.door"))
        let events = await door.events()
        let started = ContinuousClock.now
        let stoppedBy = try await door.runUntilStopped(command: "pulse", failure: "the door could not be locked again") {
            try await door.unlock(because: .manual)
            for await event in events where event == .locked { return }
        }
        let held = Int((ContinuousClock.now - started) / .milliseconds(1))
        if let stoppedBy {
            print("stopped after \(held) ms: \(wiring.name) locked again")
            throw stoppedBy.exitCode
        }
        print("unlocked \(wiring.name) for \(held) ms")
    }
}

extension DoorController {
    /// Runs the door until `work` is done, the door stops on its own, or SIGINT or SIGTERM comes; then stops
    /// it, which locks it (fail-secure) before its lines are let go, and returns the signal if one came.
    /// The signals are trapped before `work` starts: Ctrl-C or a stop during an unlock locks the door again
    /// before the command exits, instead of leaving the relay to however the chip treats a dead process's
    /// line (an I2C expander keeps driving it).
    /// - Parameter failure: what the command says when the door ended with a fault (exit 1).
    func runUntilStopped(command: String, failure: String, work: @escaping @Sendable () async throws -> Void) async throws -> UnixSignal? {
        let stops = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let running = Task { try await self.run() }
        let end = await withTaskGroup(of: DoorRunEnd.self) { group in
            group.addTask {
                for await signal in stops { return .signal(signal) }
                return .doorStopped
            }
            group.addTask {
                _ = try? await running.value  // its fault is said below
                return .doorStopped
            }
            group.addTask {
                do {
                    try await work()
                    return .workDone
                } catch {
                    return .workFailed(error)
                }
            }
            let first = await group.next() ?? .doorStopped
            // Stopping the door locks it; awaiting its run does not end by cancellation, so it comes first.
            running.cancel()
            group.cancelAll()
            return first
        }
        do {
            try await running.value
        } catch is CancellationError {
        } catch {
            FileHandle.standardError.write(Data("facegate door \(command): \(failure): \(error)\n".utf8))
            throw ExitCode(1)
        }
        switch end {
        case .signal(let signal): return signal
        case .doorStopped, .workDone: return nil
        // Said once the door is locked again (an unlock the relay refused, say).
        case .workFailed(let error): throw error
        }
    }
}

/// What ended ``DoorController/runUntilStopped(command:failure:work:)`` first.
private enum DoorRunEnd: Sendable {
    case signal(UnixSignal)
    case doorStopped
    case workDone
    case workFailed(any Error)
}

extension UnixSignal {
    /// The shell's convention for a command ended by a signal: 128 + its number.
    var exitCode: ExitCode { ExitCode(128 + (self == .sigint ? SIGINT : SIGTERM)) }
}

struct DoorWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Watch the door contact (and exit button) and print events as JSON lines.")

    @Option(help: "The door's configuration file: the lines and their wiring when --chip is not given (only door is read).")
    var config = "/etc/facegate/facegate.yaml"

    @Option(help: "GPIO chip of the door's lines (default: door.contact, door.exit_button and door.relay of --config).")
    var chip: String?

    @Option(help: "Door contact line: name or offset.")
    var contact: String?

    @Flag(help: "The contact reads low when the door is open.")
    var contactActiveLow = false

    @Option(help: "Request-to-exit button line, if any.")
    var exitButton: String?

    @Flag(help: "The exit button reads low when pressed.")
    var exitActiveLow = false

    @Option(help: "Pull for the contact and exit button lines: as-is (the board's), pull-up, pull-down or disabled.")
    var bias: FacegateConfiguration.GPIOLine.Bias?

    @Option(help: "Relay line, to unlock on an exit request; with --chip and without this the relay is not touched.")
    var relay: String?

    @Flag(help: "The relay is energised when the line is low.")
    var relayActiveLow = false

    @Flag(help: "Fail-safe relay wiring (a maglock): energised to keep the door locked.")
    var relayFailSafe = false

    @Flag(help: "Fail-secure relay wiring (a strike): energised to unlock. With --relay, one of the two is needed unless the configuration names that line.")
    var relayFailSecure = false

    @Option(help: "Seconds a grant or exit request keeps the door unlocked (0.05 to 60, as door.pulse_seconds).")
    var unlockSeconds: Double = 5

    @Option(help: "Seconds open before the held-open alarm (1 to 3600, as door.held_open_seconds).")
    var heldOpenSeconds: Double = 30

    func validate() throws {
        // The file's ranges; checked before any line is taken (inf or 1e300 trapped converting to a Duration).
        guard (0.05...60).contains(unlockSeconds) else { throw ValidationError("--unlock-seconds must be within 0.05...60") }
        guard (1...3600).contains(heldOpenSeconds) else { throw ValidationError("--held-open-seconds must be within 1...3600") }
        if relayFailSafe, relayFailSecure { throw ValidationError("--relay-fail-safe and --relay-fail-secure exclude each other") }
        if chip != nil, contact == nil { throw ValidationError("--chip needs --contact") }
        let lineFlags = contact != nil || exitButton != nil || relay != nil || contactActiveLow || exitActiveLow || bias != nil
            || relayActiveLow || relayFailSafe || relayFailSecure
        if chip == nil, lineFlags {
            throw ValidationError("the lines' options need --chip; without it the lines are door.contact, door.exit_button and door.relay of --config")
        }
    }

    /// The lines from the command line, or the file's `door` lines when it names none.
    func doorLines() throws -> GPIODDoorLines.Configuration {
        guard let chip, let contact else {
            let door: FacegateConfiguration.DoorWiring
            do {
                door = try FacegateConfiguration.doorWiring(path: config)
            } catch {
                FileHandle.standardError.write(Data("facegate door watch: \(error.description)\n  (or give the lines with --chip and --contact)\n".utf8))
                throw ExitCode(78)
            }
            guard let contact = door.contact else {
                FileHandle.standardError.write(Data("facegate door watch: door.contact: \(config) names no door contact: give --chip and --contact\n".utf8))
                throw ExitCode(78)
            }
            // The relay too, when the file names one, wired as the file says: without it the door is
            // simulated, and the watch leaves the relay alone.
            let wiring = door.relay.map { RelayWiring(line: $0, failSafe: door.failSafe, origin: .configuration) }
            if let note = wiring?.note(configuration: config) { FileHandle.standardError.write(Data("\(note)\n".utf8)) }
            return .init(
                relay: wiring?.address, failMode: wiring?.failMode ?? .secure, contact: contact.address, exitButton: door.exitButton?.address)
        }
        // Without --relay the relay line is left alone (it may belong to the running daemon).
        let wiring = try relay.map { line in
            // Its standard output is JSON lines.
            try resolvedWiring(
                RelayWiring.Flags(
                    chip: chip, line: line, activeLow: relayActiveLow, failSafe: relayFailSafe ? true : relayFailSecure ? false : nil,
                    names: .watch),
                config: config, command: "watch", notesToStandardError: true)
        }
        let inputBias = (bias ?? .asIs).address
        return .init(
            relay: wiring?.address, failMode: wiring?.failMode ?? .secure,
            contact: GPIOLineAddress(chip: chip, line: contact, activeLow: contactActiveLow, bias: inputBias),
            exitButton: exitButton.map { GPIOLineAddress(chip: chip, line: $0, activeLow: exitActiveLow, bias: inputBias) })
    }

    func run() async throws {
        let lines = try GPIODDoorLines(configuration: try doorLines())
        // An opening is authorised while the relay is unlocked (and for the contact's settle time after).
        let timing = DoorTiming(
            unlockDuration: .milliseconds(Int64(unlockSeconds * 1000)), heldOpenAfter: .milliseconds(Int64(heldOpenSeconds * 1000)),
            contactSettle: lines.configuration.contactSettle)
        var logger = Logger(label: "facegate.door")
        logger.logLevel = .error
        let door = try DoorController(lines: lines, timing: timing, logger: logger)
        let events = await door.events()
        // Until a signal or the door's own fault: the events are printed as they come.
        let stoppedBy = try await door.runUntilStopped(command: "watch", failure: "the door stopped") {
            for await event in events { Self.printJSON(event) }
            // The events end only when the door stops: the run's own task says why.
            try await Task.sleep(for: .seconds(86_400 * 365))
        }
        if let stoppedBy { throw stoppedBy.exitCode }
    }

    static func printJSON(_ event: DoorEvent) {
        var fields: [String: Any] = ["event": event.name, "time": ISO8601DateFormatter().string(from: Date())]
        switch event {
        case .unlocked(let reason), .unlockFailed(let reason): fields["reason"] = reason.rawValue
        case .unlockRefused(let reason, let refusal):
            fields["reason"] = reason.rawValue
            fields["refused"] = refusal.rawValue
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
        // Its standard output is one JSON line.
        let wiring = try relay.wiring(command: "bench", notesToStandardError: true)
        let lines = try GPIODDoorLines(configuration: .init(relay: wiring.address, failMode: wiring.failMode))
        var logger = Logger(label: "facegate.door")
        logger.logLevel = .warning
        let door = try DoorController(lines: lines, timing: DoorTiming(unlockDuration: .milliseconds(20)), logger: logger)
        let running = Task { try await door.run() }
        defer { running.cancel() }
        let events = await door.events()
        var iterator = events.makeAsyncIterator()
        // The physical level of "unlocked": energised unless fail-safe, inverted when active-low.
        let unlockedLevel = (wiring.failSafe != wiring.line.activeLow) ? "0" : "1"
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
