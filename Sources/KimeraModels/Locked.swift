import CKimeraSanitizer
import Synchronization

extension Mutex where Value: ~Copyable {
    /// `withLock`, with the critical section shown to ThreadSanitizer: the standard library's `Mutex` locks
    /// with futexes that TSan cannot see on Linux (the library is not built with it), so without this every
    /// state a `Mutex` protects is reported as raced (`scripts/test --sanitize thread`; docs/OPERATIONS.md
    /// "Sanitizers"). The mutex's address stands for the lock. Outside TSan builds the two
    /// calls are empty functions.
    @inlinable
    public borrowing func locked<Result, Failure: Error>(
        _ body: (inout sending Value) throws(Failure) -> sending Result
    ) throws(Failure) -> sending Result {
        // The lock's own address stands for it: taken before locking, without touching the protected value
        // (an access TSan would see outside the annotated section).
        let address = withUnsafePointer(to: self) { UnsafeMutableRawPointer(mutating: $0) }
        return try withLock { (value: inout sending Value) throws(Failure) -> sending Result in
            kimera_tsan_acquire(address)
            defer { kimera_tsan_release(address) }
            return try body(&value)
        }
    }
}
