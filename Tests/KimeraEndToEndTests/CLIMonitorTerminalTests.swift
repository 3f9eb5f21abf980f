import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension CLITests {
    /// `kimera monitor` in a real terminal (tmux, when installed): it takes the alternate screen, draws
    /// within 80×24, and `q` gives the shell prompt and the previous screen back.
    @Suite(.enabled(if: Tmux.path != nil, "needs tmux"))
    struct CLIMonitorTerminalTests {
        @Test func monitorDrawsInPlaceAndQuitRestoresTheScreen() async throws {
            try await withCLIServer { server in
                let tmux = Tmux()
                defer { tmux.stop() }
                try await tmux.start(width: 80, height: 24)
                try await tmux.type("PS1='READY$ '; clear; echo before-monitor")
                #expect(try await tmux.waitFor { $0.contains("before-monitor") })

                try await tmux.type("\(CLIBinary.path) monitor --url \(server.url) --interval 200ms")
                let drawn = try await tmux.waitFor { $0.contains("ENDPOINT") && $0.contains("/debug/info") }
                let screen = try await tmux.screen()
                #expect(drawn, "\(screen)")
                #expect(try await tmux.query("#{alternate_on}") == "1")
                #expect(try await tmux.query("#{cursor_flag}") == "0")
                let lines = screen.dropLast(screen.hasSuffix("\n") ? 1 : 0).split(
                    separator: "\n", omittingEmptySubsequences: false)
                #expect(lines.count <= 24)
                #expect(lines.allSatisfy { $0.count <= 80 })
                #expect(lines.first?.hasPrefix("Kimera monitor") == true)
                #expect(screen.contains("q quit"))

                try await tmux.keys("q")
                let restored = try await tmux.waitFor { $0.contains("before-monitor") && !$0.contains("ENDPOINT") }
                let after = try await tmux.screen()
                #expect(restored, "\(after)")
                #expect(try await tmux.query("#{alternate_on}") == "0")
                #expect(try await tmux.query("#{cursor_flag}") == "1")
                try await tmux.type("echo exit=$?")
                #expect(try await tmux.waitFor { $0.contains("exit=0") })

                // Ctrl-C also restores the terminal, exiting 130.
                try await tmux.type("clear; \(CLIBinary.path) monitor --url \(server.url)")
                #expect(try await tmux.waitFor { $0.contains("ENDPOINT") })
                try await tmux.keys("C-c")
                #expect(try await tmux.waitFor { !$0.contains("ENDPOINT") })
                #expect(try await tmux.query("#{alternate_on}") == "0")
                try await tmux.type("echo exit=$?; stty -a | grep -o -- '-*icanon'")
                let final = try await tmux.waitFor { $0.contains("exit=130") && $0.contains("icanon") }
                let text = try await tmux.screen()
                #expect(final, "\(text)")
                #expect(!text.contains("-icanon"))
            }
        }

        /// With several `--url`s, the live frame has a row per instance under "Instances": each server that
        /// answers with its request rate, the one that does not as DOWN, and the frame still fits the terminal.
        @Test func monitorOfSeveralServersShowsARowPerInstance() async throws {
            try await CLIFleetTests.withServers(2) { servers in
                let downPort = try unusedLoopbackPort()
                let tmux = Tmux()
                defer { tmux.stop() }
                try await tmux.start(width: 120, height: 40)
                try await tmux.type("PS1='READY$ '; clear")
                let urls = servers.map { "--url \($0.baseURL)" }.joined(separator: " ")
                try await tmux.type(
                    "\(CLIBinary.path) monitor \(urls) --url http://127.0.0.1:\(downPort) --interval 200ms")
                let names = servers.map { "127.0.0.1:\($0.port)" }
                let drawn = try await tmux.waitFor { screen in
                    let lines = screen.split(separator: "\n")
                    return lines.contains { $0.hasPrefix("Instances") }
                        && names.allSatisfy { name in lines.contains { $0.hasPrefix(name) && $0.contains("req/s") } }
                        && lines.contains { $0.hasPrefix("127.0.0.1:\(downPort)") && $0.contains("DOWN") }
                }
                let screen = try await tmux.screen()
                #expect(drawn, "\(screen)")
                #expect(screen.contains("3 instances"), "\(screen)")
                #expect(try await tmux.query("#{alternate_on}") == "1")
                let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
                #expect(lines.allSatisfy { $0.count <= 120 })
                try await tmux.keys("q")
                #expect(try await tmux.waitFor { !$0.contains("Instances") })
                try await tmux.type("echo exit=$?")
                // One instance was down: the monitor's exit code says so, as `monitor --once` does.
                let exited = try await tmux.waitFor { $0.contains("exit=") }
                #expect(exited)
            }
        }
    }
}

/// A private tmux server with one 80×24 session running `sh`.
struct Tmux {
    static let path = ["/usr/bin/tmux", "/usr/local/bin/tmux", "/opt/homebrew/bin/tmux"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    let socket = "kimera-cli-test-\(UUID().uuidString.prefix(8))"

    @discardableResult
    func run(_ arguments: [String]) async throws -> String {
        let process = try CLIProcess(
            ["-L", socket] + arguments, environment: ["TERM": "xterm-256color"], executable: Tmux.path ?? "tmux")
        let result = await process.finish(timeout: .seconds(10))
        guard result.status == 0 else { throw CLITestError("tmux \(arguments): \(result.stderr)") }
        return result.stdout
    }

    /// Starts the tmux server and its session. The server outlives this call, so it is spawned without
    /// Foundation's `Process` (whose exit detection waits on a descriptor the daemon would inherit), with
    /// no descriptor but /dev/null, and with default signal handling (this process blocks signals
    /// on its threads, which the shell in the pane would inherit).
    func start(width: Int, height: Int) async throws {
        let arguments = [
            Tmux.path ?? "tmux", "-L", socket, "new-session", "-d", "-s", "cli", "-x", String(width), "-y",
            String(height), "/bin/sh",
        ]
        let environment = cleanEnvironment().merging(["TERM": "xterm-256color"]) { $1 }.map { "\($0.key)=\($0.value)" }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // glibc ≥ 2.34 has it, but its header hides it from Swift without _GNU_SOURCE.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else {
            throw CLITestError("posix_spawn_file_actions_addclosefrom_np is missing")
        }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        guard posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp) == 0 else {
            throw CLITestError("cannot spawn tmux")
        }
        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(10)
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard ContinuousClock.now < deadline else {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw CLITestError("tmux new-session did not return")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        guard status == 0 else { throw CLITestError("tmux new-session failed (\(status))") }
    }

    /// Types a line and presses Enter.
    func type(_ line: String) async throws {
        try await run(["send-keys", "-t", "cli", "-l", line])
        try await run(["send-keys", "-t", "cli", "Enter"])
    }

    func keys(_ keys: String) async throws {
        try await run(["send-keys", "-t", "cli", keys])
    }

    func screen() async throws -> String {
        try await run(["capture-pane", "-p", "-t", "cli"])
    }

    func query(_ format: String) async throws -> String {
        try await run(["display-message", "-p", "-t", "cli", format]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Polls the screen (at most 10 s) until `condition` holds.
    func waitFor(_ condition: (String) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if condition(try await screen()) { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return condition(try await screen())
    }

    func stop() {
        guard let path = Tmux.path else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-L", socket, "kill-server"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
        process.waitUntilExit()
    }
}
