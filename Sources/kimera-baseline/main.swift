import Foundation
import Hummingbird

// A bare Hummingbird server with the same `/health` body as `kimera serve` and no middleware:
// the baseline `scripts/bench` measures Kimera against, in the same run on the same machine.
// Usage: kimera-baseline [PORT] [THREADS]

struct Health: ResponseEncodable {
    var status = "healthy"
    var timestamp: Int64
    var service = "kimera"
    var version = "0.1.0"  // a body the size of Kimera's /health, not Kimera's version (KimeraVersion)
    var uptime_s: Double
}

let arguments = CommandLine.arguments
let port = arguments.count > 1 ? Int(arguments[1]) ?? 8000 : 8000
let started = Date()
let router = Router()
router.get("/health") { _, _ in
    Health(timestamp: Int64(Date().timeIntervalSince1970 * 1000), uptime_s: Date().timeIntervalSince(started))
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
