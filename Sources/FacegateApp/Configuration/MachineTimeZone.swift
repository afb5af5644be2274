import FacegateCore
import Foundation

/// The machine's time zone, for schedules that give none. Foundation names it from the link
/// `/etc/localtime` is (or `TZ`); a copied file (Buildroot, Alpine and container images often copy it)
/// leaves it only GMT or an abbreviation, without the zone's summer time: Sydney's office hours read as
/// GMT open the door in the night. The system's own reading (libc's) is the witness.
enum MachineTimeZone {
    /// The link that names the machine's zone (a test points it elsewhere).
    @TaskLocal static var localtimeLink = "/etc/localtime"

    /// The machine's zone as it is now, for each read of the configuration. Foundation reads
    /// `TimeZone.current` once and keeps it for the life of the process, so a zone changed since the
    /// start (`timedatectl set-timezone`, then a reload) would have left schedules on the old one until
    /// a restart. The link is read each time; `TZ`, fixed for the process, and an `/etc/localtime`
    /// copied rather than linked are Foundation's to read, as before.
    static func current(environment: [String: String] = ProcessInfo.processInfo.environment) -> TimeZone {
        guard environment["TZ"] == nil, (try? FileManager.default.destinationOfSymbolicLink(atPath: localtimeLink)) != nil,
            let zone = TimeZone(identifier: named(byTZ: URL(fileURLWithPath: localtimeLink).resolvingSymlinksInPath().path))
        else { return TimeZone.current }
        return zone
    }

    /// How far `zone` reads from the system's offset from UTC at some season of the coming year, as "1 h"
    /// or "30 min"; nil when they agree throughout.
    static func disagreement(_ zone: TimeZone, localOffset: (Date) -> Int?, around now: Date = Date()) -> String? {
        for months in [0, 3, 6, 9] {
            let date = now.addingTimeInterval(Double(months) * 30.5 * 86_400)
            guard let system = localOffset(date) else { continue }
            let read = zone.secondsFromGMT(for: date)
            if read != system {
                let minutes = abs(read - system) / 60
                return minutes % 60 == 0 ? "\(minutes / 60) h" : "\(minutes) min"
            }
        }
        return nil
    }

    /// Why a schedule without `time_zone` cannot be read in `zone`, the machine's: it has no tzdata name
    /// (Area/Location) and reads other hours than the system does, or `tz` (the environment's `TZ`) names a
    /// zone other than `zone` in a form Foundation does not read (`:Europe/Berlin`, a path, a POSIX rule)
    /// while libc does, and the two read other hours. Nil when it can.
    static func problem(_ zone: TimeZone, localOffset: (Date) -> Int?, tz: String?, around now: Date = Date()) -> String? {
        guard let gap = disagreement(zone, localOffset: localOffset, around: now) else { return nil }
        if !zone.identifier.contains("/") {
            return "is not given, and this machine's time zone has no name facegate can read (an /etc/localtime copied, not linked): "
                + "its hours would be read \(gap) off for part of the year; give the IANA name (Area/Location, such as Europe/London)"
        }
        if let tz, !tz.isEmpty, named(byTZ: tz) != zone.identifier {
            // Not a newer tzdata: the system reads another zone than the one Foundation named.
            return "is not given, and the TZ environment variable names this machine's time zone in a form facegate does not read: "
                + "its hours would be read \(gap) off for part of the year; give the IANA name (Area/Location, such as Europe/London)"
        }
        return nil
    }

    /// The zone name `TZ` gives (`:Europe/Berlin`, `/usr/share/zoneinfo/Europe/Berlin` and `Europe/Berlin` alike);
    /// a path is followed through its links (`:/etc/localtime`, the common setting, names the zone it links to).
    static func named(byTZ tz: String) -> String {
        var name = tz.hasPrefix(":") ? String(tz.dropFirst()) : tz
        if name.hasPrefix("/") { name = URL(fileURLWithPath: name).resolvingSymlinksInPath().path }
        for folder in ["/usr/share/zoneinfo/", "/usr/lib/zoneinfo/"] where name.hasPrefix(folder) { name = String(name.dropFirst(folder.count)) }
        return name
    }

    /// A named zone whose rules here (the Swift runtime's own time zone data) differ from the system's
    /// tzdata (a country's summer time changed since the runtime was built): said, not refused, since
    /// giving `time_zone` reads the same rules.
    static func note(_ zone: TimeZone, localOffset: (Date) -> Int?, around now: Date = Date()) -> String? {
        // After ``problem(_:localOffset:tz:around:)``: a TZ read two ways is refused there.
        guard zone.identifier.contains("/"), let gap = disagreement(zone, localOffset: localOffset, around: now) else { return nil }
        return "is not given: the hours are read in this machine's time zone, \(zone.identifier), whose rules here differ from the system's "
            + "by \(gap) at some season of the coming year (a newer tzdata than facegate's): check the schedule's hours then"
    }
}
