import KimeraModels

/// Dot products and cosines over `Float` vectors. The SIMD loop adds in a fixed order, so a result is the
/// same in every run; it is the inner loop of every search.
public enum VectorMath {
    /// Σ a[i]·b[i] over the first `count` components of two buffers.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        let rawA = UnsafeRawPointer(a)
        let rawB = UnsafeRawPointer(b)
        var accumulator0 = SIMD8<Float>()
        var accumulator1 = SIMD8<Float>()
        var index = 0
        while index + 16 <= count {
            let offset = index &* 4
            accumulator0 +=
                rawA.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            accumulator1 +=
                rawA.loadUnaligned(fromByteOffset: offset &+ 32, as: SIMD8<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: offset &+ 32, as: SIMD8<Float>.self)
            index &+= 16
        }
        var sum = (accumulator0 + accumulator1).sum()
        while index < count {
            sum += a[index] * b[index]
            index &+= 1
        }
        return sum
    }

    /// Σ a[i]·b[i] over the common length.
    public static func dot(_ a: [Float], _ b: [Float]) -> Float {
        let count = min(a.count, b.count)
        return a.withUnsafeBufferPointer { bufferA in
            b.withUnsafeBufferPointer { bufferB in
                guard let baseA = bufferA.baseAddress, let baseB = bufferB.baseAddress else { return 0 }
                return dot(baseA, baseB, count: count)
            }
        }
    }

    /// The L2 norm.
    public static func norm(_ vector: [Float]) -> Float {
        dot(vector, vector).squareRoot()
    }

    /// cos(a, b), or nil when either norm is 0 (the cosine is undefined there).
    public static func cosine(_ a: [Float], _ b: [Float]) -> Double? {
        let normA = Double(norm(a))
        let normB = Double(norm(b))
        guard normA > 0, normB > 0 else { return nil }
        return Double(dot(a, b)) / (normA * normB)
    }
}
