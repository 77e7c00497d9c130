import ArgumentParser

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the version (the same as --version).")

    func run() {
        Console.write("\(Locktop.version)\n")
    }
}
