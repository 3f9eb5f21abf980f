import Foundation
import KimeraModels

/// Checks a JSON value against a schema of the OpenAPI document (`openapi.json`, JSON Schema 2020-12 as
/// OpenAPI 3.1 uses it), for the keywords the document uses: `$ref`, `type`, `properties`, `required`,
/// `additionalProperties`, `items`, `enum`, `const`, `oneOf`, `anyOf`, `allOf`, `minimum`, `maximum`,
/// `minItems`, `maxItems`, `pattern`. Every object schema a response can hold is closed
/// (`additionalProperties: false`), so a field the server sends and the document does not list is a
/// problem here, and so is a required field the server stops sending (docs/API.md, "The contract", at the top).
struct DocumentSchemaCheck {
    let document: JSONValue

    init(document: JSONValue) { self.document = document }

    init(documentData: Data) throws { document = try JSONDecoder().decode(JSONValue.self, from: documentData) }

    /// The repository's `openapi.json`.
    static let repository: DocumentSchemaCheck = {
        do {
            return try DocumentSchemaCheck(
                documentData: Data(contentsOf: packageRoot.appendingPathComponent("openapi.json")))
        } catch {
            fatalError("openapi.json cannot be read: \(error)")
        }
    }()

    /// The path template of the operation `id`: a test names the operation, the document spells its path.
    func template(of id: String) -> String? {
        guard case .object(let paths)? = document["paths"] else { return nil }
        for (template, item) in paths {
            guard case .object(let methods) = item else { continue }
            for operation in methods.values where operation["operationId"] == .string(id) { return template }
        }
        return nil
    }

    /// The schema of `status`'s `application/json` answer to `method` `template`, or nil when the document
    /// gives that response no JSON body.
    func responseSchema(_ method: String, _ template: String, status: Int) -> JSONValue? {
        guard case .object(let paths)? = document["paths"], let operation = paths[template]?[method.lowercased()],
            case .object(let responses)? = operation["responses"],
            var response = responses[String(status)] ?? responses["default"]
        else { return nil }
        if let target = response["$ref"], case .string(let reference) = target { response = resolve(reference) ?? .null }
        return response["content"]?["application/json"]?["schema"]
    }

    /// What is wrong with `value` under `schema`, one line per problem naming its JSON path; empty when it fits.
    func problems(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        guard case .object(let keywords) = schema else { return [] }
        if case .string(let reference)? = keywords["$ref"] {
            guard let target = resolve(reference) else { return ["\(path): \(reference) is not in the document"] }
            return problems(value, target, at: path)
        }
        var found: [String] = []
        if let types = keywords["type"], !Self.matches(value, types) {
            return ["\(path): \(Self.describe(value)) where the document says \(Self.compact(types))"]
        }
        if case .array(let allowed)? = keywords["enum"], !allowed.contains(value) {
            found.append("\(path): \(Self.compact(value)) is not one of \(Self.compact(.array(allowed)))")
        }
        if let constant = keywords["const"], constant != value {
            found.append("\(path): \(Self.compact(value)) is not \(Self.compact(constant))")
        }
        if case .array(let parts)? = keywords["allOf"] {
            for part in parts { found += problems(value, part, at: path) }
        }
        if case .array(let choices)? = keywords["anyOf"],
            !choices.contains(where: { problems(value, $0, at: path).isEmpty })
        {
            found.append("\(path): fits none of anyOf: \(choices.flatMap { problems(value, $0, at: path) })")
        }
        if case .array(let choices)? = keywords["oneOf"] {
            let fitting = choices.filter { problems(value, $0, at: path).isEmpty }.count
            if fitting != 1 { found.append("\(path): fits \(fitting) of oneOf's \(choices.count) choices, not one") }
        }
        switch value {
        case .object(let members):
            found += objectProblems(members, keywords, at: path)
        case .array(let elements):
            if case .number(let least)? = keywords["minItems"], Double(elements.count) < least {
                found.append("\(path): \(elements.count) items, fewer than \(Int(least))")
            }
            if case .number(let most)? = keywords["maxItems"], Double(elements.count) > most {
                found.append("\(path): \(elements.count) items, more than \(Int(most))")
            }
            if let items = keywords["items"] {
                for (index, element) in elements.enumerated() { found += problems(element, items, at: "\(path)[\(index)]") }
            }
        case .number(let number):
            if case .number(let least)? = keywords["minimum"], number < least {
                found.append("\(path): \(number) is below the minimum \(least)")
            }
            if case .number(let most)? = keywords["maximum"], number > most {
                found.append("\(path): \(number) is above the maximum \(most)")
            }
        case .string(let text):
            if case .string(let pattern)? = keywords["pattern"], let expression = try? Regex(pattern),
                (try? expression.firstMatch(in: text)) == nil
            {
                found.append("\(path): \(Self.compact(value)) does not match \(pattern)")
            }
        case .null, .bool:
            break
        }
        return found
    }

    private func objectProblems(_ members: [String: JSONValue], _ keywords: [String: JSONValue], at path: String)
        -> [String]
    {
        var found: [String] = []
        let properties: [String: JSONValue]
        if case .object(let declared)? = keywords["properties"] { properties = declared } else { properties = [:] }
        if case .array(let required)? = keywords["required"] {
            for case .string(let name) in required where members[name] == nil {
                found.append("\(path).\(name): documented as required, not sent")
            }
        }
        for (name, member) in members.sorted(by: { $0.key < $1.key }) {
            if let property = properties[name] {
                found += problems(member, property, at: "\(path).\(name)")
                continue
            }
            switch keywords["additionalProperties"] {
            case .bool(false)?: found.append("\(path).\(name): sent, not in the document")
            case .object?: found += problems(member, keywords["additionalProperties"]!, at: "\(path).\(name)")
            default: break
            }
        }
        return found
    }

    private func resolve(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        var node: JSONValue? = document
        for part in reference.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
        return node
    }

    private static func matches(_ value: JSONValue, _ types: JSONValue) -> Bool {
        switch types {
        case .string(let type): return matches(value, type)
        case .array(let list): return list.contains { if case .string(let type) = $0 { matches(value, type) } else { false } }
        default: return true
        }
    }

    private static func matches(_ value: JSONValue, _ type: String) -> Bool {
        switch (value, type) {
        case (.null, "null"), (.bool, "boolean"), (.string, "string"), (.array, "array"), (.object, "object"),
            (.number, "number"):
            return true
        case (.number(let number), "integer"): return number.rounded() == number
        default: return false
        }
    }

    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    private static func compact(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
    }
}

extension JSONValue {
    fileprivate subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { members[key] } else { nil }
    }
}

/// The path of a documented operation without path parameters (`documented("getVaultStatus")`); a test
/// fails at once on an operation the document does not have.
func documented(_ operationID: String) -> String {
    guard let template = DocumentSchemaCheck.repository.template(of: operationID) else {
        fatalError("openapi.json has no operation \(operationID)")
    }
    return template
}
