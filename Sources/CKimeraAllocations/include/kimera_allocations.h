#ifndef KIMERA_ALLOCATIONS_H
#define KIMERA_ALLOCATIONS_H
/*
 * Allocation counting (issue 25; docs/OPERATIONS.md "Allocations per operation").
 *
 * malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign of the process are interposed here
 * (weak definitions in the executable, which the dynamic linker prefers to glibc's) and forwarded to glibc's
 * own allocator (__libc_malloc and its siblings). While nothing watches, an allocation pays one relaxed atomic
 * load more than glibc's. While a profiled operation runs with profiling on, the allocations of the Swift task
 * running it are counted in a fixed table keyed by the task (swift_task_getCurrent: the runtime knows the
 * current task on the allocating thread, across suspension points and thread hops), and work that hops to a
 * thread outside Swift concurrency (Dispatch, GRDB's queues) is attributed with kimera_alloc_adopt.
 * Under AddressSanitizer or ThreadSanitizer, which own malloc, nothing is interposed and nothing is counted.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What kimera_alloc_begin hands to kimera_alloc_end. */
typedef struct {
    int32_t slot;  /* the task's slot, -1 when there is none (no current task, table full, not interposed) */
    int32_t owner; /* 1 when this mark claimed the slot (the outermost operation of the task) */
    uint64_t allocations;
    uint64_t bytes;
} kimera_alloc_mark;

/* Starts counting the current task's allocations; an operation nested in another shares the task's slot. */
kimera_alloc_mark kimera_alloc_begin(void);

/* The allocations and bytes of the task since `mark`; releases the slot when `mark` claimed it. */
void kimera_alloc_end(kimera_alloc_mark mark, uint64_t *allocations, uint64_t *bytes);

/*
 * The slot allocations on this thread are counted in now (a thread's adopted slot, else its task's), or -1.
 * One relaxed load while nothing is counted.
 */
int32_t kimera_alloc_current_slot(void);

/* Counts this thread's allocations in `slot` (-1: stop) until the next call; returns the previous slot. */
int32_t kimera_alloc_adopt(int32_t slot);

/* Whether this process's allocator is interposed (0 under the sanitizers). */
int kimera_alloc_interposed(void);

/* Slots in the task table: profiled operations that can be counted at once. */
#define KIMERA_ALLOC_SLOTS 1024

/*
 * Allocation sampling for GET /debug/pprof/allocs: `sampler` is called on the allocating thread about once
 * per `rate` bytes allocated (exponentially distributed, as Go's MemProfileRate), with the allocation's size;
 * rate 0 stops. The sampler must not allocate. Returns 0, or EBUSY when a sampler is set already.
 */
typedef void (*kimera_alloc_sampler)(uint64_t size);
int kimera_alloc_sampling_start(kimera_alloc_sampler sampler, int64_t rate);
void kimera_alloc_sampling_stop(void);

/*
 * The interposed malloc under a name of its own, and glibc's: the benchmark measures one against the other
 * (its own interposer takes the name malloc in that binary).
 */
void *kimera_alloc_interposed_malloc(size_t size);
void *kimera_alloc_libc_malloc(size_t size);
void kimera_alloc_libc_free(void *pointer);

#ifdef __cplusplus
}
#endif
#endif
