import Configuration
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import KimeraModels
import Synchronization

/// One setting that the command line, the environment and the config file may each give: an entry of
/// `ServerConfiguration.layeredSettings`. The reader asks every layer for `key`; the flags layer holds the
/// parsed flag under it, the environment layer maps it to `variable`, the JSON file has it as written.
struct LayeredSetting {
    /// The config file key and the key the reader asks for (`shutdown.drain`).
    let key: String
    /// The environment variable that gives it, any name (`KIMERA_DRAIN`; also one without the prefix,
    /// such as `OTEL_EXPORTER_OTLP_ENDPOINT`); nil when only the flag and the file do.
    let variable: String?
    /// The name under `config.sources` in `/debug/info`, nil for a setting whose source is not reported
    /// there: by default a setting an environment variable may give reports its own under its key; one given
    /// a `source:` name reports under that name, with or without a variable.
    let sourceName: String?
    /// False for what the config file cannot give: its own path, the admin token.
    let inFile: Bool
    /// A value that must never be shown (the admin token): secret for the library's access logging too.
    let isSecret: Bool
    /// The flag's value as the flags layer holds it; nil when the flag was not given.
    let flagValue: (ServeFlags) -> ConfigContent?
    /// The environment value checked with Kimera's own grammar (`BooleanValue`, `DurationText`) and put in
    /// a form the environment provider converts without a second opinion; nil when empty (unset). Throws
    /// a message naming the variable.
    let checkedEnvironmentText: (_ text: String, _ variable: String) throws -> String?
    /// Reads the setting through the reader into the configuration; leaves the default when no layer has it.
    let read: (ConfigSnapshotReader, inout ServerConfiguration) throws -> Void
}

extension LayeredSetting {
    /// A string (`host`, `data_dir`, `vault.url`): an empty environment value counts as unset.
    static func text(
        _ key: String, flag: KeyPath<ServeFlags, String?>? = nil, environment variable: String? = nil,
        source: String? = nil, reportsSource: Bool = true, inFile: Bool = true, secret: Bool = false,
        into assign: @escaping (inout ServerConfiguration, String) -> Void
    ) -> LayeredSetting {
        make(
            key, flag: flag, variable: variable, source: source, reportsSource: reportsSource, inFile: inFile,
            secret: secret, content: ConfigContent.string, environment: { text, _ in text.isEmpty ? nil : text },
            value: { reader, key in reader.string(forKey: ConfigKey(key), isSecret: secret) }, assign: assign)
    }

    /// A boolean: the environment takes `BooleanValue`'s words (any case, blank is unset); the file a JSON
    /// boolean.
    static func boolean(
        _ key: String, flag: KeyPath<ServeFlags, Bool?>? = nil, environment variable: String? = nil,
        inFile: Bool = true, into assign: @escaping (inout ServerConfiguration, Bool) -> Void
    ) -> LayeredSetting {
        make(
            key, flag: flag, variable: variable, inFile: inFile, content: ConfigContent.bool,
            environment: { text, variable in
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty { return nil }
                guard let value = BooleanValue.parse(trimmed) else {
                    throw ConfigurationError(
                        "\(variable)=\(text) is not a boolean; use one of \(BooleanValue.allowed.joined(separator: ", "))"
                    )
                }
                return String(value)
            },
            value: { reader, key in reader.bool(forKey: ConfigKey(key)) }, assign: assign)
    }

    /// An integer; an environment value outside `range` stops startup as "VAR=TEXT is not `named` (range)".
    static func integer(
        _ key: String, flag: KeyPath<ServeFlags, Int?>? = nil, environment variable: String? = nil,
        range: ClosedRange<Int> = Int.min...Int.max, named noun: String = "an integer",
        into assign: @escaping (inout ServerConfiguration, Int) -> Void
    ) -> LayeredSetting {
        make(
            key, flag: flag, variable: variable, content: ConfigContent.int,
            environment: { text, variable in
                if text.isEmpty { return nil }
                guard let value = Int(text), range.contains(value) else {
                    throw ConfigurationError(
                        "\(variable)=\(text) is not \(noun) (\(range.lowerBound)-\(range.upperBound))")
                }
                return String(value)
            },
            value: { reader, key in reader.int(forKey: ConfigKey(key)) }, assign: assign)
    }

    /// A `DurationText` (`500ms`, `5s`, `0s`); the file may also give a number of seconds.
    static func duration(
        _ key: String, flag: KeyPath<ServeFlags, Duration?>? = nil, environment variable: String? = nil,
        into assign: @escaping (inout ServerConfiguration, Duration) -> Void
    ) -> LayeredSetting {
        func parse(_ text: String, _ what: @autoclosure () -> String) throws -> Duration {
            guard let value = DurationText.parse(text, allowingZero: true) else {
                throw ConfigurationError(ServerConfiguration.durationProblem(what()))
            }
            return value
        }
        return make(
            key, flag: flag, variable: variable,
            // Whole milliseconds, as `DurationText` keeps them: the text says the flag's value exactly.
            content: { .string(ShutdownSettings.text($0)) },
            environment: { text, variable in
                if text.trimmingCharacters(in: .whitespaces).isEmpty { return nil }
                _ = try parse(text, "\(variable)=\(text)")
                return text
            },
            value: { reader, key in
                // A JSON number is not a string to the file provider: ask for it as a number next.
                let configKey = ConfigKey(key)
                guard let text = reader.string(forKey: configKey) ?? reader.double(forKey: configKey).map({ "\($0)" })
                else { return nil }
                return try parse(text, "\(key) \"\(text)\"")
            }, assign: assign)
    }

