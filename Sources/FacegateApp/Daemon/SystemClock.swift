import CTimex

/// What the kernel says of the wall clock.
public enum SystemClock {
    /// Whether the kernel counts the clock as synchronised: NTP (systemd-timesyncd, chrony) has set it and
    /// keeps it (`timedatectl`'s "System clock synchronized"). A box that booted on a bad RTC, or lost its
    /// time source for hours, is not.
    @Sendable public static func isSynchronised() -> Bool {
        facegate_clock_is_synchronised() == 1
    }
}
