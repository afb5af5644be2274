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
        try JSONEncoder().encode(relay).write(to: url, options: .atomic)
    }

    /// The recorded relay; nil when none is recorded or the record cannot be read.
    public static func read(in folder: String) -> FacegateConfiguration.GPIOLine? {
        let url = URL(fileURLWithPath: folder).appendingPathComponent(fileName)
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode(FacegateConfiguration.GPIOLine.self, from: data)
    }
}
