import Foundation

/// When a schedule admits people: weekly time windows in a named time zone, minus holidays.
public struct AccessSchedule: Sendable, Hashable {
    /// Who a schedule applies to.
    public enum Scope: Sendable, Hashable {
        case everyone
        case tag(String)
        case subject(String)
    }

    /// Days of the week with a time span, in local time of the schedule's zone.
    public struct Window: Sendable, Hashable {
        /// 1 = Sunday ... 7 = Saturday, as `Calendar` numbers weekdays.
        public var weekdays: Set<Int>
        /// Minutes after local midnight; `end` is exclusive. A window with end <= start runs past midnight.
        public var start: Int
        public var end: Int

        public init(weekdays: Set<Int>, start: Int, end: Int) {
            self.weekdays = weekdays
            self.start = start
            self.end = end
        }
    }

    /// A calendar day in the schedule's zone.
    public struct Day: Sendable, Hashable, Comparable {
        public var year: Int
        public var month: Int
        public var day: Int

        public init(year: Int, month: Int, day: Int) {
            self.year = year
            self.month = month
            self.day = day
        }

        public static func < (a: Day, b: Day) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }
    }

    public var name: String
    public var scope: Scope
    public var timeZone: TimeZone
    public var windows: [Window]
    public var holidays: Set<Day>

    public init(name: String, scope: Scope, timeZone: TimeZone, windows: [Window], holidays: Set<Day> = []) {
        self.name = name
        self.scope = scope
        self.timeZone = timeZone
        self.windows = windows
        self.holidays = holidays
    }

    public func applies(toSubject subjectId: String, tags: Set<String>) -> Bool {
        switch scope {
        case .everyone: true
        case .tag(let tag): tags.contains(tag)
        case .subject(let id): SubjectIdentity.same(id, subjectId)
        }
    }

    /// Whether the schedule admits at `time`. A window running past midnight belongs to the day it starts on,
    /// and a holiday closes the windows that start on it.
    public func admits(at time: Date) -> Bool {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .weekday, .hour, .minute], from: time)
        guard let year = parts.year, let month = parts.month, let day = parts.day, let weekday = parts.weekday,
            let hour = parts.hour, let minute = parts.minute
        else { return false }
        let minuteOfDay = hour * 60 + minute
        let today = Day(year: year, month: month, day: day)
        let yesterdayDate = calendar.date(byAdding: .day, value: -1, to: time) ?? time
        let y = calendar.dateComponents([.year, .month, .day, .weekday], from: yesterdayDate)
        let yesterday = Day(year: y.year ?? 0, month: y.month ?? 0, day: y.day ?? 0)
        let yesterdayWeekday = y.weekday ?? 0

        for window in windows {
            if window.end > window.start {
                if window.weekdays.contains(weekday), !holidays.contains(today), minuteOfDay >= window.start,
                    minuteOfDay < window.end
                {
                    return true
                }
            } else {
                // Overnight: the evening part today, or the morning part of a window that started yesterday.
                if window.weekdays.contains(weekday), !holidays.contains(today), minuteOfDay >= window.start { return true }
                if window.weekdays.contains(yesterdayWeekday), !holidays.contains(yesterday), minuteOfDay < window.end {
                    return true
                }
            }
        }
        return false
    }
}

/// How the door compares a subject id the configuration names (a deny list, a subject's schedule) with
/// the one a cloud returns (``key(_:)``): without the spaces around it (line breaks, a byte-order mark and other invisible
/// characters too: a YAML block value keeps its final line break, and an id pasted from a spreadsheet may
/// bring a BOM, and a deny list entry that matches nobody lets the person in) and without regard to case. NeoCheck's ids are
/// GUIDs, which are the same id in either case: a deny list or a subject's schedule that missed one for
/// its case would let that person in, or in at any hour. Ids that differ only in case are therefore one
/// person to the door's rules.
public enum SubjectIdentity {
    public static func same(_ named: String, _ returned: String) -> Bool { key(named) == key(returned) }

    /// The form ids are compared in (and the re-entry cooldown is kept under): Unicode compatibility forms
    /// and case and width folded, so that an id typed through an input method in full-width digits or
    /// letters (`１２３４`) is the cloud's `1234`. Before, only the case was folded, and such a deny-list
    /// entry denied nobody. Normalised again after folding, so that a key's key is itself.
    public static func key(_ id: String) -> String {
        trimmed(
            id.precomposedStringWithCompatibilityMapping.folding(options: [.caseInsensitive, .widthInsensitive], locale: nil)
                .precomposedStringWithCompatibilityMapping)
    }

    /// The id without what surrounds it and cannot be seen: spaces, line breaks, control characters, and the
    /// byte-order mark and zero-width characters.
    public static func trimmed(_ id: some StringProtocol) -> String { id.trimmingCharacters(in: invisible) }

    private static let invisible = CharacterSet.whitespacesAndNewlines.union(.controlCharacters)
        .union(CharacterSet(charactersIn: "\u{FEFF}\u{200B}\u{200C}\u{200D}\u{2060}"))
}
