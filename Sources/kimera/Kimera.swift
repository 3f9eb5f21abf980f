import ArgumentParser

/// `kimera`: the hybrid server and its operator command line.
@main
struct Kimera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kimera",
        abstract: "The Kimera hybrid server and its operator command line.",
        discussion: """
            Start the server with `kimera serve`; every other command is a client of its HTTP API.

            Exit codes:
              0    success
              1    other failure
              2    timeout
              3    server unreachable (connection refused, DNS)
              4    the server answered 4xx (message printed from the error body)
              5    the server answered 5xx
              64   usage error (bad flag or value)
              130  interrupted
            """,
        version: KimeraVersionText.current,
        subcommands: [Serve.self]
    )
}

enum KimeraVersionText {
    static let current = "0.1.0"
}
