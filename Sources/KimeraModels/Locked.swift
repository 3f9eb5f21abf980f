import CKimeraSanitizer
import Synchronization

extension Mutex {
    /// `withLock`, with the critical section shown to ThreadSanitizer: the standard library's `Mutex` locks
    /// with futexes that TSan cannot see on Linux (the library is not built with it), so without this every
    /// state a `Mutex` protects is reported as raced (`scripts/test --sanitize thread`; docs/OPERATIONS.md
    /// "Sanitizers"). The address of the protected value stands for the lock. Outside TSan builds the two
    /// calls are empty functions.
    @inlinable
    public borrowing func locked<Result, Failure: Error>(
        _ body: (inout sending Value) throws(Failure) -> sending Result
    ) throws(Failure) -> sending Result {
        try withLock { (value: inout sending Value) throws(Failure) -> sending Result in
            let address = withUnsafeMutablePointer(to: &value) { UnsafeMutableRawPointer($0) }
            kimera_tsan_acquire(address)
            defer { kimera_tsan_release(address) }
            return try body(&value)
        }
    }
}
