import ArgumentParser
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraClient

/// `kimera geoids create|get|search|delete`: the geoids of `/kimera`.
struct Geoids: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "geoids",
        abstract: "Create, read, search and delete geoids (/kimera/geoids).",
        discussion: """
            Examples:
              kimera geoids create "the sky is blue" --metadata '{"source":"cli"}'
              kimera geoids create --feature color=0.8 --feature size=0.2
              kimera geoids search "blue sky" --limit 3
              kimera geoids get geoid_0123…
              kimera geoids delete geoid_0123…
            """,
        subcommands: [Create.self, Get.self, Search.self, Delete.self])

    /// A JSON object given on the command line.
    static func object(_ text: String?, flag: String) throws -> [String: JSONValue?]? {
        guard let text else { return nil }
        guard let object = try? JSONDecoder().decode([String: JSONValue?].self, from: Data(text.utf8)) else {
            throw ValidationError("\(flag) must be a JSON object, e.g. '{\"key\":\"value\"}'")
        }
        return object
    }

    /// The top features of a semantic state, heaviest first: `sky 0.33, blue 0.33`.
    static func features<Map: StringKeyedMap>(_ state: Map, top: Int = 6) -> String where Map.Value == Double {
        let sorted = state.additionalProperties.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        let shown = sorted.prefix(top).map { "\($0.key) \(String(format: "%.3g", $0.value))" }
        return shown.joined(separator: ", ") + (sorted.count > top ? ", … (\(sorted.count))" : "")
    }

    /// An empty id would name `/kimera/geoids/` itself, whose answer ("use POST") says nothing of the mistake.
    static func checkID(_ id: String) throws {
        if id.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("the geoid id is empty; give one such as geoid_0123… (kimera geoids search TEXT)")
        }
    }

    static func json<Map: StringKeyedMap>(_ object: Map) -> String where Map.Value == JSONValue? {
        object.isEmpty ? "{}" : JSONText.compact(object.additionalProperties)
    }

    /// `kimera geoids create`.
    struct Create: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create a geoid from text (TEXT, --content, --echoform) or from features (--feature).").underKimera

        @Argument(help: ArgumentHelp("Plain text, tokenised into the semantic state (as --content).", valueName: "text"))
        var text: String?

        @Option(help: ArgumentHelp("Plain text, tokenised into the semantic state.", valueName: "text"))
        var content: String?

        @Option(help: ArgumentHelp("An echoform s-expression.", valueName: "text"))
        var echoform: String?

        @Option(
            help: ArgumentHelp(
                "A semantic feature NAME=NUMBER (repeatable); the feature form.", valueName: "name=value"))
        var feature: [String] = []

        @Option(help: ArgumentHelp("Symbolic content as a JSON object.", valueName: "json"))
        var symbolic: String?

        @Option(help: ArgumentHelp("Metadata as a JSON object.", valueName: "json"))
        var metadata: String?

        @OptionGroup var global: GlobalOptions

        func validate() throws { _ = try request() }

        func request() throws -> CreateGeoidRequest {
            var features: [String: JSONValue?] = [:]
            for entry in feature {
                let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, let value = Double(parts[1]), value.isFinite else {
                    throw ValidationError("--feature \(entry) must be NAME=NUMBER, e.g. color=0.8")
                }
                features[parts[0]] = .number(value)
            }
            if text != nil && content != nil {
                throw ValidationError("give the text once: as the argument or as --content, not both")
            }
            let content = text ?? content
            guard content != nil || echoform != nil || !features.isEmpty else {
                throw ValidationError("give TEXT, --content, --echoform or at least one --feature")
            }
            return CreateGeoidRequest(
                content: content, echoformText: echoform, semanticFeatures: features.isEmpty ? nil : .init(features),
                symbolicContent: try Geoids.object(symbolic, flag: "--symbolic").map { .init($0) },
                metadata: try Geoids.object(metadata, flag: "--metadata").map { .init($0) })
        }

        func perform(in context: CommandContext) async throws {
            let created = try await context.client.createGeoid(try request())
            let output = context.output
            output.emit(created) {
                Renderings.keyValues(
                    [
                        ("created", Table.Cell(created.geoidID, .green)),
                        ("entropy", Table.Cell(String(format: "%.4f bits", created.entropy))),
                        ("features", Table.Cell(Geoids.features(created.semanticState))),
                    ], output: output)
            }
        }
    }

    /// `kimera geoids get ID`.
    struct Get: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "get", abstract: "Show one geoid.").underKimera

        @Argument(help: ArgumentHelp("The geoid id (geoid_…).", valueName: "id"))
        var id: String

        @OptionGroup var global: GlobalOptions

        func validate() throws { try Geoids.checkID(id) }

        func perform(in context: CommandContext) async throws {
            let geoid = try await context.client.geoid(id: id)
            let output = context.output
            output.emit(geoid) {
                Renderings.keyValues(
                    [
                        ("id", Table.Cell(geoid.geoidID, .bold)),
                        ("features", Table.Cell(Geoids.features(geoid.semanticState, top: 12))),
                        ("symbolic", Table.Cell(Geoids.json(geoid.symbolicState))),
                        ("metadata", Table.Cell(Geoids.json(geoid.metadata))),
                        ("embedding", Table.Cell("\(geoid.embeddingVector.count) dimensions")),
                    ], output: output)
            }
        }
    }

    /// `kimera geoids search QUERY [--limit N]`.
    struct Search: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "search", abstract: "Rank geoids by similarity to a text.").underKimera

        @Argument(help: ArgumentHelp("The text to search for.", valueName: "query"))
        var query: String

        @Option(help: ArgumentHelp("How many results (server default 5, at most 100).", valueName: "n"))
        var limit: Int?

        @OptionGroup var global: GlobalOptions

        func validate() throws { try ArgumentCheck.positive(limit, flag: "--limit") }

        func perform(in context: CommandContext) async throws {
            let answer = try await context.client.searchGeoids(query: query, limit: limit)
            let output = context.output
            output.emit(answer, records: answer.results) {
                guard !answer.results.isEmpty else { return "no geoids\n" }
                var table = Table([
                    Table.Column("SCORE", .right), Table.Column("GEOID"),
                    Table.Column("FEATURES", flexible: true, minWidth: 12),
                ])
                for hit in answer.results {
                    table.append([
                        Table.Cell(String(format: "%.4f", hit.similarityScore)), Table.Cell(hit.geoidID),
                        Table.Cell(Geoids.features(hit.semanticState)),
                    ])
                }
                return table.render(width: output.width, style: output.style)
            }
        }
    }

    /// `kimera geoids delete ID`.
    struct Delete: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete one geoid.").underKimera

        @Argument(help: ArgumentHelp("The geoid id (geoid_…).", valueName: "id"))
        var id: String

        @OptionGroup var global: GlobalOptions

        func validate() throws { try Geoids.checkID(id) }

        /// What `delete -o json` prints: the server answers 204 without a body.
        struct Deleted: Codable {
            var geoidID: String
            var deleted: Bool

            enum CodingKeys: String, CodingKey {
                case deleted
                case geoidID = "geoid_id"
            }
        }

        func perform(in context: CommandContext) async throws {
            try await context.client.deleteGeoid(id: id)
            context.output.emit(Deleted(geoidID: id, deleted: true)) { "deleted \(id)" }
        }
    }
}
