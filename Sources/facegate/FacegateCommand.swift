import ArgumentParser

@main
struct FacegateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facegate",
        abstract: "Face-recognition access control for a door: camera, local face quality, cloud search, relay.",
        subcommands: [
            FacesCommand.self, BestCommand.self, DemoCommand.self, ConfigCommand.self, NECCommand.self, NeoCheckCommand.self,
            LogCommand.self, CacheCommand.self, CameraCommand.self, DoorCommand.self, RunCommand.self, StatusCommand.self, LivenessCommand.self, EnrolCommand.self,
        ]
    )
}
