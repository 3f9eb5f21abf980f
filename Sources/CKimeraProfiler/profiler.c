/* The CPU sampler of kimera_profiler.h. */
#define _GNU_SOURCE
#include "kimera_profiler.h"
#include "kimera_allocations.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

enum { STATE_IDLE = 0, STATE_STARTING, STATE_RUNNING, STATE_STOPPING, STATE_THREADS, STATE_ALLOCS };
enum { SLOT_FREE = 0, SLOT_WRITING, SLOT_READY };
/* The writable mappings a frame pointer may point into (thread stacks among them), read at start. */
#define KIMERA_PROFILER_MAX_RANGES 8192
/* Slots a handler tries before it counts its sample as dropped. */
#define KIMERA_PROFILER_PROBES 16

typedef struct {
    _Atomic int32_t status;
    int32_t thread_id;
    int32_t depth;
    int32_t label;
    uint64_t value;
    uintptr_t pcs[KIMERA_PROFILER_MAX_DEPTH];
} slot_t;

typedef struct {
    uintptr_t low, high;
} range_t;

/* Everything a run needs, mapped at start and unmapped at stop: nothing of it exists while idle. */
typedef struct {
    slot_t slots[KIMERA_PROFILER_SLOTS];
    range_t ranges[KIMERA_PROFILER_MAX_RANGES];
    int range_count;
} arena_t;

static _Atomic int state = STATE_IDLE;
static arena_t *_Atomic arena = NULL;
static _Atomic uint64_t cursor, samples, dropped, truncated;
/* Handlers running now; stop waits for none before it unmaps the arena. */
static _Atomic int in_handler;
static struct sigaction previous_action;

/* The Swift runtime's current task: a thread-local read, no lock, no allocation. */
extern void *swift_task_getCurrent(void) __attribute__((swiftcall));

/* Task labels (kimera_profiler_label_begin): task -> label, probed from the task's home slot. */
#define KIMERA_LABEL_SLOTS 1024
#define KIMERA_LABEL_PROBES 16
typedef struct {
    _Atomic(void *) task;
    _Atomic int32_t label;
    int32_t reserved;
} label_slot_t;
static label_slot_t label_slots[KIMERA_LABEL_SLOTS];
static _Atomic int32_t labelled_tasks;

static uint32_t label_home(void *task) {
    uint64_t value = (uint64_t)(uintptr_t)task;
    value ^= value >> 33;
    value *= 0xff51afd7ed558ccdULL;
    value ^= value >> 33;
    return (uint32_t)value;
}

static int32_t label_of(void *task) {
    if (task == NULL) return -1;
    uint32_t start = label_home(task);
    for (uint32_t probe = 0; probe < KIMERA_LABEL_PROBES; probe++) {
        label_slot_t *slot = &label_slots[(start + probe) % KIMERA_LABEL_SLOTS];
        if (atomic_load_explicit(&slot->task, memory_order_acquire) == task) {
            return atomic_load_explicit(&slot->label, memory_order_relaxed);
        }
    }
    return -1;
}

int32_t kimera_profiler_label_begin(int32_t label) {
    void *task = swift_task_getCurrent();
    if (task == NULL || label < 0 || label_of(task) >= 0) return -1;
    uint32_t start = label_home(task);
    for (uint32_t probe = 0; probe < KIMERA_LABEL_PROBES; probe++) {
        int32_t index = (int32_t)((start + probe) % KIMERA_LABEL_SLOTS);
        void *expected = NULL;
        if (atomic_compare_exchange_strong(&label_slots[index].task, &expected, task)) {
            atomic_store_explicit(&label_slots[index].label, label, memory_order_relaxed);
            atomic_fetch_add_explicit(&labelled_tasks, 1, memory_order_relaxed);
            return index;
        }
    }
    return -1;
}

