/* The allocation counting of kimera_allocations.h. */
#define _GNU_SOURCE
#include "kimera_allocations.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define KIMERA_ALLOC_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KIMERA_ALLOC_SANITIZED 1
#endif

/* glibc's allocator under the names it exports for interposers. */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *pointer);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

/* The Swift runtime's current task: a thread-local read, no allocation, no lock. */
extern void *swift_task_getCurrent(void) __attribute__((swiftcall));

/* Operations probe this many slots from their task's home slot. */
#define KIMERA_ALLOC_PROBES 16

typedef struct {
    _Atomic(void *) task;
    _Atomic uint64_t allocations;
    _Atomic uint64_t bytes;
    uint64_t padding;
} task_slot;

/* Zero pages until a profiled operation first claims a slot. */
static task_slot slots[KIMERA_ALLOC_SLOTS];
/* Claimed slots, plus one while sampling: the one load every allocation pays. */
static _Atomic int32_t watchers;
static _Atomic(kimera_alloc_sampler) sampler;
static _Atomic int64_t sampling_rate;

static __thread int32_t adopted = -1;
static __thread int64_t sample_countdown;
static __thread uint64_t random_state;
static __thread int in_hook;

static inline uint32_t home(void *task) {
    uint64_t value = (uint64_t)(uintptr_t)task;
    value ^= value >> 33;
    value *= 0xff51afd7ed558ccdULL;
    value ^= value >> 33;
    return (uint32_t)value;
}

static int32_t find(void *task) {
    uint32_t start = home(task);
    for (uint32_t probe = 0; probe < KIMERA_ALLOC_PROBES; probe++) {
        int32_t index = (int32_t)((start + probe) % KIMERA_ALLOC_SLOTS);
        if (atomic_load_explicit(&slots[index].task, memory_order_relaxed) == task) return index;
    }
    return -1;
}

static int32_t counting_slot(void) {
    int32_t slot = adopted;
    if (slot >= 0) return slot;
    void *task = swift_task_getCurrent();
    return task != NULL ? find(task) : -1;
}

int32_t kimera_alloc_current_slot(void) {
    if (atomic_load_explicit(&watchers, memory_order_relaxed) == 0) return -1;
    return counting_slot();
}

int32_t kimera_alloc_adopt(int32_t slot) {
    int32_t previous = adopted;
    adopted = slot;
    return previous;
}

