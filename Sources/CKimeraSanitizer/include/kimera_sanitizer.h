#ifndef KIMERA_SANITIZER_H
#define KIMERA_SANITIZER_H

/// Tells ThreadSanitizer that a lock was taken or released at `address` (docs/OPERATIONS.md "Sanitizers").
/// The Swift standard library's `Mutex` locks with futexes TSan cannot see (the library is not built with
/// it), so every critical section it protects would look like a race; `Mutex.locked` (KimeraModels)
/// calls these around its body. Without ThreadSanitizer they do nothing.
void kimera_tsan_acquire(void *address);
void kimera_tsan_release(void *address);

#endif
