import Foundation
import KimeraModels
import Testing

/// What a newcomer tripped on in the first ten minutes (issue 27), each against the real binary.
@Suite("A newcomer's first ten minutes")
struct NewcomerTests {
    @Test("a module level can be cleared: DELETE /debug/log-level and debug log-level --unset")
    func unsetALevel() async throws {
        try await withCLIServer { server in
            let set = try await http(.POST, server.url + "/debug/log-level?level=DEBUG&module=kimera.core")
            #expect(set.status == 200)
            let cleared = try await http(.DELETE, server.url + "/debug/log-level?module=kimera.core")
            #expect(cleared.status == 200)
            #expect(cleared.object["previous"] as? String == "DEBUG")
            #expect(cleared.object["level"] as? String == "WARNING")
            let levels = try await server.client.logLevels()
            #expect(levels.modules.first { $0.module == "kimera.core" }?.configured == nil)

            _ = try await http(.POST, server.url + "/debug/log-level?level=ERROR&module=kimera.vault")
            let unset = try await server.run(["debug", "log-level", "--unset", "--module", "kimera.vault"])
            #expect(unset.status == 0, "\(unset.stderr)")
            #expect(unset.stdout.contains("kimera.vault"))
            let after = try await server.client.logLevels()
            #expect(after.modules.first { $0.module == "kimera.vault" }?.configured == nil)
            // The root level returns to the mode's default.
            _ = try await http(.POST, server.url + "/debug/log-level?level=ERROR")
            let root = try await http(.DELETE, server.url + "/debug/log-level")
            #expect(root.object["module"] as? String == "root" && root.object["level"] as? String == "WARNING")
        }
    }

    @Test("HEAD is answered on every GET route, without a body")
    func headAndContinue() async throws {
        try await withCLIServer { server in
            for path in ["/health", "/ready", "/", "/debug/info", "/openapi.json"] {
                let head = try await http(.HEAD, server.url + path)
                #expect(head.status == 200, "\(path)")
                #expect(head.body.isEmpty, "\(path)")
            }
        }
    }

    @Test("usage mistakes are named: --limit -1, an empty geoid id, a log file that cannot be written")
    func mistakesAreNamed() async throws {
        try await withCLIServer { server in
            let negative = try await server.run(["logs", "--limit", "-1"])
            #expect(negative.status == 64)
            #expect(negative.stderr.contains("--limit must be a positive integer"))
            for command in ["get", "delete"] {
                let empty = try await server.run(["geoids", command, ""])
                #expect(empty.status == 64, "\(command)")
                #expect(empty.stderr.contains("geoid id is empty"), "\(command)")
            }
            // The positional text, as --content.
            let created = try await server.run(["geoids", "create", "the sky is blue", "-o", "json"])
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stdout.contains("\"sky\""))
        }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let unwritable = try await runKimera([
            "serve", "--port", "0", "--data-dir", directory.path, "--log-file", "/proc/nope/x",
        ])
        #expect(unwritable.status == 1)
        #expect(unwritable.stderr.contains("/proc/nope/x"))
    }

    @Test("--limit over several servers is of the merged list")
    func limitOverAFleet() async throws {
        try await withCLIServer { first in
            try await withCLIServer { second in
                for server in [first, second] {
                    for _ in 0..<5 { _ = try await http(.POST, server.url + "/debug/mode?enabled=false") }
                }
                let result = try await runCLI([
                    "logs", "--limit", "3", "-o", "ndjson", "--url", first.url, "--url", second.url,
                ])
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stdout.split(separator: "\n").count == 3)
            }
        }
    }

    @Test("messages a person can read: https to a plain server, a bad config file, the banner's console level")
    func readableMessages() async throws {
        try await withCLIServer { server in
            let tls = try await runCLI(["health", "--url", server.url.replacingOccurrences(of: "http:", with: "https:")])
            #expect(tls.status != 0)
            #expect(tls.stderr.contains("use http://"), "\(tls.stderr)")
            #expect(!tls.stderr.contains("BoringSSL") && !tls.stderr.contains(".build"))
        }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bad = directory.appendingPathComponent("bad.json")
        try "{bad".write(to: bad, atomically: true, encoding: .utf8)
        let refused = try await runKimera(["serve", "--port", "0", "--config", bad.path])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("is not valid JSON") && !refused.stderr.contains("NSCocoaErrorDomain"))

        let config = directory.appendingPathComponent("info.json")
        try #"{"logging": {"level": "INFO"}}"#.write(to: config, atomically: true, encoding: .utf8)
        let server = try await ServerProcess.start(["--config", config.path])
        #expect(server.stderr.contents.contains("console INFO (logging.level)"))
        #expect(!server.stderr.contents.contains("console WARNING"))
        #expect(await server.stop() == 0)
    }

    @Test("expected events of a drain and a second signal are not ERRORs")
    func drainIsNotAnError() async throws {
        let server = try await ServerProcess.start(["--debug", "--drain", "3s"])
        defer { try? FileManager.default.removeItem(at: server.dataDirectory) }
        kill(server.process.processIdentifier, SIGTERM)
        #expect(await eventually { (try? await http(.GET, server.baseURL + "/ready"))?.status == 503 })
        for _ in 0..<3 { _ = try? await http(.GET, server.baseURL + "/ready") }
        kill(server.process.processIdentifier, SIGTERM)
        _ = await server.stop()
        let errors = server.stderr.contents.split(separator: "\n").filter { $0.contains("ERROR") }
        #expect(errors.isEmpty, "\(errors)")
    }

    @Test("debug bundle: -o is the format, --file the archive; the old --output FILE still works, with a notice")
    func bundleFileAndFormat() async throws {
        try await withCLIServer { server in
            let directory = temporaryDirectory("kimera-bundle")
            defer { try? FileManager.default.removeItem(at: directory) }
            let archive = directory.appendingPathComponent("b.tar.gz").path
            let json = try await runCLI(
                ["debug", "bundle", "--duration", "1s", "--interval", "1s", "--output", "json", "--file", archive,
                 "--url", server.url])
            #expect(json.status == 0, "\(json.stderr)")
            #expect(FileManager.default.fileExists(atPath: archive))
            #expect(!FileManager.default.fileExists(atPath: "json"))
            let old = directory.appendingPathComponent("old.tar.gz").path
            let legacy = try await runCLI(
                ["debug", "bundle", "--duration", "1s", "--interval", "1s", "--output", old, "--url", server.url])
            #expect(legacy.status == 0, "\(legacy.stderr)")
            #expect(FileManager.default.fileExists(atPath: old))
            #expect(legacy.stderr.contains("is now --file FILE"))
        }
    }
}
