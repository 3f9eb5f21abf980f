import ArgumentParser
import Dispatch
import Foundation
import KimeraClient
import Synchronization

/// The exit codes of docs/CLI.md, decided in one place for every command.
enum CLIExit: Error, Equatable {
    case failure(String)
    case timeout(String)
    case unreachable(String)
    case clientError(String)
    case serverError(String)
    case usage(String)
    case interrupted

    var code: Int32 {
        switch self {
        case .failure: return 1
        case .timeout: return 2
        case .unreachable: return 3
        case .clientError: return 4
        case .serverError: return 5
        case .usage: return 64
        case .interrupted: return 130
        }
    }

    /// The one line printed on stderr before exiting; nil for an interrupt.
    var message: String? {
        switch self {
        case .failure(let text), .timeout(let text), .unreachable(let text), .clientError(let text),
            .serverError(let text), .usage(let text):
            return text
        case .interrupted:
            return nil
        }
    }

    /// The exit for any error a command may throw.
    static func from(_ error: any Error) -> CLIExit {
        if let exit = error as? CLIExit { return exit }
        if error is CancellationError { return .interrupted }
        if let error = error as? ValidationError { return .usage(error.message) }
        guard let error = error as? ClientError else { return .failure("\(error)") }
        switch error {
        case .invalidURL: return .usage(error.message)
        case .timeout: return .timeout(error.message)
        case .unreachable: return .unreachable(error.message)
        case .cancelled: return .interrupted
        case .status(let code, _, _): return code >= 500 ? .serverError(error.message) : .clientError(error.message)
        case .undecodable, .transport: return .failure(error.message)
        }
    }
}

/// What a command runs against: the server's client and where to print.
struct CommandContext: Sendable {
    var client: KimeraClient
    var output: Output
}

/// A subcommand that talks to the server. Its work lives in `perform(in:)`, which only uses the
/// context it is given, so `kimera shell` can run the same command with its own connection and output.
protocol ClientCommand: AsyncParsableCommand, Sendable {
    var global: GlobalOptions { get }
    func perform(in context: CommandContext) async throws
}

extension ClientCommand {
    func run() async throws {
        let output = global.makeOutput()
        let transport = KimeraTransport()
        let client: KimeraClient
        do {
            client = try global.makeClient(transport: transport)
        } catch {
            await transport.shutdown()
            throw CommandRunner.exit(CLIExit.from(error), output: output)
        }
        let context = CommandContext(client: client, output: output)
        let command = self
        let outcome = await CommandRunner.interruptible { try await command.perform(in: context) }
        await transport.shutdown()
        if let exit = outcome { throw CommandRunner.exit(exit, output: output) }
    }
}

enum CommandRunner {
    /// Prints the exit's message and returns the ArgumentParser exit code to throw.
    static func exit(_ exit: CLIExit, output: Output) -> ExitCode {
        if let message = exit.message { output.notice(message) }
        return ExitCode(exit.code)
    }

    /// Runs `work` in a task that SIGINT and SIGTERM cancel; a second signal exits at once. Returns nil
    /// on success, else how the command ended.
    static func interruptible(_ work: @escaping @Sendable () async throws -> Void) async -> CLIExit? {
        let task = Task { try await work() }
        let watcher = SignalWatcher(signals: [SIGINT, SIGTERM]) { task.cancel() }
        let result = await task.result
        let signalled = watcher.stop()
        switch result {
        case .success:
            return signalled ? .interrupted : nil
        case .failure(let error):
            return signalled ? .interrupted : CLIExit.from(error)
        }
    }
}

/// Turns SIGINT/SIGTERM into a call of `handler` (once) instead of killing the process, so a command
/// can restore the terminal and close its connections; a second signal exits with 130 at once.
final class SignalWatcher {
    private let sources: [any DispatchSourceSignal]
    private let signals: [Int32]
    private let arrivals = Arrivals()

    /// How many signals arrived, counted on dispatch's queue and read by the command's task.
    private final class Arrivals: Sendable {
        let count = Atomic<Int>(0)
    }

    init(signals: [Int32], handler: @escaping @Sendable () -> Void) {
        self.signals = signals
        for number in signals { signal(number, SIG_IGN) }
        let arrivals = self.arrivals
        sources = signals.map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let seen = arrivals.count.wrappingAdd(1, ordering: .relaxed).newValue
                if seen == 1 { handler() } else { Foundation.exit(130) }
            }
            source.resume()
            return source
        }
    }

    /// Stops watching and restores the default actions; returns whether a signal arrived.
    func stop() -> Bool {
        for source in sources { source.cancel() }
        for number in signals { signal(number, SIG_DFL) }
        return arrivals.count.load(ordering: .relaxed) > 0
    }
}

/// A dispatch source handed to its own event handler (to cancel itself). `@unchecked` is sound:
/// libdispatch's source operations (`cancel`, `resume`, setting handlers) are thread-safe; the type
/// merely does not declare `Sendable`.
struct DispatchSourceReference: @unchecked Sendable {
    let source: any DispatchSourceProtocol
}