void kimera_profiler_label_end(int32_t slot) {
    if (slot < 0 || slot >= KIMERA_LABEL_SLOTS) return;
    atomic_store_explicit(&label_slots[slot].label, -1, memory_order_relaxed);
    atomic_store_explicit(&label_slots[slot].task, NULL, memory_order_release);
    atomic_fetch_sub_explicit(&labelled_tasks, 1, memory_order_relaxed);
}

/* The writable range that holds `address`, by binary search; 0 when none does. */
static uintptr_t range_end(const arena_t *a, uintptr_t address) {
    int low = 0, high = a->range_count - 1;
    while (low <= high) {
        int middle = (low + high) / 2;
        if (address < a->ranges[middle].low) {
            high = middle - 1;
        } else if (address >= a->ranges[middle].high) {
            low = middle + 1;
        } else {
            return a->ranges[middle].high;
        }
    }
    return 0;
}

/* A free slot of the ring, marked as being written; NULL (and counted as dropped) when every probe is taken. */
static slot_t *claim_slot(arena_t *a) {
    uint64_t start = atomic_fetch_add_explicit(&cursor, 1, memory_order_relaxed);
    for (int probe = 0; probe < KIMERA_PROFILER_PROBES; probe++) {
        slot_t *candidate = &a->slots[(start + probe) % KIMERA_PROFILER_SLOTS];
        int32_t expected = SLOT_FREE;
        if (atomic_compare_exchange_strong_explicit(
                &candidate->status, &expected, SLOT_WRITING, memory_order_acquire, memory_order_relaxed)) {
            return candidate;
        }
    }
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
    return NULL;
}

/*
 * Walks the frame pointers from `fp` into `slot` after `pc` (0: none), skipping the first `skip` return
 * addresses, and publishes the sample. Frames live above the stack pointer and inside the writable mapping
 * that holds it.
 */
static void walk_into(
    arena_t *a, slot_t *slot, uintptr_t pc, uintptr_t fp, uintptr_t sp, int skip, uint64_t value, int32_t label) {
    int depth = 0;
    if (pc != 0) slot->pcs[depth++] = pc;
    uintptr_t high = range_end(a, sp);
    uintptr_t low = sp;
    while (depth < KIMERA_PROFILER_MAX_DEPTH && high != 0 && fp >= low && fp <= high - 2 * sizeof(uintptr_t)
           && (fp & (sizeof(uintptr_t) - 1)) == 0) {
        const uintptr_t *frame = (const uintptr_t *)fp;
        uintptr_t next = frame[0];
        uintptr_t return_address = frame[1];
        if (return_address < 4096) break;
        if (skip > 0) {
            skip--;
        } else {
            slot->pcs[depth++] = return_address;
        }
        if (next <= fp) break; /* the stack grows down: callers' frames are above */
        low = fp + 2 * sizeof(uintptr_t);
        fp = next;
    }
    if (depth == KIMERA_PROFILER_MAX_DEPTH) {
        atomic_fetch_add_explicit(&truncated, 1, memory_order_relaxed);
    }
    slot->depth = depth;
    slot->value = value;
    slot->label = label;
    slot->thread_id = (int32_t)syscall(SYS_gettid);
    atomic_store_explicit(&slot->status, SLOT_READY, memory_order_release);
    atomic_fetch_add_explicit(&samples, 1, memory_order_relaxed);
}

