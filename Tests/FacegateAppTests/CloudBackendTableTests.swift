import FacegateApp
import FacegateCore
import Testing

/// The backend table is the one place a backend is named: the reader, the policy's scale, `config check`
/// and equality all go through it, and a kind it does not list is refused, never read as another.
@Suite(.timeLimit(.minutes(5)))
struct CloudBackendTableTests {
    @Test func aKindNotInTheTableIsRefusedNamingEveryListedOne() throws {
        #expect(BackendKind(rawValue: "wiegand") == nil)
        #expect(BackendKind(rawValue: "nec") == .nec)
        #expect(BackendKind(rawValue: "neocheck") == .neocheck)
        do {
            _ = try FacegateConfiguration(yaml: "backend:\n  kind: wiegand\n")
            Issue.record("an unknown backend kind was accepted")
        } catch {
            let problem = try #require(error.problems.first { $0.path == "backend.kind" })
            #expect(problem.message == "must be one of nec, neocheck")
        }
    }

    @Test func theChosenBackendSetsTheScaleAndItsDefaultThreshold() throws {
        let nec = try FacegateConfiguration(yaml: "backend:\n  kind: nec\n").doorPolicy
        #expect(nec.scoreUnit == .necScore && nec.threshold == 7000)
        let neoCheck = try FacegateConfiguration(yaml: "backend:\n  kind: neocheck\n").doorPolicy
        #expect(neoCheck.scoreUnit == .neoCheckConfidence && neoCheck.threshold == 80)
        // Each backend checks the threshold on its own scale.
        #expect(throws: ConfigError.self) { try FacegateConfiguration(yaml: "backend:\n  kind: neocheck\ndoor:\n  threshold: 7000\n") }
        #expect(throws: ConfigError.self) { try FacegateConfiguration(yaml: "backend:\n  kind: nec\ndoor:\n  threshold: 80\n") }
    }

    @Test func everySectionIsReadAndCheckedWhicheverIsChosen() throws {
        let yaml = """
            backend:
              kind: neocheck
              nec:
                region: eu-west-1
              neocheck:
                client_id: door-7
                username: installer
                calls_per_hour: 1200
                budget_state: /var/lib/facegate/b.json
            """
        let configuration = try FacegateConfiguration(yaml: yaml)
        #expect(configuration.backend.kind == .neocheck)
        #expect(configuration.backend.nec.region == "eu-west-1")
        #expect(configuration.backend.neoCheck.clientId == "door-7" && configuration.backend.neoCheck.username == "installer")
        #expect(configuration.backend.neoCheck.callsPerHour == 1200)
        #expect(configuration.backend.neoCheck.budgetStatePath == "/var/lib/facegate/b.json")
        // A typo in the section not chosen is still a typo.
        do {
            _ = try FacegateConfiguration(yaml: "backend:\n  kind: neocheck\n  nec:\n    regoin: eu-west-1\n")
            Issue.record("an unknown key in the other backend's section was accepted")
        } catch {
            #expect(error.problems.map(\.path) == ["backend.nec.regoin"])
        }
    }

    @Test func configCheckAsksForTheChosenBackendsSettingsOnly() {
        var configuration = FacegateConfiguration()
        configuration.backend.kind = .neocheck
        let problems = Set(configuration.environmentProblems(environment: [:]).map(\.path))
        for key in ["backend.neocheck.client_id", "backend.neocheck.username", "backend.neocheck.client_secret", "backend.neocheck.password"] {
            #expect(problems.contains(key), "\(key) not reported: \(problems)")
        }
        #expect(!problems.contains { $0.hasPrefix("backend.nec.") }, "\(problems)")
    }

    /// A quoted empty value is none (review: `client_id: ""` passed `config check`, and postinst started a
    /// door whose every sign-in failed); an empty NEC region is refused.
    @Test func emptyAccountValuesAreAskedFor() throws {
        let neoCheck = try FacegateConfiguration(yaml: "backend:\n  kind: neocheck\n  neocheck:\n    client_id: \"\"\n    username: \" \"\n")
        let problems = Set(neoCheck.environmentProblems(environment: [:]).map(\.path))
        #expect(problems.isSuperset(of: ["backend.neocheck.client_id", "backend.neocheck.username"]), "\(problems)")
        do {
            _ = try FacegateConfiguration(yaml: "backend:\n  nec:\n    region: \"\"\n")
            Issue.record("an empty region was accepted")
        } catch {
            #expect(error.problems.map(\.path) == ["backend.nec.region"])
        }
    }

    @Test func configurationsDifferingOnlyInABackendSectionAreNotEqual() {
        let defaults = FacegateConfiguration()
        var changed = defaults
        changed.backend.neoCheck.callsPerHour = 60
        #expect(changed != defaults)
        changed.backend.neoCheck.callsPerHour = defaults.backend.neoCheck.callsPerHour
        #expect(changed == defaults)
        changed.backend.nec.apiKey = .credential("other")
        #expect(changed != defaults)
    }

    @Test func eachBackendChecksTheDoorsSearchScopeAndRefusesTheOthersKey() throws {
        func problemPaths(_ yaml: String) -> [String] {
            do {
                _ = try FacegateConfiguration(yaml: yaml)
                return []
            } catch {
                return error.problems.map(\.path)
            }
        }
        let sixtyFive = "[" + (1...65).map { "t\($0)" }.joined(separator: ", ") + "]"
        let sixtyFour = "[" + (1...64).map { "t\($0)" }.joined(separator: ", ") + "]"
        // NEC ID: at most 64 tags, and no face list (it has none: the door would search everyone).
        #expect(problemPaths("backend: {kind: nec}\ndoor: {tags: \(sixtyFive)}") == ["door.tags"])
        #expect(problemPaths("backend: {kind: nec}\ndoor: {tags: \(sixtyFour)}") == [])
        #expect(problemPaths("backend: {kind: nec}\ndoor: {tags: [staff], face_list: staff}") == ["door.face_list"])
        // NeoCheck: its face list narrows the search; tags would be ignored, so they are refused.
        #expect(problemPaths("backend: {kind: neocheck}\ndoor: {face_list: staff}") == [])
        #expect(problemPaths("backend: {kind: neocheck}\ndoor: {face_list: staff, tags: [staff]}") == ["door.tags"])
        #expect(problemPaths("backend: {kind: neocheck}\ndoor: {tags: \(sixtyFive)}") == ["door.tags"])
    }
}