    private static func make<Value>(
        _ key: String, flag: KeyPath<ServeFlags, Value?>?, variable: String?, source: String? = nil,
        reportsSource: Bool = true, inFile: Bool = true, secret: Bool = false,
        content: @escaping (Value) -> ConfigContent,
        environment: @escaping (String, String) throws -> String?,
        value: @escaping (ConfigSnapshotReader, String) throws -> Value?,
        assign: @escaping (inout ServerConfiguration, Value) -> Void
    ) -> LayeredSetting {
        LayeredSetting(
            key: key, variable: variable, sourceName: source ?? (variable != nil && reportsSource ? key : nil),
            inFile: inFile, isSecret: secret, flagValue: { flags in flag.flatMap { flags[keyPath: $0] }.map(content) },
            checkedEnvironmentText: environment,
            read: { reader, configuration in
                if let value = try value(reader, key) { assign(&configuration, value) }
            })
    }
}

/// The layers above the defaults, highest first: the parsed flags, the environment, the config file. The
/// defaults are `ServerConfiguration`'s initial values, kept when no layer answers.
struct ConfigurationLayers {
    /// The flags that were given, under their settings' keys.
    let flags: InMemoryProvider
    /// The environment variables of the settings (no other variable is read), checked, under their own names.
    let environment: KeyMappingProvider<EnvironmentVariablesProvider>
    let file: (any ConfigProvider)?
    /// Which provider answered each key, from the readers' access events.
    let answers = SettingSources()

    /// Throws when an environment variable's value is not what its setting takes, naming the variable.
    init(
        settings: [LayeredSetting], flags: ServeFlags, environment: [String: String], file: (any ConfigProvider)?
    ) throws {
        var flagValues: [AbsoluteConfigKey: ConfigValue] = [:]
        var variables: [String: String] = [:]
        var variableOfKey: [String: String] = [:]
        for setting in settings {
            let key = AbsoluteConfigKey(ConfigKey(setting.key))
            if let content = setting.flagValue(flags) {
                flagValues[key] = ConfigValue(content, isSecret: setting.isSecret)
            }
            guard let variable = setting.variable else { continue }
            variableOfKey[setting.key] = variable
            if let text = environment[variable], let checked = try setting.checkedEnvironmentText(text, variable) {
                variables[variable] = checked
            }
        }
        self.flags = InMemoryProvider(name: "flags", values: flagValues)
        let secrets = Set(settings.filter(\.isSecret).compactMap(\.variable))
        let mapping = variableOfKey
        // A key maps to a one-component key that the provider encodes as the variable's name unchanged;
        // keys without a variable find nothing, as only the settings' variables are in the provider.
        self.environment = KeyMappingProvider(
            upstream: EnvironmentVariablesProvider(
                environmentVariables: variables, secretsSpecifier: .specific(secrets)),
            keyMapper: { key in mapping[key.dotted].map { AbsoluteConfigKey([$0]) } ?? key })
        self.file = file
    }

    /// A snapshot reader over the flags and the environment, and the file when `includingFile`.
    func reader(includingFile: Bool) -> ConfigSnapshotReader {
        var providers: [any ConfigProvider] = [flags, environment]
        if includingFile, let file { providers.append(file) }
        return ConfigReader(providers: providers, accessReporter: answers).snapshot()
    }

    /// Where each setting that reports its source came from (`flag`, `env KIMERA_DRAIN`, `file PATH`), by
    /// its name under `config.sources`; settings no layer gave are absent.
    func sources(of settings: [LayeredSetting], filePath: String?) -> [String: String] {
        var sources: [String: String] = [:]
        for setting in settings {
            guard let name = setting.sourceName, let answer = answers.answer(for: setting.key) else { continue }
            switch answer.provider {
            case flags.providerName: sources[name] = "flag"
            case environment.providerName: sources[name] = "env \(answer.encodedKey)"
            case file?.providerName: sources[name] = "file \(filePath ?? "")"
            default: break
            }
        }
        return sources
    }
}

/// Where each value came from, for `/debug/info` `config.sources` and the banner: an `AccessReporter` that
/// keeps, for every key read, the provider that answered and the name it looked the key up under — for the
/// environment provider, the variable.
final class SettingSources: AccessReporter, Sendable {
    /// The answer to each key (`shutdown.drain`) that some layer had; a later answer replaces an earlier one.
    private let answers = Mutex<[String: (provider: String, encodedKey: String)]>([:])

    func report(_ event: AccessEvent) {
        for result in event.providerResults {
            // The reader stops at the first provider with a value, as the library's own access logging says.
            guard case .success(let lookup) = result.result, lookup.value != nil else { continue }
            answers.locked { $0[event.metadata.key.dotted] = (result.providerName, lookup.encodedKey) }
            return
        }
    }

    func answer(for key: String) -> (provider: String, encodedKey: String)? { answers.locked { $0[key] } }
}

extension AbsoluteConfigKey {
    /// `shutdown.drain`, as the settings name their keys.
    fileprivate var dotted: String { components.joined(separator: ".") }
}
