import Foundation
import KimeraCore
import Synchronization

/// Keeps one vault file to one process: an exclusive `flock` on `<file>.lock`, which holds the owner's
/// pid, taken when the vault opens and released when it closes. A second `kimera serve` on the same file
/// refuses to start and names the process that has it (two servers on one file would each search their
/// own in-memory index and never see the other's writes). Opening the same file again inside this process
/// (a test reopening its vault) shares the lock.
final class VaultFileLock: Sendable {
    let lockPath: String

    /// Protects the locks this process holds: lock file → descriptor and how many opens share it.
    private static let held = Mutex<[String: (descriptor: Int32, count: Int)]>([:])

    private init(lockPath: String) { self.lockPath = lockPath }

    static func acquire(databasePath: String) throws -> VaultFileLock {
        let lockPath = databasePath + ".lock"
        try held.locked { held in
            if let entry = held[lockPath] {
                held[lockPath] = (entry.descriptor, entry.count + 1)
                return
            }
            let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                throw VaultError(
                    operation: "open \(databasePath)",
                    detail: "its lock file \(lockPath) cannot be opened: \(String(cString: strerror(errno)))")
            }
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                let owner = (try? String(contentsOfFile: lockPath, encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                close(descriptor)
                throw VaultError(
                    operation: "open \(databasePath)",
                    detail:
                        "another process (pid \(owner.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown")) has it open; stop that server or give this one another --data-dir or --vault"
                )
            }
            let pid = "\(getpid())\n"
            _ = ftruncate(descriptor, 0)
            _ = pid.withCString { pwrite(descriptor, $0, strlen($0), 0) }
            held[lockPath] = (descriptor, 1)
        }
        return VaultFileLock(lockPath: lockPath)
    }

    /// Gives up this open's share of the lock; the last one unlocks and closes it.
    func release() {
        Self.held.locked { held in
            guard let entry = held[lockPath] else { return }
            if entry.count > 1 {
                held[lockPath] = (entry.descriptor, entry.count - 1)
            } else {
                held[lockPath] = nil
                flock(entry.descriptor, LOCK_UN)
                close(entry.descriptor)
            }
        }
    }
}

/// The identity of the vault file as it was opened (device and inode). SQLite keeps writing to an open
/// file that was deleted or replaced underneath it, and those writes are gone at the next start; so the
/// vault compares the path's identity with this one around every write and for `/ready`, refusing writes
/// (503) once they differ.
struct VaultFileIdentity: Sendable, Equatable {
    let device: UInt64
    let inode: UInt64

    static func of(_ path: String) -> VaultFileIdentity? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return VaultFileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    /// Why the file at `path` is no longer this one, nil while it is.
    func problem(at path: String) -> String? {
        guard let current = Self.of(path) else {
            return
                "the vault file \(path) was deleted while the server ran; writes are refused until a restart opens a new vault"
        }
        guard current == self else {
            return
                "the vault file \(path) was replaced while the server ran; writes are refused until a restart opens it"
        }
        return nil
    }
}
