import Foundation

/// The relay the daemon last started with, kept in its state folder (systemd's `$STATE_DIRECTORY`) for
/// `facegate door rest`, the unit's `ExecStopPost=`. That command reads the configuration file as it is
/// after the stop: a bad edit that does not parse, or a relay moved to another line, would otherwise
/// leave the line the daemon actually drove as it was.
public enum RestingRelayRecord {
    public static let fileName = "relay-at-rest.json"

    /// The state folder systemd gives the service (the first, when it names several); nil outside it.
    public static func folder(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard let value = environment["STATE_DIRECTORY"], let first = value.split(separator: ":").first, first.hasPrefix("/") else {
            return nil
        }
        return String(first)
    }

    /// Records `relay` (or that there is none) in `folder`, replacing the file atomically.
    public static func write(_ relay: FacegateConfiguration.GPIOLine?, in folder: String) throws {
        let url = URL(fileURLWithPath: folder).appendingPathComponent(fileName)
        guard let relay else {
            try? FileManager.default.removeItem(at: url)
            return
        }
        do {
            try JSONEncoder().encode(relay).write(to: url, options: .atomic)
        } catch {
            // An earlier start's record left in place would have `door rest` drive that line (since wired to
            // something else, perhaps) after every stop: without a record, it rests the file's relay (review).
            // Unlinking works on a full disk.
            try? FileManager.default.removeItem(at: url)
            throw error
        }
    }

    /// The recorded relay; nil when none is recorded or the record cannot be read.
    public static func read(in folder: String) -> FacegateConfiguration.GPIOLine? {
        let url = URL(fileURLWithPath: folder).appendingPathComponent(fileName)
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode(FacegateConfiguration.GPIOLine.self, from: data)
    }
}
