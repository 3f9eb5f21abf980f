import KimeraCore
import KimeraModels

extension KimeraService {
    /// A service over the SQLite vault in `dataDirectory` (`<dataDirectory>/kimera.sqlite`) with the
    /// feature-hashing embedder of `dimensions` (`embedding.dimensions`).
    public static func open(
        dataDirectory: String, dimensions: Int = FeatureHashingEmbedder.defaultDimensions,
        configuration: KimeraCoreConfiguration = .init()
    ) throws -> KimeraService {
        let embedder = FeatureHashingEmbedder(dimensions: dimensions)
        let store = try SQLiteVaultStore(directory: dataDirectory, embedder: embedder)
        return try KimeraService(store: store, embedder: embedder, configuration: configuration)
    }

    /// A service over the SQLite vault file at `path`, whose folder must exist.
    public static func open(
        vaultPath path: String, dimensions: Int = FeatureHashingEmbedder.defaultDimensions,
        configuration: KimeraCoreConfiguration = .init()
    ) throws -> KimeraService {
        let embedder = FeatureHashingEmbedder(dimensions: dimensions)
        let store = try SQLiteVaultStore(path: path, embedder: embedder)
        return try KimeraService(store: store, embedder: embedder, configuration: configuration)
    }
}
