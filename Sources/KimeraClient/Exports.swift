@_exported import KimeraAPI
@_exported import KimeraModels
