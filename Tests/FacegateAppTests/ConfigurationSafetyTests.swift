import FacegateCore
import FacegateDoor
import FacegateApp
import FacegateIdentify
import FacegateOfflineCache
import FacegatePolicy
import FacegateQuality
import FacegateTesting
import Foundation
import Logging
import Synchronization
import Testing

/// Configuration mistakes that would open the door for the wrong person or leak a secret into the
/// journal: thresholds on the wrong scale, limits that are not numbers, empty schedule windows, plain
/// http to the cloud, and error messages that echo the file's values.
@Suite(.timeLimit(.minutes(5)))
struct ConfigurationSafetyTests {
    func problems(_ yaml: String, fileIsPrivate: Bool = true) -> ConfigError? {
        do {
            _ = try FacegateConfiguration(yaml: yaml, file: "test.yaml", fileIsPrivate: fileIsPrivate)
            return nil
        } catch {
            return error
        }
    }

    // MARK: item 15: no value from the file in any message

    @Test func yamlSyntaxErrorGivesLineAndColumnButNotTheLine() throws {
        // `@` cannot start a YAML value: Yams' own message quotes the whole source line.
        let yaml = """
            backend:
              kind: neocheck
              neocheck:
                password: @x-Tr0ub4dor-3
            """
        let error = try #require(problems(yaml))
        let problem = try #require(error.problems.first)
        #expect(error.problems.count == 1)
        #expect(problem.line == 4 && problem.column != nil)
        #expect(problem.message.hasPrefix("not valid YAML"))
        for leaked in ["@x", "Tr0ub4dor", "password:"] {
            #expect(!error.description.contains(leaked), "the error repeats \(leaked): \(error)")
        }
    }

    @Test func yamlReaderAndDuplicateKeyErrorsCarryNoValue() throws {
        // A control character is refused by libyaml's reader, which Yams reports with the line's text.
        let control = try #require(problems("backend:\n  nec:\n    secret_key: ab\u{1}Tr0ub4dor\n"))
        #expect(!control.description.contains("Tr0ub4dor"), "\(control)")
        #expect(control.problems.first?.line == 3)
        let twice = try #require(problems("backend:\n  nec:\n    secret_key: Tr0ub4dor\n    secret_key: Tr0ub4dor2\n"))
        #expect(!twice.description.contains("Tr0ub4dor"), "\(twice)")
        #expect(twice.problems.first?.line != nil)
    }

    @Test func badChoiceNextToASecretNamesTheKeyAndAllowedValuesOnly() throws {
        let yaml = """
            backend:
              kind: Tr0ub4dor-kind
              nec:
                secret_key: correct-horse-battery
            """
        let error = try #require(problems(yaml))
        let kind = try #require(error.problems.first { $0.path == "backend.kind" })
        #expect(kind.message.contains("nec, neocheck"))
        #expect(kind.line == 2)
        #expect(!error.description.contains("Tr0ub4dor"), "\(error)")
        #expect(!error.description.contains("correct-horse"), "\(error)")
    }

