@_exported import KimeraModels
