import FacegateApp
import FacegateLiveness
import FacegateQuality
import FacegateCore
import Foundation
import Testing

/// The unit, the set-up script and the udev rule agree, so the unit starts on a stock Debian box
/// (which has no gpio group: systemd refuses a unit whose SupplementaryGroups= does not exist).
@Suite(.timeLimit(.minutes(5)))
struct InstallFilesTests {
    static let root = ConfigurationTests.packageRoot

    func text(_ path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func everyGroupTheUnitJoinsExistsOnDebianOrIsCreatedBySetup() throws {
        let unit = try text("systemd/facegate.service")
        let setup = try text("scripts/setup")
        let groups = unit.split(separator: "\n").filter { $0.hasPrefix("SupplementaryGroups=") }
            .flatMap { $0.dropFirst("SupplementaryGroups=".count).split(separator: " ").map(String.init) }
        #expect(groups.contains("gpio"))
        // Groups in Debian's base-passwd; anything else must be created by scripts/setup.
        let debianGroups: Set<String> = ["video", "audio", "dialout", "plugdev"]
        for group in groups where !debianGroups.contains(group) {
            #expect(setup.contains("groupadd --system \(group)"), "scripts/setup does not create the group \(group)")
        }
    }

    /// After every stop, kill -9 included, the relay is driven to rest (`facegate door rest`): some chips
    /// keep driving a freed output at its last level. The package's unit keeps it (scripts/package checks).
    @Test func theUnitRestsTheRelayAfterEveryStop() throws {
        let unit = try text("systemd/facegate.service")
        #expect(unit.contains("\nExecStopPost=-/usr/local/bin/facegate door rest --config /etc/facegate/facegate.yaml\n"))
        let package = try text("scripts/package")
        #expect(package.contains("'ExecStopPost=-/usr/bin/facegate door rest'"))
    }

    /// scripts/setup installs the presentation-attack models where facegate then looks: the folder
    /// `$FACEGATE_PAD_MODELS` names (the variable facegate reads), else the first installed default.
    /// Only the script's one assignment is run here, by bash, never the script.
    @Test func setupInstallsThePADModelsWhereFacegateLooksForThem() throws {
        let named = "/srv/facegate-pad"
        #expect(try setupFolder("pad_dir", environment: ["FACEGATE_PAD_MODELS": named]) == named)
        #expect(PADModels.defaultSearchPath(environment: ["FACEGATE_PAD_MODELS": named]).first == named)
        let installed = try setupFolder("pad_dir", environment: [:])
        #expect(PADModels.defaultSearchPath(environment: [:]).dropFirst().first == installed, "setup installs to \(installed)")
    }

    /// The folder `scripts/setup` gives its `variable` in `environment`: its assignment line run alone in bash.
    func setupFolder(_ variable: String, environment: [String: String]) throws -> String {
        let setup = try text("scripts/setup")
        let assignment = try #require(setup.split(separator: "\n").first { $0.hasPrefix("\(variable)=") }, "no \(variable)= in scripts/setup")
        let bash = Process()
        bash.executableURL = URL(fileURLWithPath: "/bin/bash")
        bash.arguments = ["-c", "\(assignment); printf %s \"$\(variable)\""]
        bash.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a }
        let out = Pipe()
        bash.standardOutput = out
        try bash.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        bash.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The same for the dlib face models: setup installs them where `FACEGATE_MODELS` says, the variable
    /// facegate reads, and by default to the folder facegate searches first after it.
    @Test func setupInstallsTheFaceModelsWhereFacegateLooksForThem() throws {
        let named = "/srv/facegate-models"
        #expect(try setupFolder("models_dir", environment: ["FACEGATE_MODELS": named]) == named)
        #expect(FaceModels.defaultSearchPath(environment: ["FACEGATE_MODELS": named]).first == named)
        let installed = try setupFolder("models_dir", environment: [:])
        #expect(FaceModels.defaultSearchPath(environment: [:]).first == installed, "setup installs to \(installed)")
    }

    @Test func udevRuleGivesTheGPIOGroupTheChipsAndSetupInstallsIt() throws {
        let rule = try text("etc/udev/60-facegate-gpio.rules")
        let active = rule.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        #expect(active == [#"SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660""#])
        let setup = try text("scripts/setup")
        #expect(setup.contains("udev_rule=60-facegate-gpio.rules"))
        #expect(setup.contains(#"install -D -m 0644 "$repo/etc/udev/$udev_rule" "/etc/udev/rules.d/$udev_rule""#))
        // The unit must still allow the chip's device class, or the group would not help.
        let unit = try text("systemd/facegate.service")
        #expect(unit.contains("DevicePolicy=closed") && unit.contains("DeviceAllow=char-gpiochip rw"))
    }
}

/// `config check` refuses a `credential:` name the unit does not load (`SecretFiles.unitCredentialNames`):
/// the list and the unit's `LoadCredential=` lines must not drift apart.
@Suite(.timeLimit(.minutes(1)))
struct UnitCredentialsTests {
    @Test func theUnitLoadsExactlyTheCredentialsTheCheckAllows() throws {
        let unit = try String(contentsOf: InstallFilesTests.root.appendingPathComponent("systemd/facegate.service"), encoding: .utf8)
        let loaded = unit.split(separator: "\n").filter { $0.hasPrefix("LoadCredential=") }.map { line in
            line.dropFirst("LoadCredential=".count).split(separator: ":", maxSplits: 1).map(String.init)
        }
        let names = loaded.map { $0[0] }
        #expect(names.sorted() == FacegateApp.SecretFiles.unitCredentialNames.sorted(), "the unit loads \(names)")
        // Each from the credentials folder under its own name, as postinst and the README tell installers.
        for entry in loaded {
            #expect(entry.count == 2 && entry[1] == "/etc/facegate/credentials/\(entry[0])", "\(entry)")
        }
        // Each with the placeholder systemd hands over when its file is missing, which facegate refuses by
        // key where it is used: systemd 252 would not start the unit without every file (review).
        for name in names {
            #expect(unit.contains("\nSetCredential=\(name):\(UnitCredential.missingFilePlaceholder)\n"), "\(name)")
        }
    }
}