static void handler(int signal_number, siginfo_t *info, void *context) {
    (void)signal_number;
    (void)info;
    int saved_errno = errno;
    atomic_fetch_add_explicit(&in_handler, 1, memory_order_acq_rel);
    int now = atomic_load_explicit(&state, memory_order_acquire);
    arena_t *a = atomic_load_explicit(&arena, memory_order_acquire);
    if ((now == STATE_RUNNING || now == STATE_THREADS) && a != NULL && context != NULL) {
        slot_t *slot = claim_slot(a);
        if (slot != NULL) {
            const ucontext_t *uc = (const ucontext_t *)context;
#if defined(__x86_64__)
            uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
            uintptr_t fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
            uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
            uintptr_t pc = (uintptr_t)uc->uc_mcontext.pc;
            uintptr_t fp = (uintptr_t)uc->uc_mcontext.regs[29];
            uintptr_t sp = (uintptr_t)uc->uc_mcontext.sp;
#else
            uintptr_t pc = 0, fp = 0, sp = 0;
#endif
            int32_t label = -1;
            if (now == STATE_RUNNING && atomic_load_explicit(&labelled_tasks, memory_order_relaxed) > 0) {
                label = label_of(swift_task_getCurrent());
            }
            walk_into(a, slot, pc, fp, sp, 0, 1, label);
        }
    }
    atomic_fetch_sub_explicit(&in_handler, 1, memory_order_acq_rel);
    errno = saved_errno;
}

/*
 * The allocation sampler (kimera_alloc_sampling_start): runs on the allocating thread inside malloc, so the
 * same rules hold as in the signal handler. Its own frame and the interposer's are skipped: the first frame
 * recorded is the allocator's caller.
 */
static __attribute__((noinline)) void record_allocation(uint64_t size) {
    atomic_fetch_add_explicit(&in_handler, 1, memory_order_acq_rel);
    int now = atomic_load_explicit(&state, memory_order_acquire);
    arena_t *a = atomic_load_explicit(&arena, memory_order_acquire);
    if (now == STATE_ALLOCS && a != NULL) {
        slot_t *slot = claim_slot(a);
        if (slot != NULL) {
            uintptr_t here = 0;
            uintptr_t sp = (uintptr_t)&here;
            /* This frame's return address is in the interposer's note(); note's is in malloc. */
            walk_into(a, slot, 0, (uintptr_t)__builtin_frame_address(0), sp, 2, size, -1);
        }
    }
    atomic_fetch_sub_explicit(&in_handler, 1, memory_order_acq_rel);
}

static uintptr_t parse_hex(const char **text) {
    uintptr_t value = 0;
    for (;;) {
        char c = **text;
        int digit;
        if (c >= '0' && c <= '9') digit = c - '0';
        else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
        else break;
        value = value * 16 + (uintptr_t)digit;
        (*text)++;
    }
    return value;
}

/* Reads the writable mappings of /proc/self/maps into the arena (they come sorted by address). */
static void load_ranges(arena_t *a) {
    a->range_count = 0;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buffer[8192];
    size_t filled = 0;
    for (;;) {
        ssize_t got = read(fd, buffer + filled, sizeof(buffer) - 1 - filled);
        if (got <= 0 && filled == 0) break;
        if (got > 0) filled += (size_t)got;
        buffer[filled] = 0;
        char *line = buffer;
        char *newline;
        while ((newline = strchr(line, '\n')) != NULL) {
            *newline = 0;
            const char *cursor_text = line;
            uintptr_t low = parse_hex(&cursor_text);
            if (*cursor_text == '-') cursor_text++;
            uintptr_t high = parse_hex(&cursor_text);
            if (*cursor_text == ' ') cursor_text++;
            if (cursor_text[0] == 'r' && cursor_text[1] == 'w' && a->range_count < KIMERA_PROFILER_MAX_RANGES) {
                /* Adjacent writable mappings (a stack and the mapping it grew into) join into one range. */
                if (a->range_count > 0 && a->ranges[a->range_count - 1].high == low) {
                    a->ranges[a->range_count - 1].high = high;
                } else {
                    a->ranges[a->range_count].low = low;
                    a->ranges[a->range_count].high = high;
                    a->range_count++;
                }
            }
            line = newline + 1;
        }
        size_t rest = filled - (size_t)(line - buffer);
        memmove(buffer, line, rest);
        filled = rest;
        if (got <= 0) break;
        if (filled == sizeof(buffer) - 1) filled = 0; /* a line longer than the buffer: skip it */
    }
    close(fd);
}

