import CZlib

/// gzip (RFC 1952) of an export request's body, when `OTEL_EXPORTER_OTLP_COMPRESSION=gzip` asks for it
/// (docs/OPERATIONS.md "OpenTelemetry export"). zlib, the system's, at its fast level 1: the exporter's
/// CPU is the serving core's too.
enum Gzip {
    static func compress(_ input: [UInt8]) -> [UInt8]? {
        var stream = z_stream()
        guard kimera_deflate_init_gzip(&stream, 1) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let status = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
                stream.avail_in = UInt32(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = UInt32(target.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { return nil }
        output.removeLast(Int(stream.avail_out))
        return output
    }
}