/* Bytes until the next sample: exponentially distributed with mean `rate`, as Go's heap sampler draws. */
static int64_t next_countdown(int64_t rate) {
    if (random_state == 0) random_state = ((uint64_t)(uintptr_t)&random_state) | 1;
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    double uniform = ((double)(random_state >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    return (int64_t)(-log(uniform) * (double)rate) + 1;
}

static __attribute__((noinline)) void note(size_t size) {
    if (in_hook) return;
    in_hook = 1;
    int32_t slot = counting_slot();
    if (slot >= 0) {
        atomic_fetch_add_explicit(&slots[slot].allocations, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&slots[slot].bytes, size, memory_order_relaxed);
    }
    int64_t rate = atomic_load_explicit(&sampling_rate, memory_order_relaxed);
    if (rate > 0) {
        if (sample_countdown == 0) sample_countdown = next_countdown(rate);
        sample_countdown -= (int64_t)size;
        if (sample_countdown <= 0) {
            kimera_alloc_sampler record = atomic_load_explicit(&sampler, memory_order_acquire);
            if (record != NULL) record(size);
            sample_countdown = next_countdown(rate);
        }
    }
    in_hook = 0;
}

kimera_alloc_mark kimera_alloc_begin(void) {
    kimera_alloc_mark mark = {-1, 0, 0, 0};
#ifndef KIMERA_ALLOC_SANITIZED
    void *task = swift_task_getCurrent();
    int32_t slot = task != NULL ? find(task) : adopted;
    if (slot < 0 && task != NULL) {
        uint32_t start = home(task);
        for (uint32_t probe = 0; probe < KIMERA_ALLOC_PROBES; probe++) {
            int32_t index = (int32_t)((start + probe) % KIMERA_ALLOC_SLOTS);
            void *expected = NULL;
            if (atomic_compare_exchange_strong(&slots[index].task, &expected, task)) {
                /* Only this task counts into the slot, and it is here: zeroing after the claim is safe. */
                atomic_store_explicit(&slots[index].allocations, 0, memory_order_relaxed);
                atomic_store_explicit(&slots[index].bytes, 0, memory_order_relaxed);
                atomic_fetch_add_explicit(&watchers, 1, memory_order_relaxed);
                slot = index;
                mark.owner = 1;
                break;
            }
        }
    }
    if (slot < 0) return mark;
    mark.slot = slot;
    mark.allocations = atomic_load_explicit(&slots[slot].allocations, memory_order_relaxed);
    mark.bytes = atomic_load_explicit(&slots[slot].bytes, memory_order_relaxed);
#endif
    return mark;
}

void kimera_alloc_end(kimera_alloc_mark mark, uint64_t *allocations, uint64_t *bytes) {
    *allocations = 0;
    *bytes = 0;
    if (mark.slot < 0 || mark.slot >= KIMERA_ALLOC_SLOTS) return;
    task_slot *slot = &slots[mark.slot];
    *allocations = atomic_load_explicit(&slot->allocations, memory_order_relaxed) - mark.allocations;
    *bytes = atomic_load_explicit(&slot->bytes, memory_order_relaxed) - mark.bytes;
    if (mark.owner) {
        atomic_store_explicit(&slot->task, NULL, memory_order_release);
        atomic_fetch_sub_explicit(&watchers, 1, memory_order_relaxed);
    }
}

int kimera_alloc_sampling_start(kimera_alloc_sampler record, int64_t rate) {
    if (rate <= 0 || record == NULL) return EINVAL;
#ifdef KIMERA_ALLOC_SANITIZED
    return ENOTSUP;
#else
    kimera_alloc_sampler expected = NULL;
    if (!atomic_compare_exchange_strong(&sampler, &expected, record)) return EBUSY;
    atomic_store(&sampling_rate, rate);
    atomic_fetch_add(&watchers, 1);
    return 0;
#endif
}

void kimera_alloc_sampling_stop(void) {
    if (atomic_load(&sampler) == NULL) return;
    atomic_store(&sampling_rate, 0);
    atomic_fetch_sub(&watchers, 1);
    atomic_store(&sampler, NULL);
}

#ifdef KIMERA_ALLOC_SANITIZED
int kimera_alloc_interposed(void) { return 0; }
void *kimera_alloc_interposed_malloc(size_t size) { return malloc(size); }
#else
#ifdef KIMERA_ALLOC_NAMES_ONLY
int kimera_alloc_interposed(void) { return 0; }
#else
int kimera_alloc_interposed(void) { return 1; }
#endif

#define KIMERA_WATCHED() __builtin_expect(atomic_load_explicit(&watchers, memory_order_relaxed) != 0, 0)

void *kimera_alloc_interposed_malloc(size_t size) {
    void *pointer = __libc_malloc(size);
    if (KIMERA_WATCHED() && pointer != NULL) note(size);
    return pointer;
}

/*
 * Weak, so that a program with an allocator of its own keeps it. The micro-benchmark build (whose harness
 * interposes malloc to count allocations, and whose archive a weak definition here would keep out of the
 * link) compiles with KIMERA_ALLOC_NAMES_ONLY: only the functions under their own names.
 */
#ifndef KIMERA_ALLOC_NAMES_ONLY
__attribute__((weak, alias("kimera_alloc_interposed_malloc"))) void *malloc(size_t size);

__attribute__((weak)) void *calloc(size_t count, size_t size) {
    void *pointer = __libc_calloc(count, size);
    if (KIMERA_WATCHED() && pointer != NULL) note(count * size);
    return pointer;
}

__attribute__((weak)) void *realloc(void *old, size_t size) {
    void *pointer = __libc_realloc(old, size);
    if (KIMERA_WATCHED() && pointer != NULL) note(size);
    return pointer;
}

__attribute__((weak)) void *memalign(size_t alignment, size_t size) {
    void *pointer = __libc_memalign(alignment, size);
    if (KIMERA_WATCHED() && pointer != NULL) note(size);
    return pointer;
}

__attribute__((weak)) int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment % sizeof(void *) != 0) return EINVAL;
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    if (KIMERA_WATCHED()) note(size);
    *out = pointer;
    return 0;
}

__attribute__((weak)) void *aligned_alloc(size_t alignment, size_t size) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    void *pointer = __libc_memalign(alignment, size);
    if (KIMERA_WATCHED() && pointer != NULL) note(size);
    return pointer;
}
#endif /* KIMERA_ALLOC_NAMES_ONLY */
#endif

void *kimera_alloc_libc_malloc(size_t size) { return __libc_malloc(size); }
void kimera_alloc_libc_free(void *pointer) { __libc_free(pointer); }