/* Maps the arena and installs the handler; `mode` is the state the handler then records in. */
static int arm(int mode) {
    int with_handler = mode != STATE_ALLOCS;
    int expected = STATE_IDLE;
    if (!atomic_compare_exchange_strong(&state, &expected, STATE_STARTING)) return EBUSY;
    arena_t *a = mmap(NULL, sizeof(arena_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) {
        int error = errno;
        atomic_store(&state, STATE_IDLE);
        return error;
    }
    load_ranges(a);
    atomic_store(&cursor, 0);
    atomic_store(&samples, 0);
    atomic_store(&dropped, 0);
    atomic_store(&truncated, 0);
    atomic_store_explicit(&arena, a, memory_order_release);
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = handler;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (with_handler && sigaction(SIGPROF, &action, &previous_action) != 0) {
        int error = errno;
        atomic_store(&arena, NULL);
        munmap(a, sizeof(arena_t));
        atomic_store(&state, STATE_IDLE);
        return error;
    }
    atomic_store_explicit(&state, mode, memory_order_release);
    return 0;
}

/* Removes the handler and waits for handlers still running; the arena stays for the last drain. */
static void disarm(void) {
    int with_handler = atomic_load(&state) != STATE_ALLOCS;
    atomic_store(&state, STATE_STOPPING); /* seq_cst: ordered before the in_handler reads below */
    if (!with_handler) {
        struct timespec pause = {0, 1000000};
        for (int attempt = 0; attempt < 1000 && atomic_load(&in_handler) > 0; attempt++) nanosleep(&pause, NULL);
        return;
    }
    /* Ignoring discards a SIGPROF still pending, so restoring the old disposition cannot kill the process. */
    struct sigaction ignore;
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPROF, &ignore, NULL);
    struct timespec pause = {0, 1000000};
    for (int attempt = 0; attempt < 1000 && atomic_load(&in_handler) > 0; attempt++) nanosleep(&pause, NULL);
    sigaction(SIGPROF, &previous_action, NULL);
}

static void release_arena(void) {
    arena_t *a = atomic_exchange(&arena, NULL);
    if (a != NULL) munmap(a, sizeof(arena_t));
    atomic_store_explicit(&state, STATE_IDLE, memory_order_release);
}

int kimera_profiler_start(int hz) {
    if (hz < 1 || hz > 1000) return EINVAL;
    int error = arm(STATE_RUNNING);
    if (error != 0) return error;
    struct itimerval timer;
    long interval = 1000000L / hz;
    timer.it_interval.tv_sec = interval / 1000000L;
    timer.it_interval.tv_usec = interval % 1000000L;
    timer.it_value = timer.it_interval;
    if (setitimer(ITIMER_PROF, &timer, NULL) != 0) {
        error = errno;
        disarm();
        release_arena();
        return error;
    }
    return 0;
}

int kimera_profiler_drain(kimera_profiler_sample *out, int capacity) {
    arena_t *a = atomic_load_explicit(&arena, memory_order_acquire);
    if (a == NULL) return 0;
    int copied = 0;
    for (int index = 0; index < KIMERA_PROFILER_SLOTS && copied < capacity; index++) {
        slot_t *slot = &a->slots[index];
        if (atomic_load_explicit(&slot->status, memory_order_acquire) != SLOT_READY) continue;
        out[copied].thread_id = slot->thread_id;
        out[copied].depth = slot->depth;
        out[copied].value = slot->value;
        out[copied].label = slot->label;
        memcpy(out[copied].pcs, slot->pcs, (size_t)slot->depth * sizeof(uintptr_t));
        copied++;
        atomic_store_explicit(&slot->status, SLOT_FREE, memory_order_release);
    }
    return copied;
}

int kimera_profiler_start_allocations(int64_t rate) {
    int error = arm(STATE_ALLOCS);
    if (error != 0) return error;
    error = kimera_alloc_sampling_start(record_allocation, rate);
    if (error != 0) {
        disarm();
        release_arena();
    }
    return error;
}

