public enum KimeraVersion { public static let current = "0.1.0" }