    /// Every kind of value the reader checks, each wrong and each carrying a marker that must not come back.
    @Test func noReaderEchoesTheValueItRefuses() throws {
        let yaml = """
            camera:
              source: LEAK-source
              width: LEAK-width
              replay_loops: LEAK-bool
              stall_timeout_seconds: LEAK-seconds
            quality:
              gate: 7000000001
            backend:
              nec:
                endpoint: LEAK-endpoint
              neocheck:
                endpoint: https://user:LEAK-password@neocheck.example/api
            door:
              threshold: LEAK-threshold
              schedules:
                - name: LEAK-name
                  applies_to: tag:LEAK-tag
                  time_zone: LEAK/Zone
                  windows: [{days: [LEAK-day], from: "LEAK:00", to: "25:LEAK"}]
                  holidays: [LEAK-holiday]
                - name: LEAK-name2
                  applies_to: LEAK-scope
                  time_zone: UTC
                  windows: [{days: [mon], from: "09:00", to: "17:00"}]
            logging:
              level: LEAK-level
            """
        let error = try #require(problems(yaml))
        // Every bad value is refused, each by its own reader (a schedule's window by its parts and as a whole).
        #expect(
            Set(error.problems.map(\.path)) == [
                "camera.source", "camera.width", "camera.replay_loops", "camera.stall_timeout_seconds", "quality.gate",
                "backend.nec.endpoint", "backend.neocheck.endpoint", "door.threshold", "door.schedules[0].time_zone",
                "door.schedules[0].windows[0].days[0]", "door.schedules[0].windows[0].days", "door.schedules[0].windows[0].from",
                "door.schedules[0].windows[0].to", "door.schedules[0].windows", "door.schedules[0].holidays[0]",
                "door.schedules[1].applies_to", "logging.level",
            ], "\(error)")
        #expect(error.problems.count == 17)
        #expect(!error.description.contains("LEAK"), "\(error)")
        #expect(!error.description.contains("7000000001"), "\(error)")
    }

    @Test func anUnknownKeyThatIsNotAPlainNameIsNotRepeated() throws {
        // A missing line break turned a secret into part of a key.
        let error = try #require(problems("backend:\n  nec:\n    secret_key credential:x Tr0ub4dor: 1\n    colour: red\n"))
        #expect(Set(error.problems.map(\.path)) == ["backend.nec", "backend.nec.colour"])
        #expect(!error.description.contains("Tr0ub4dor"), "\(error)")
    }

    /// A key written with a YAML tag (`!!binary deny_list:`, `!x fail_safe:`) is looked up by text and tag,
    /// so it was never read, while the unknown-key check (by text) counted it as read: the door ran on the
    /// default (no deny list, no schedules, fail-secure for a maglock) and `config check` said ok (review).
    /// Refused, by key, in the daemon's file and the wiring the door commands read; a plain or quoted key,
    /// or `!!str`, is read as before.
    @Test func aKeyWithAYAMLTagIsRefusedNotSkipped() throws {
        for (yaml, key) in [
            ("door:\n  !!binary deny_list: [mallory]\n", "door.deny_list"),
            ("door:\n  !x fail_safe: true\n", "door.fail_safe"),
            ("door:\n  !local schedules: []\n", "door.schedules"),
            ("door:\n  !!int threshold: 9000\n", "door.threshold"),
        ] {
            let error = try #require(problems(yaml), "\(yaml)")
            #expect(error.problems.contains { $0.path == key && $0.message.contains("YAML tag") }, "\(yaml): \(error)")
            #expect(!error.description.contains("mallory"), "\(error)")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tagged-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "door:\n  relay: {chip: gpiochip0, line: 17}\n  !x fail_safe: true\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { _ = try FacegateConfiguration.doorWiring(path: file) }
        for plain in ["door:\n  deny_list: [mallory]\n", "door:\n  \"deny_list\": [mallory]\n", "door:\n  !!str deny_list: [mallory]\n"] {
            let config = try FacegateConfiguration(yaml: plain)
            #expect(config.door.denyList == ["mallory"], "\(plain)")
        }
    }

    /// Aliases nested in aliases (the "billion laughs": ten to a level, nine levels) are refused at once by
    /// their expanded size, in the daemon's file and in the wiring the door commands read: every reader walks
    /// the expanded tree, so `config check`, start-up and reload spun for hours (review). Each reading runs
    /// on a thread of its own, so a regression fails here instead of holding the run. An alias used as meant
    /// (two schedules sharing their windows) is read.
    @Test func aliasesNestedInAliasesAreRefusedNotExpanded() async throws {
        var laughs = "door:\n  relay: {chip: gpiochip0, line: 17}\nl0: &l0 [" + Array(repeating: "lol", count: 10).joined(separator: ", ") + "]\n"
        for level in 1...8 { laughs += "l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("laughs-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try laughs.write(toFile: file, atomically: true, encoding: .utf8)
        final class Refusals: Sendable { let said = Mutex<[String]?>(nil) }
        let refusals = Refusals()
        Thread.detachNewThread { [laughs] in
            func refusal(_ read: () throws -> Void) -> String {
                do {
                    try read()
                    return "accepted"
                } catch {
                    return "\(error)"
                }
            }
            let said = [
                refusal { _ = try FacegateConfiguration(yaml: laughs, file: "test.yaml", fileIsPrivate: true) },
                refusal { _ = try FacegateConfiguration.doorWiring(path: file) },
                refusal { _ = try FacegateConfiguration.relayToRest(path: file) },
            ]
            refusals.said.withLock { $0 = said }
        }
        let said = try await askUntil(within: .seconds(30)) { refusals.said.withLock { $0 } } until: { $0 != nil }
        let each = try #require(said, "not refused within 30 s")
        for refusal in each { #expect(refusal.contains("aliases expand to over"), "\(refusal)") }

        let shared = """
            door:
              schedules:
                - {name: office, applies_to: everyone, time_zone: UTC, windows: &weekdays [{days: [mon, tue], from: "09:00", to: "17:00"}]}
                - {name: late, applies_to: everyone, time_zone: Europe/Madrid, windows: *weekdays}
            """
        let config = try FacegateConfiguration(yaml: shared)
        #expect(config.door.schedules.count == 2)
    }

    /// A file of over 100,000 entries and no alias (a deny list of 100,000 ids, a kiosk's names for 60,000
    /// people) is read, and promptly: the bound on expanded aliases grows with the text. Before, it was refused
    /// as "its aliases expand to over 100000 entries", aliases it did not have.
    @Test func aLargeFileWithoutAliasesIsRead() throws {
        let yaml =
            "door:\n  deny_list:\n" + (0..<100_000).map { "    - \"id-\($0)\"\n" }.joined()
            + "kiosk:\n  names:\n" + (0..<60_000).map { "    k\($0): Person \($0)\n" }.joined()
        let started = ContinuousClock.now
        let config = try FacegateConfiguration(yaml: yaml, file: "test.yaml", fileIsPrivate: true)
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(config.door.denyList.count == 100_000 && config.door.denyList.contains("id-99999"))
        #expect(config.kiosk.displayNames.count == 60_000)
    }

    /// A key written and left blank (`fail_safe:`) is refused by its key, not run on its default: a maglock on
    /// a fire exit whose `fail_safe:` was left to fill in later was driven fail-secure, and `config check` said
    /// ok (review). `~` written on purpose still means the default, and so does a section left empty.
    @Test func aKeyLeftBlankIsRefusedNotDefaulted() throws {
        for (yaml, key) in [
            ("door:\n  fail_safe:\n", "door.fail_safe"),
            ("door:\n  threshold:\n", "door.threshold"),
            ("door:\n  name:\n", "door.name"),
            ("backend:\n  kind:\n", "backend.kind"),
            ("backend:\n  request_timeout_seconds:\n", "backend.request_timeout_seconds"),
            ("offline_cache:\n  key:\n", "offline_cache.key"),
        ] {
            let error = try #require(problems(yaml), "\(yaml)")
            #expect(error.problems.contains { $0.path == key && $0.message.contains("has no value") }, "\(yaml): \(error)")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("blank-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "door:\n  relay: {chip: gpiochip0, line: 17}\n  fail_safe:\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { _ = try FacegateConfiguration.doorWiring(path: file) }
        let written = try FacegateConfiguration(yaml: "door:\n  fail_safe: ~\n  threshold: null\noffline_cache:\n")
        #expect(written.door.failSafe == false)
    }

    @Test func tagScheduleTheDoorCannotCheckIsNamedByKeyPathNotByNameOrTag() throws {
        let yaml = """
            door:
              tags: [staff, cleaning]
              schedules:
                - {name: ok, applies_to: everyone, time_zone: UTC, windows: [{days: [mon], from: "09:00", to: "17:00"}]}
                - {name: secret-name, applies_to: tag:secret-tag, time_zone: UTC, windows: [{days: [mon], from: "09:00", to: "17:00"}]}
            """
        let error = try #require(problems(yaml))
        #expect(error.problems.map(\.path) == ["door.schedules[1].applies_to"])
        #expect(!error.description.contains("secret-"), "\(error)")
    }

    // MARK: item 5: thresholds in the backend's own units

    @Test func necThresholdOnNeoChecksScaleIsRefused() throws {
        for wrong in ["83", "0.83", "998", "10000", "-5"] {
            let error = try #require(problems("backend: {kind: nec}\ndoor: {threshold: \(wrong)}"), "NEC accepted \(wrong)")
            let problem = try #require(error.problems.first)
            #expect(error.problems.count == 1 && problem.path == "door.threshold")
            #expect(problem.message.contains("1000...9999"))
            #expect(!problem.message.contains(wrong), "echoes \(wrong): \(problem)")
        }
        for right in [1000.0, 7321, 9999] {
            let config = try FacegateConfiguration(yaml: "backend: {kind: nec}\ndoor: {threshold: \(right)}")
            #expect(config.doorPolicy.threshold == right)
        }
    }

    @Test func neoCheckThresholdOnNECsScaleIsRefused() throws {
        for wrong in ["7321", "101", "0.83", "-5"] {
            let error = try #require(problems("backend: {kind: neocheck}\ndoor: {threshold: \(wrong)}"), "NeoCheck accepted \(wrong)")
            let problem = try #require(error.problems.first)
            #expect(error.problems.count == 1 && problem.path == "door.threshold")
            #expect(problem.message.contains("1...100"))
            #expect(!problem.message.contains(wrong), "echoes \(wrong): \(problem)")
        }
        for right in [1.0, 83, 100] {
            let config = try FacegateConfiguration(yaml: "backend: {kind: neocheck}\ndoor: {threshold: \(right)}")
            #expect(config.doorPolicy.threshold == right)
        }
    }

    @Test func marginsAreInTheBackendsUnitsToo() throws {
        let neo = try #require(problems("backend: {kind: neocheck}\ndoor: {minimum_margin: 500}"))
        #expect(neo.problems.map(\.path) == ["door.minimum_margin"])
        // NeoCheck names one person per identification: no second score, so the margin is never applied.
        // Said (at start, reload and by config check), not refused: a file that ran before still runs.
        let noted = try FacegateConfiguration(yaml: "backend: {kind: neocheck}\ndoor: {minimum_margin: 5}")
        #expect(noted.notesBesidesTheDefaultOnes.map(\.path) == ["door.minimum_margin"] && noted.notesBesidesTheDefaultOnes.first?.message.contains("no second score") == true)
        #expect(try FacegateConfiguration(yaml: "backend: {kind: nec}\ndoor: {minimum_margin: 5}").notesBesidesTheDefaultOnes.isEmpty)
        #expect(try FacegateConfiguration(yaml: "backend: {kind: nec}\ndoor: {minimum_margin: 500}").doorPolicy.minimumMargin == 500)
        #expect(problems("backend: {kind: nec}\ndoor: {minimum_margin: 10000}") != nil)
    }

    @Test func defaultThresholdsAreOnEachBackendsScale() throws {
        #expect(try FacegateConfiguration(yaml: "backend: {kind: nec}").doorPolicy.threshold == 7000)
        #expect(try FacegateConfiguration(yaml: "backend: {kind: neocheck}").doorPolicy.threshold == 80)
    }

    // MARK: item 6: limits that are not numbers

    @Test(arguments: [".nan", ".NaN", ".inf", "-.inf", "1e999"])
    func notFiniteLimitsAreRefused(value: String) throws {
        let yaml = """
            door: {threshold: \(value), minimum_margin: \(value)}
            offline_cache: {max_distance: \(value), minimum_margin: \(value)}
            """
        let error = try #require(problems(yaml))
        #expect(
            Set(error.problems.map(\.path))
                == ["door.threshold", "door.minimum_margin", "offline_cache.max_distance", "offline_cache.minimum_margin"])
        #expect(error.problems.allSatisfy { $0.message.contains("finite") })
    }

    // MARK: item 5: schedule windows

    @Test func windowFromEqualToIsRefused() throws {
        func window(_ from: String, _ to: String) -> String {
            "door:\n  schedules: [{name: s, time_zone: UTC, windows: [{days: [mon], from: \"\(from)\", to: \"\(to)\"}]}]"
        }
        let same = try #require(problems(window("09:00", "09:00")))
        #expect(same.problems.map(\.path).contains("door.schedules[0].windows[0].to"))
        #expect(problems(window("00:00", "00:00")) != nil)
        #expect(problems(window("24:00", "24:00")) != nil)
        #expect(problems(window("24:00", "06:00")) != nil)
        let allDay = try FacegateConfiguration(yaml: window("00:00", "24:00"))
        #expect(allDay.door.schedules.first?.windows == [.init(weekdays: [2], start: 0, end: 1440)])
        let overnight = try FacegateConfiguration(yaml: window("22:00", "06:00"))
        #expect(overnight.door.schedules.first?.windows == [.init(weekdays: [2], start: 22 * 60, end: 6 * 60)])
    }

    // MARK: mistakes that crashed the daemon or left the door open (the audit of 2026-12-05)

    /// YAML 1.1 reads `1:0:0` as base 60, and the library's arithmetic for it traps on overflow: a typo
    /// in any whole-number key killed the daemon at start-up (a restart loop) or at a reload.
    @Test func aWholeNumberInBaseSixtyIsAProblemNotACrash() throws {
        for (yaml, key) in [
            ("camera:\n  fps: 1:0:0:0:0:0:0:0:0:0:0", "camera.fps"), ("journal: {retention_days: 200000000000000000:0}", "journal.retention_days"),
            ("offline_cache: {max_entries: 99999999999999999999}", "offline_cache.max_entries"), ("camera: {fps: 0x0F}", "camera.fps"),
        ] {
            let error = try #require(problems(yaml), "accepted \(yaml)")
            #expect(error.problems.map(\.path) == [key], "\(yaml)")
            #expect(error.problems.first?.message == "must be a whole number")
        }
        let written = try FacegateConfiguration(yaml: "camera: {fps: +15}\noffline_cache: {max_entries: 10_000}")
        #expect(written.camera.framesPerSecond == 15 && written.offlineCache.maxEntries == 10_000)
    }

    /// `subject: 1234` with the space YAML leaves in a quoted value named subject " 1234", whom no
    /// cloud returns: the schedule applied to nobody and 1234 was let in at any hour. The same for a
    /// deny list entry. Ids are compared without regard to case too (NeoCheck's GUIDs).
    @Test func aSubjectNamedWithSpacesOrInAnotherCaseIsStillThatSubject() throws {
        let config = try FacegateConfiguration(
            yaml: """
                door:
                  deny_list: [" 2B1D6C1E-0000-4000-8000-00000000000A "]
                  schedules:
                    - name: days
                      applies_to: "subject: 1234"
                      time_zone: Europe/Madrid
                      windows: [{days: [monday], from: "08:00", to: "18:00"}]
                """)
        let schedule = try #require(config.door.schedules.first)
        #expect(schedule.scope == .subject("1234"))
        #expect(schedule.applies(toSubject: "1234", tags: []))
        #expect(config.door.denyList == ["2B1D6C1E-0000-4000-8000-00000000000A"])
        #expect(SubjectIdentity.same("2B1D6C1E-0000-4000-8000-00000000000A", "2b1d6c1e-0000-4000-8000-00000000000a"))
        #expect(problems("door:\n  schedules:\n    - {applies_to: \"subject:  \", windows: [{days: [mon], from: \"08:00\", to: \"09:00\"}]}")?.problems.map(\.path) == ["door.schedules[0].applies_to"])
    }

    /// A deny list written as YAML block values keeps each one's final line break, and an id pasted from a
    /// spreadsheet may bring a byte-order mark: the entry must still deny that person. Before, it matched
    /// nobody (only spaces were trimmed), and the person was let in.
    @Test func aDenyListIdWithALineBreakOrAnInvisibleMarkStillDenies() throws {
        let config = try FacegateConfiguration(
            yaml: "door:\n  deny_list:\n    - |\n      ABC-123\n    - \"\\uFEFFdef-456\\u200B\"\n    - \"ghi-789\\r\"\n")
        #expect(config.door.denyList == ["ABC-123", "def-456", "ghi-789"], "\(config.door.denyList)")
        for (named, returned) in [("ABC-123\n", "abc-123"), ("\u{FEFF}def-456", "DEF-456"), ("ghi-789\r\n", "ghi-789"), ("jkl\t", "JKL")] {
            #expect(SubjectIdentity.same(named, returned), "\(named.debugDescription)")
        }
        // Inside an id nothing is taken out: another id is another person.
        #expect(!SubjectIdentity.same("abc\n123", "abc123"))
        var state = PolicyState()
        let denied = AccessPolicy.evaluate(
            .cloud(candidates: [MatchCandidate(subjectId: "abc-123", score: 9900, tags: [])], unit: .necScore), passedQualityGate: true,
            policy: config.doorPolicy, state: &state, at: Date())
        #expect(denied.outcome == .deniedDenyList, "\(denied)")
    }

    /// A holiday that is no date never comes, and the door stays open on the day it was meant to close;
    /// a day name read by its first three letters took `sunflower` for Sunday.
    @Test func impossibleHolidaysAndDayNamesAreRefused() throws {
        func schedule(days: String = "[mon]", holidays: String) -> String {
            "door:\n  schedules:\n    - {time_zone: UTC, windows: [{days: \(days), from: \"08:00\", to: \"09:00\"}], holidays: \(holidays)}"
        }
        for holiday in ["26-12-25", "2026-02-30", "2027-02-29", "2026-13-01", "2026-001-5", "1900-01-01"] {
            let error = try #require(problems(schedule(holidays: "[\"\(holiday)\"]")), "accepted \(holiday)")
            #expect(error.problems.map(\.path) == ["door.schedules[0].holidays[0]"], "\(holiday)")
        }
        #expect(problems(schedule(holidays: "[2028-02-29, 2026-12-25, 2026-1-5]")) == nil)
        #expect(problems(schedule(days: "[sunflower]", holidays: "[]"))?.problems.first?.path == "door.schedules[0].windows[0].days[0]")
        #expect(problems(schedule(days: "[Monday, tue, SUNDAY, tues, thurs, weds, fridays]", holidays: "[]")) == nil)
        for notADay in ["su", "mo", "mondayx", "tuesdays-off"] {
            #expect(problems(schedule(days: "[\(notADay)]", holidays: "[]")) != nil, "\(notADay)")
        }
    }

    /// One line named for two roles was refused as busy at the second request, which reads as another
    /// process holding it: the daemon restarted for ever. Lines wired without a relay were ignored (the
    /// door is simulated) while the file looked complete.
    @Test func doorWiringThatCannotWorkIsRefused() throws {
        let shared = try #require(problems("door:\n  relay: {chip: gpiochip0, line: \"5\"}\n  contact: {chip: /dev/gpiochip0, line: \"5\"}\n  exit_button: {chip: gpiochip0, line: \"5\"}"))
        #expect(shared.problems.map(\.path) == ["door.contact", "door.exit_button"])
        #expect(shared.problems.allSatisfy { $0.message.contains("same GPIO line as door.relay") })
        #expect(problems("door:\n  relay: {chip: gpiochip0, line: \"5\"}\n  contact: {chip: gpiochip0, line: \"6\"}\n  exit_button: {chip: gpiochip1, line: \"5\"}") == nil)
        let unwired = try #require(problems("door:\n  fail_safe: true\n  contact: {chip: gpiochip0, line: \"6\"}\n  exit_button: {chip: gpiochip0, line: \"7\"}"))
        #expect(unwired.problems.map(\.path) == ["door.contact", "door.exit_button", "door.fail_safe"])
    }

    /// Without `door.relay` nothing is driven. A fail-safe lock (a maglock, energised to lock) was never
    /// energised: the door stood open while decisions were journaled, and the file passed. It is refused
    /// by its key; a door without a relay otherwise runs (the demo, a door being wired) and is noted.
    @Test func aDoorWithoutARelayIsNotedAndAFailSafeOneIsRefused() throws {
        let maglock = try #require(problems("door:\n  name: door-marker-71\n  fail_safe: true"), "a maglock without a relay was accepted")
        #expect(maglock.problems.map(\.path) == ["door.fail_safe"])
        #expect(maglock.problems.first?.message.contains("needs door.relay") == true, "\(maglock)")
        #expect(!maglock.description.contains("door-marker"), "\(maglock)")
        #expect(problems("door:\n  relay: {chip: gpiochip0, line: \"5\"}\n  fail_safe: true") == nil)
        for simulated in ["door: {name: front}", "door: {fail_safe: false}", "{}"] {
            let notes = try FacegateConfiguration(yaml: simulated).notes.filter { !["liveness.require_movement", "door.tags"].contains($0.path) }
            #expect(notes.map(\.path) == ["door.relay"], "\(simulated)")
            #expect(notes.first?.message.contains("simulated and nothing is driven") == true, "\(simulated): \(notes)")
        }
        #expect(try FacegateConfiguration(yaml: "door: {relay: {chip: gpiochip0, line: \"5\"}, tags: [staff]}").notes.map(\.path) == ["liveness.require_movement"])
    }

    /// An exit button wired active-low needs a pull-up; a line without one of its own (an I2C expander's,
    /// say) floats, and every edge of the noise was a request to exit. The inputs take a `bias`; the relay,
    /// whose level is driven, does not. (Applied by a real chip: HIL `04-contact-events`.)
    @Test func theDoorsInputsTakeABiasAndTheRelayDoesNot() throws {
        let config = try FacegateConfiguration(
            yaml: """
                door:
                  relay: {chip: gpiochip0, line: "5"}
                  contact: {chip: gpiochip0, line: "6", bias: pull-down}
                  exit_button: {chip: gpiochip0, line: "7", active_low: true, bias: pull-up}
                """)
        #expect(config.door.exitButton?.bias == .pullUp)
        #expect(config.door.contact?.bias == .pullDown)
        #expect(config.door.relay?.bias == .asIs)
        let relay = try #require(problems("door:\n  relay: {chip: gpiochip0, line: \"5\", bias: pull-up}"))
        #expect(relay.problems.map(\.path) == ["door.relay.bias"])
        let wrong = try #require(problems("door:\n  relay: {chip: gpiochip0, line: \"5\"}\n  contact: {chip: gpiochip0, line: \"6\", bias: up}"))
        #expect(wrong.problems.map(\.path) == ["door.contact.bias"])
        #expect(wrong.problems.first?.message.contains("pull-up") == true)
    }

    /// The unit runs the daemon in / with a read-only root: a relative journal would not open and the
    /// door would decide unrecorded.
    @Test func theJournalAndCacheNeedAbsolutePaths() throws {
        let error = try #require(problems("journal: {path: journal.sqlite}\noffline_cache: {path: \"\"}"))
        #expect(error.problems.map(\.path) == ["offline_cache.path", "journal.path"])
        #expect(problems("journal: {path: /var/lib/facegate/j.sqlite}\noffline_cache: {path: /var/lib/facegate/c.sqlite}") == nil)
        let budget = try #require(problems("backend:\n  neocheck: {budget_state: budget.json}"))
        #expect(budget.problems.map(\.path) == ["backend.neocheck.budget_state"])
    }

    /// The call budget's save is a rename: onto the journal it replaced the audit history with its JSON. No two
    /// data files may be one file, nor one of them a file kept beside another (SQLite's -wal, -shm and
    /// -journal, the budget's .lock); the problem names the other key, never a path.
    @Test func theDataFilesAreEachAFileOfTheirOwn() throws {
        func clash(_ yaml: String) throws -> [ConfigProblem] {
            let error = try #require(problems(yaml), "taken: \(yaml)")
            #expect(error.problems.allSatisfy { !$0.message.contains("/var") && !$0.message.contains("sqlite") && !$0.message.contains("json") }, "\(error)")
            return error.problems
        }
        let onTheJournal = try clash("backend:\n  neocheck: {budget_state: /var/lib/facegate/journal.sqlite}")
        #expect(onTheJournal.map(\.path) == ["backend.neocheck.budget_state"], "\(onTheJournal)")
        #expect(onTheJournal.first?.message.contains("journal.path") == true)
        let spelt = try clash("journal: {path: /var/lib/facegate/./x/../j.sqlite}\noffline_cache: {path: //var/lib/facegate/j.sqlite}")
        #expect(spelt.map(\.path) == ["journal.path"], "\(spelt)")
        #expect(spelt.first?.message.contains("offline_cache.path") == true)
        let log = try clash("journal: {path: /var/lib/facegate/c.sqlite-wal}\noffline_cache: {path: /var/lib/facegate/c.sqlite}")
        #expect(log.map(\.path) == ["journal.path"], "\(log)")
        let lock = try clash("backend:\n  neocheck: {budget_state: /var/lib/facegate/journal}\njournal: {path: /var/lib/facegate/journal.lock}")
        #expect(lock.map(\.path) == ["journal.path"], "\(lock)")
        #expect(lock.first?.message.contains("backend.neocheck.budget_state") == true)
        #expect(try clash("offline_cache: {path: /var/lib/facegate/journal.sqlite-shm}").map(\.path) == ["offline_cache.path"])
        #expect(try clash("backend:\n  neocheck: {budget_state: /var/lib/facegate/offline-cache.sqlite-journal}").map(\.path) == ["backend.neocheck.budget_state"])
        // Near names are other files.
        #expect(problems("journal: {path: /var/lib/facegate/j.sqlite}\noffline_cache: {path: /var/lib/facegate/j.sqlite2}\nbackend:\n  neocheck: {budget_state: /var/lib/facegate/j.sqlite.json}") == nil)
    }

    /// NeoCheck identifies within one face list: without one every visit was an error while the door
    /// looked configured. The file may still leave it out for the CLI, which sets the cloud up first.
    @Test func aNeoCheckDoorWithoutAFaceListDoesNotStart() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var config = try FacegateConfiguration(yaml: "backend: {kind: neocheck}\ndoor: {face_list: \" \"}")
        config.offlineCache.enabled = false
        config.journal.path = folder.file("journal.sqlite")
        #expect(config.environmentProblems(environment: [:]).map(\.path).contains("door.face_list"))
        let refusal = #expect(throws: DaemonStartError.self) {
            _ = try DoorParts.open(
                config, overrides: .init(source: SynthesizedApproach(), faceEngine: try TestFaceAnalyzers.video().engine),
                logger: Logger(label: "quiet"))
        }
        #expect(refusal?.key == "door.face_list")
        var listed = config
        listed.door.faceList = "staff"
        #expect(!listed.environmentProblems(environment: [:]).map(\.path).contains("door.face_list"))
    }

    /// What a reload takes as a file cut short: one lacking all the running file's last keys, in order.
    /// Keys gone from the middle are an edit; the names a kiosk shows are keyed by subject id, values that
    /// are never listed (nor logged), so removing one is an edit too.
    @Test func aFileCutShortLacksTheRunningFilesLastKeys() throws {
        let running = try FacegateConfiguration(
            yaml: "camera: {fps: 5}\ndoor: {name: a, deny_list: [x]}\nkiosk: {names: {id-7: Alice, id-8: Bob}}\njournal: {path: /j}\n")
        #expect(running.keysInFile.paths == ["camera", "camera.fps", "door", "door.name", "door.deny_list", "kiosk", "kiosk.names", "journal", "journal.path"])
        func cut(_ yaml: String) throws -> [String]? { running.keysInFile.cutShort(in: try FacegateConfiguration(yaml: yaml).keysInFile) }
        #expect(try cut("camera: {fps: 5}\ndoor: {name: a}\n") == ["door.deny_list", "kiosk", "kiosk.names", "journal", "journal.path"])
        #expect(try cut("camera: {fps: 5}\ndoor: {name: a, deny_list: [x]}\njournal: {path: /j}\n") == nil, "the kiosk removed: an edit")
        #expect(try cut("camera: {fps: 5}\ndoor: {name: a, deny_list: [x]}\nkiosk: {names: {id-8: Bob}}\njournal: {path: /j}\n") == nil)
        #expect(try cut("door: {name: b, deny_list: [x, y]}\nkiosk: {names: {}}\njournal: {path: /k}\nlogging: {level: info}\n") == nil)
    }

    /// A file cut inside its last list or value (a cut at a line break after a deny list's first names, or
    /// mid-line) keeps every key, so ``cutShort`` cannot see it: its values are the running file's
    /// beginning, and the reload refuses it naming the key, never a value. An edit anywhere else, or one
    /// that adds, is taken; removing the last names of the file's last list takes a restart.
    @Test func aFileCutInsideItsLastListOrValueEndsEarly() throws {
        let running = try FacegateConfiguration(
            yaml: "camera: {fps: 5}\nkiosk:\n  names: {id-7: Alice}\ndoor:\n  threshold: 7500\n  deny_list:\n    - mallory\n    - trudy\n")
        func ends(_ yaml: String) throws -> String? { running.keysInFile.endsEarly(in: try FacegateConfiguration(yaml: yaml).keysInFile) }
        let head = "camera: {fps: 5}\nkiosk:\n  names: {id-7: Alice}\ndoor:\n  threshold: 7500\n"
        #expect(try ends(head + "  deny_list:\n    - mallory\n") == "door.deny_list", "cut after the first name")
        // Cut right after the list's key: it reads as an empty list (review: accepted, the deny list dropped).
        #expect(try ends(head + "  deny_list:\n") == "door.deny_list", "cut after the key")
        #expect(try ends(head + "  deny_list:") == "door.deny_list", "cut after the key, no line break")
        let tagged = try FacegateConfiguration(yaml: "door:\n  threshold: 7500\n  tags:\n    - staff\n")
        #expect(
            tagged.keysInFile.endsEarly(in: try FacegateConfiguration(yaml: "door:\n  threshold: 7500\n  tags:\n").keysInFile) == "door.tags",
            "the door's tags cut after their key (NEC ID would search everyone)")
        #expect(try ends(head + "  deny_list:\n    - mallory\n    - tru") == "door.deny_list", "cut mid-line")
        #expect(try ends(head + "  deny_list:\n    - mallory\n    - trudy\n") == nil, "the same file")
        #expect(try ends(head + "  deny_list:\n    - mallory\n    - trudy\n    - eve\n") == nil, "a name added")
        #expect(try ends(head + "  deny_list:\n    - trudy\n") == nil, "a name removed from the middle: an edit")
        #expect(try ends("camera: {fps: 6}\nkiosk:\n  names: {id-7: Alice}\ndoor:\n  threshold: 7500\n  deny_list:\n    - mallory\n") == nil,
            "an edit elsewhere too")
        let short = try FacegateConfiguration(yaml: "door:\n  deny_list: [a]\n  minimum_margin: 1500\n")
        #expect(short.keysInFile.endsEarly(in: try FacegateConfiguration(yaml: "door:\n  deny_list: [a]\n  minimum_margin: 15").keysInFile)
            == "door.minimum_margin", "a value cut mid-line")
        let names = try FacegateConfiguration(yaml: "kiosk:\n  names:\n    id-7: Alice\n    id-8: Bob\n")
        #expect(names.keysInFile.endsEarly(in: try FacegateConfiguration(yaml: "kiosk:\n  names:\n    id-7: Alice\n").keysInFile)
            == "kiosk.names", "a free-form mapping is named by its own key, never a subject id")
    }

    /// The daemon opens its offline cache for the backend it runs: restarted on another one, the faces
    /// the first granted are gone (an NEC door with no tags would let every one of them in offline).
    @Test func theOfflineCacheIsOpenedForTheRunningBackend() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let keyPath = folder.file("cache.key")
        try OfflineCacheKey.generate(to: keyPath)
        func open(_ yaml: String) throws -> OfflineFaceCache {
            var config = try FacegateConfiguration(yaml: yaml)
            config.liveness.enabled = false
            config.journal.path = folder.file("journal.sqlite")
            config.offlineCache.path = folder.file("cache.sqlite")
            config.offlineCache.key = .file(keyPath)
            let parts = try DoorParts.open(
                config, overrides: .init(source: SynthesizedApproach(), search: HeldCloud(backendName: "any"), doorLines: SimulatedDoorLines()),
                logger: Logger(label: "quiet"))
            return try #require(parts.cache)
        }
        let descriptor = try FaceDescriptor([Float](repeating: 0.05, count: FaceDescriptor.dimension))
        let neocheck = try open("backend: {kind: neocheck}\ndoor: {face_list: front}")
        try await neocheck.remember(subjectId: "alice", grantedUnder: ["front"], descriptor: descriptor)
        await neocheck.close()
        #expect(try await open("backend: {kind: neocheck}\ndoor: {face_list: front}").status().faces == 1)
        #expect(try await open("backend: {kind: nec}").status().faces == 0, "the NEC door found NeoCheck's face")
    }

    /// The daemon opens its offline cache for the account it searches too: a box moved to another NEC gallery
    /// (another API key) or endpoint, restarted with the cloud away, does not let the old gallery's people in
    /// offline (a tag is only a name, and the other tenant may use the same one). Another access key (rotated)
    /// is the same account.
    @Test func theOfflineCacheIsOpenedForTheRunningAccount() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let keyPath = folder.file("cache.key")
        try OfflineCacheKey.generate(to: keyPath)
        func secret(_ name: String, _ value: String) throws -> String {
            let path = folder.file(name)
            try value.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(chmod(path, 0o600) == 0)
            return path
        }
        func open(endpoint: String, apiKey: String, accessKey: String = "AKIDEXAMPLE") async throws -> OfflineFaceCache {
            var config = try FacegateConfiguration(
                yaml: """
                    backend:
                      kind: nec
                      nec:
                        endpoint: \(endpoint)
                        access_key: file:\(try secret("access-\(accessKey)", accessKey))
                        secret_key: file:\(try secret("secret", "wJalrXUtnFEMI"))
                        api_key: file:\(try secret("api-\(apiKey)", apiKey))
                    """)
            config.liveness.enabled = false
            config.journal.path = folder.file("journal.sqlite")
            config.offlineCache.path = folder.file("cache.sqlite")
            config.offlineCache.key = .file(keyPath)
            // The real backend opened from the file (no cloud is called to open it).
            let parts = try DoorParts.open(
                config, overrides: .init(source: SynthesizedApproach(), doorLines: SimulatedDoorLines()), logger: Logger(label: "quiet"))
            await parts.close()
            return try #require(parts.cache)
        }
        let descriptor = try FaceDescriptor([Float](repeating: 0.05, count: FaceDescriptor.dimension))
        let galleryA = try await open(endpoint: "https://nec.example", apiKey: "gallery-a")
        try await galleryA.remember(subjectId: "alice", grantedUnder: ["staff"], descriptor: descriptor)
        await galleryA.close()
        let rotated = try await open(endpoint: "https://NEC.example:8443/", apiKey: "gallery-a", accessKey: "AKIDROTATED")
        #expect(try await rotated.status().faces == 1, "the same gallery, its access key rotated, through another port, keeps its faces")
        await rotated.close()
        let galleryB = try await open(endpoint: "https://nec.example", apiKey: "gallery-b")
        #expect(try await galleryB.status().faces == 0, "gallery B's door found gallery A's face")
        try await galleryB.remember(subjectId: "bob", grantedUnder: ["staff"], descriptor: descriptor)
        await galleryB.close()
        let otherEndpoint = try await open(endpoint: "https://nec-eu.example", apiKey: "gallery-b")
        #expect(try await otherEndpoint.status().faces == 0, "another endpoint's door found this one's face")
        await otherEndpoint.close()
    }

    /// At a reload, a file with no settings (truncated, or emptied by mistake) is refused: the defaults
    /// would drop the deny list, schedules and tags at once. At start-up it is the defaults.
    @Test func aReloadOfAFileWithNoSettingsIsRefused() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for text in ["", "# all commented out\n", "---\n", "~\n"] {
            let path = folder.file("facegate.yaml")
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: ConfigError.self, "\(text.debugDescription)") { try FacegateConfiguration.load(path: path, refusingAnEmptyFile: true) }
            #expect(try FacegateConfiguration.load(path: path) == FacegateConfiguration())
        }
        let path = folder.file("facegate.yaml")
        try "door: {name: lab}\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try FacegateConfiguration.load(path: path, refusingAnEmptyFile: true).door.name == "lab")
    }

    // MARK: item 16: endpoints

    @Test func plainHTTPEndpointIsRefusedUnlessOnLoopback() throws {
        for backend in ["nec", "neocheck"] {
            for refused in ["http://api.id.nec.com.au", "http://10.0.0.5:8080", "http://127.0.0.1.example.com", "http://localhost.example.com/api", "ftp://127.0.0.1"] {
                let error = try #require(problems("backend:\n  \(backend):\n    endpoint: \(refused)"), "accepted \(refused)")
                #expect(error.problems.map(\.path) == ["backend.\(backend).endpoint"])
                #expect(!error.description.contains(refused))
            }
            for accepted in [
                "https://api.id.nec.com.au", "http://127.0.0.1:8080", "http://127.42.0.9", "http://[::1]:9000/api", "http://localhost:80",
                "HTTP://LOCALHOST:80",
            ] {
                #expect(problems("backend:\n  \(backend):\n    endpoint: \"\(accepted)\"") == nil, "refused \(accepted)")
            }
        }
        let withPassword = try #require(problems("backend:\n  nec:\n    endpoint: https://me:Tr0ub4dor@api.example"))
        #expect(!withPassword.description.contains("Tr0ub4dor"))
    }

    @Test func loopbackIsParsedStrictly() {
        for host in ["127.0.0.1", "127.255.255.254", "localhost", "LocalHost", "::1", "[::1]", "0:0:0:0:0:0:0:1"] {
            #expect(CloudEndpoint.isLoopback(host: host), "\(host)")
        }
        for host in ["128.0.0.1", "10.0.0.1", "127.0.0.1.nip.io", "127.1", "::2", "::ffff:8.8.8.8", "", "example.com", "localhost.evil"] {
            #expect(!CloudEndpoint.isLoopback(host: host), "\(host)")
        }
    }
}