void kimera_profiler_stop(kimera_profiler_counts *out) {
    int now = atomic_load(&state);
    if (now != STATE_RUNNING && now != STATE_ALLOCS) return;
    if (now == STATE_ALLOCS) {
        kimera_alloc_sampling_stop();
    } else {
        struct itimerval off;
        memset(&off, 0, sizeof(off));
        setitimer(ITIMER_PROF, &off, NULL);
    }
    disarm();
    if (out != NULL) {
        out->samples = atomic_load(&samples);
        out->dropped = atomic_load(&dropped);
        out->truncated = atomic_load(&truncated);
    }
}

void kimera_profiler_release(void) {
    if (atomic_load(&state) != STATE_STOPPING) return;
    release_arena();
}

int kimera_profiler_running(void) { return atomic_load(&state) != STATE_IDLE; }

typedef struct {
    kimera_loaded_object *out;
    int capacity;
    int count;
} objects_context;

static int each_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    objects_context *context = data;
    for (int index = 0; index < info->dlpi_phnum; index++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[index];
        if (header->p_type != PT_LOAD || (header->p_flags & PF_X) == 0) continue;
        if (context->count < context->capacity) {
            kimera_loaded_object *object = &context->out[context->count];
            object->bias = (uintptr_t)info->dlpi_addr;
            object->exec_start = (uintptr_t)info->dlpi_addr + header->p_vaddr;
            object->exec_end = object->exec_start + header->p_memsz;
            object->exec_offset = header->p_offset;
            const char *name = info->dlpi_name != NULL ? info->dlpi_name : "";
            strncpy(object->path, name, sizeof(object->path) - 1);
            object->path[sizeof(object->path) - 1] = 0;
        }
        context->count++;
    }
    return 0;
}

int kimera_loaded_objects(kimera_loaded_object *out, int capacity) {
    objects_context context = {out, capacity, 0};
    dl_iterate_phdr(each_object, &context);
    return context.count;
}

int kimera_thread_stacks(kimera_profiler_sample *out, int capacity, int wait_ms) {
    int error = arm(STATE_THREADS);
    if (error != 0) return -error;
    pid_t pid = getpid();
    uint64_t sent = 0;
    DIR *tasks = opendir("/proc/self/task");
    if (tasks != NULL) {
        struct dirent *entry;
        while ((entry = readdir(tasks)) != NULL) {
            if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
            pid_t tid = (pid_t)atoi(entry->d_name);
            if (syscall(SYS_tgkill, pid, tid, SIGPROF) == 0) sent++;
        }
        closedir(tasks);
    }
    struct timespec pause = {0, 1000000};
    for (int waited = 0; waited < wait_ms && atomic_load(&samples) < sent; waited++) nanosleep(&pause, NULL);
    disarm();
    int copied = kimera_profiler_drain(out, capacity);
    release_arena();
    return copied;
}

int kimera_deflate_init_gzip(z_stream *stream, int level) {
    /* 15 window bits + 16: a gzip header and trailer around the deflate stream. */
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

int kimera_inflate_init_gzip(z_stream *stream) { return inflateInit2(stream, 15 + 16); }

typedef char *(*cxa_demangle_t)(const char *, char *, size_t *, int *);

static cxa_demangle_t cxa_demangle;
static pthread_once_t cxa_demangle_once = PTHREAD_ONCE_INIT;

static void find_cxa_demangle(void) { cxa_demangle = (cxa_demangle_t)dlsym(RTLD_DEFAULT, "__cxa_demangle"); }

char *kimera_cxx_demangle(const char *mangled) {
    pthread_once(&cxa_demangle_once, find_cxa_demangle);
    cxa_demangle_t demangle = cxa_demangle;
    if (demangle == NULL || mangled == NULL || mangled[0] != '_' || mangled[1] != 'Z') return NULL;
    int status = 0;
    char *result = demangle(mangled, NULL, NULL, &status);
    if (status != 0) {
        free(result);
        return NULL;
    }
    return result;
}
