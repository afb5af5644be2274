import ArgumentParser

@main
struct EmulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facegate-emulator",
        abstract: "Runs a faithful stand-in for a cloud face-search service on loopback, for tests and demos.",
        subcommands: [NECEmulatorCommand.self, NeoCheckEmulatorCommand.self]
    )
}
