import CTimex
import Foundation

/// The system's own reading of local time (libc's, from `/etc/localtime` or `TZ`), the witness of the
/// zone Foundation names: see `MachineTimeZone` in the configuration.
public enum SystemTimeZone {
    /// The offset from UTC, in seconds, libc reads for `date`; nil when it cannot.
    public static func utcOffset(at date: Date) -> Int? {
        var ok: Int32 = 0
        let offset = fg_utc_offset(Int64(date.timeIntervalSince1970.rounded(.down)), &ok)
        return ok == 1 ? Int(offset) : nil
    }
}
