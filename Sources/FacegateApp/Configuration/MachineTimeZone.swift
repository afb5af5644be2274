import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The machine's time zone, for schedules that give none. Foundation names it from the link
/// `/etc/localtime` is; a copied file (Buildroot, Alpine and container images often copy it) leaves it
/// only an abbreviation, EST or GMT, without the zone's summer time: Sydney's office hours read as
/// GMT open the door in the night. The system's own reading (libc's) is the witness.
enum MachineTimeZone {
    /// Why `zone` does not read this machine's hours, or nil when it does: its offset from UTC must be
    /// the system's at each season of the coming year.
    static func problem(_ zone: TimeZone, localOffset: (Date) -> Int?, around now: Date = Date()) -> String? {
        for months in [0, 3, 6, 9] {
            let date = now.addingTimeInterval(Double(months) * 30.5 * 86_400)
            guard let system = localOffset(date) else { continue }
            let read = zone.secondsFromGMT(for: date)
            if read != system {
                let minutes = abs(read - system) / 60
                let gap = minutes % 60 == 0 ? "\(minutes / 60) h" : "\(minutes) min"
                return "is not given, and this machine's time zone cannot be read by its name (its /etc/localtime is not a link to a zone): "
                    + "its hours would be read \(gap) off for part of the year; give the IANA name (Area/Location, such as Europe/London)"
            }
        }
        return nil
    }

    /// The system's offset from UTC at `date`, as libc reads `/etc/localtime` (or `TZ`).
    static func systemOffset(_ date: Date) -> Int? {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return nil }
        return Int(parts.tm_gmtoff)
    }
}
