import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension CLITests {
    /// `kimera shell` with piped input: no prompt, one command a line, the same bytes as the separate
    /// commands, and the exit code of the last failure.
    @Suite struct ShellPipedTests {
        @Test func pipedScriptPrintsWhatTheSeparateCommandsPrint() async throws {
            try await withCLIServer { server in
                let commands = [["debug", "log-level"], ["vault", "status"], ["debug", "log-level", "-o", "ndjson"]]
                var expected = ""
                for command in commands {
                    let result = try await server.run(command)
                    #expect(result.status == 0, "\(command): \(result.stderr)")
                    expected += result.stdout
                }
                let script = commands.map { $0.joined(separator: " ") }.joined(separator: "\n") + "\n"
                let shell = try await runShell(script, url: server.url)
                #expect(shell.status == 0, "\(shell.stderr)")
                // `vault status` carries the time it was read: compare without that line.
                func withoutTimes(_ text: String) -> String {
                    text.split(separator: "\n", omittingEmptySubsequences: false)
                        .filter { !$0.contains("\"timestamp\"") }.joined(separator: "\n")
                }
                #expect(withoutTimes(shell.stdout) == withoutTimes(expected))
                #expect(shell.stderr.isEmpty)
                #expect(!shell.stdout.contains("kimera 127.0.0.1"))
                #expect(!shell.stdout.containsEscapeCodes)
            }
        }

        @Test func pipedErrorsPrintOneLineAndTheExitCodeIsTheLastFailure() async throws {
            try await withCLIServer { server in
                let script = """
                    frobnicate now
                    logs --level LOUD
                    get /kimera/geoids/no-such-geoid
                    post /kimera/geoids '{"content": "a quoted geoid"}'
                    debug log-level
                    """
                let shell = try await runShell(script + "\n", url: server.url)
                let lines = shell.stderrLines
                #expect(lines.count == 3, "\(shell.stderr)")
                #expect(lines.first?.contains("unknown command 'frobnicate'") == true)
                #expect(lines.dropFirst().first?.contains("LOUD") == true)
                #expect(lines.last?.contains("404") == true || lines.last?.lowercased().contains("not found") == true)
                // The last command succeeded, but the exit code is the last failure's (a 4xx).
                #expect(shell.status == 4)
                #expect(shell.stdout.contains("\"modules\""))
                #expect(shell.stdout.contains("geoid"))
            }
        }

        @Test func connectMovesTheShellToAnotherServer() async throws {
            try await withCLIServer { server in
                let unused = "http://127.0.0.1:\(try unusedLoopbackPort())"
                let script = "health\nconnect \(server.url)\ndebug log-level\nhelp\n"
                let shell = try await runShell(script, url: unused)
                #expect(shell.stderrLines.count == 1, "\(shell.stderr)")
                #expect(shell.status == 3)
                #expect(shell.stdout.contains("\"modules\""))
                #expect(shell.stdout.contains("connect URL"))
                #expect(shell.stdout.contains("logs "))
            }
        }

        @Test func exitEndsThePipedScript() async throws {
            try await withCLIServer { server in
                let shell = try await runShell("get /health\nexit\nhealth\n", url: server.url)
                #expect(shell.status == 0)
                #expect(shell.stdout.contains("\"status\""))
                #expect(!shell.stdout.contains("\"ready\""))
            }
        }
    }

    /// `kimera shell` in a real terminal (tmux): prompt, output, TAB completion, history, Ctrl-C, Ctrl-D.
    @Suite(.enabled(if: Tmux.path != nil, "needs tmux (apt-get install tmux)"))
    struct ShellTerminalTests {
        @Test func shellCompletesRunsRecoversAndKeepsHistory() async throws {
            try await withCLIServer { server in
                let history = temporaryDirectory("kimera-shell-history").appendingPathComponent("history")
                defer { try? FileManager.default.removeItem(at: history.deletingLastPathComponent()) }
                let host = server.url.replacingOccurrences(of: "http://", with: "")
                let prompt = "kimera \(host) ["
                func prompts(_ screen: String) -> Int { screen.components(separatedBy: prompt).count - 1 }

                let tmux = Tmux()
                defer { tmux.stop() }
                // A full history from earlier sessions: the oldest lines give way to the new ones.
                let earlier = (1...1000).map { "old \($0)" }
                try FileManager.default.createDirectory(
                    at: history.deletingLastPathComponent(), withIntermediateDirectories: true)
                try (earlier.joined(separator: "\n") + "\n").write(to: history, atomically: true, encoding: .utf8)
                try await tmux.start(width: 120, height: 40)
                try await tmux.type("PS1='READY$ '; clear")
                try await tmux.type("KIMERA_HISTORY=\(history.path) \(CLIBinary.path) shell --url \(server.url)")
                try await expectScreen(tmux) { prompts($0) == 1 }

                // Up recalls the last line of the history file.
                try await tmux.keys("Up")
                try await expectScreen(tmux) { $0.contains("]> old 1000\n") }
                try await tmux.keys("C-u")
                try await expectScreen(tmux) { !$0.contains("old 1000") }

                // A command's output appears, then a fresh prompt.
                try await tmux.type("health")
                try await expectScreen(tmux) { $0.contains("healthy") && prompts($0) == 2 }

                // TAB completes a partial command name (tmux drops the trailing space from the screen).
                try await tmux.run(["send-keys", "-t", "cli", "-l", "vau"])
                try await tmux.keys("Tab")
                try await expectScreen(tmux) { $0.contains("]> vault\n") }
                try await tmux.run(["send-keys", "-t", "cli", "-l", "sta"])
                try await tmux.keys("Tab")
                try await expectScreen(tmux) { $0.contains("]> vault status\n") }
                try await tmux.keys("Enter")
                try await expectScreen(tmux) { prompts($0) == 3 }

                // TAB completes a module name fetched from the server.
                let module = try await server.client.logLevels().modules.map(\.module).max { $0.count < $1.count }
                let name = try #require(module)
                try await tmux.keys("C-l")
                try await tmux.run([
                    "send-keys", "-t", "cli", "-l", "logs --limit 1 --module \(name.prefix(name.count - 2))",
                ])
                try await tmux.keys("Tab")
                try await expectScreen(tmux) { $0.contains("--module \(name)\n") }
                try await tmux.keys("Enter")
                try await expectScreen(tmux) { prompts($0) == 2 }

                // An unknown command prints one line and the shell goes on.
                try await tmux.keys("C-l")
                try await tmux.type("frobnicate")
                try await expectScreen(tmux) { $0.contains("unknown command 'frobnicate'") && prompts($0) == 2 }

                // Ctrl-C stops a follow and the prompt returns; the shell still works.
                try await tmux.keys("C-l")
                try await tmux.type("logs -f")
                try await Task.sleep(for: .milliseconds(800))
                #expect(prompts(try await tmux.screen()) == 1)
                try await tmux.keys("C-c")
                try await expectScreen(tmux) { prompts($0) == 2 }
                try await tmux.type("health")
                try await expectScreen(tmux) { $0.contains("healthy") && prompts($0) == 3 }

                // A line with a token is run but never kept.
                try await tmux.keys("C-l")
                try await tmux.type("health --token shell-history-secret-42")
                try await expectScreen(tmux) { $0.contains("healthy") && prompts($0) == 2 }

                // The prompt follows a mode change.
                try await tmux.type("debug mode on")
                try await expectScreen(tmux) { $0.contains("\(prompt)debug") }

                // Ctrl-D exits 0 and the history file holds the lines.
                try await tmux.keys("C-d")
                try await tmux.type("echo exit=$?")
                try await expectScreen(tmux) { $0.contains("exit=0") }
                let lines = try String(contentsOf: history, encoding: .utf8).split(separator: "\n").map(String.init)
                #expect(lines.contains("health"))
                #expect(lines.contains("vault status"))
                #expect(lines.contains("frobnicate"))
                #expect(lines.contains("logs -f"))
                #expect(lines.last == "debug mode on")
                #expect(lines.count == 1000)
                #expect(lines.first == "old 8")
                #expect(!lines.contains { $0.contains("shell-history-secret-42") })
                // Readable by its owner alone.
                let mode = try FileManager.default.attributesOfItem(atPath: history.path)[.posixPermissions] as? Int
                #expect(mode == 0o600)
            }
        }

        /// TAB offers the saved contexts after `connect`, `context use` and `--context`.
        @Test func shellCompletesContextNames() async throws {
            try await withCLIServer { server in
                let home = temporaryDirectory("kimera-xdg")
                defer { try? FileManager.default.removeItem(at: home) }
                let added = try await runCLI(
                    ["context", "add", "production-east", "--url", server.url],
                    environment: ["XDG_CONFIG_HOME": home.path])
                #expect(added.status == 0, "\(added.stderr)")
                let tmux = Tmux()
                defer { tmux.stop() }
                try await tmux.start(width: 120, height: 40)
                try await tmux.type("PS1='READY$ '; clear")
                try await tmux.type("XDG_CONFIG_HOME=\(home.path) \(CLIBinary.path) shell --url \(server.url)")
                try await expectScreen(tmux) { $0.contains("[performance]>") }
                for (typed, completed) in [
                    ("context use prod", "context use production-east"), ("connect produ", "connect production-east"),
                    ("health --context production-e", "health --context production-east"),
                ] {
                    try await tmux.run(["send-keys", "-t", "cli", "-l", typed])
                    try await tmux.keys("Tab")
                    try await expectScreen(tmux) { $0.contains("]> \(completed)\n") }
                    try await tmux.keys("C-u")
                    try await expectScreen(tmux) { !$0.contains(completed) }
                }
                try await tmux.keys("C-d")
                try await tmux.type("echo exit=$?")
                try await expectScreen(tmux) { $0.contains("exit=0") }
            }
        }
    }
}

/// Waits (bounded) for the screen to satisfy `condition`; a failure shows the screen.
func expectScreen(
    _ tmux: Tmux, sourceLocation: SourceLocation = #_sourceLocation, _ condition: (String) -> Bool
) async throws {
    let held = try await tmux.waitFor(condition)
    let screen = try await tmux.screen()
    #expect(held, "screen:\n\(screen)", sourceLocation: sourceLocation)
}

/// Runs `kimera shell` with `script` on its stdin (a pipe), against `url`.
func runShell(_ script: String, url: String, timeout: Duration = .seconds(30)) async throws -> CLIResult {
    try await runFeeding(
        script, to: CLIBinary.path, ["shell", "--url", url], environment: cleanEnvironment(), timeout: timeout)
}
