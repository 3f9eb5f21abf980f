#ifndef KIMERA_PROFILER_H
#define KIMERA_PROFILER_H
/*
 * The CPU sampler behind GET /debug/pprof/profile (issue 25).
 *
 * While a profile runs, a SIGPROF handler (armed by setitimer(ITIMER_PROF), which the kernel delivers to the
 * thread that used the CPU) walks the interrupted thread's frame pointers into a ring of fixed slots that was
 * mapped when the profile started. The handler is async-signal-safe: no locks, no allocation, only atomics
 * and plain stores into the preallocated ring. A reader (Swift) drains the ring while the profile runs.
 * When no profile runs there is no timer, no handler, no thread and no memory: off means off.
 */
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The deepest stack one sample records; deeper stacks keep their innermost frames and count as truncated. */
#define KIMERA_PROFILER_MAX_DEPTH 128
/* Slots in the ring: at 1000 Hz on every core of a small machine, a drain every 20 ms needs far fewer. */
#define KIMERA_PROFILER_SLOTS 2048

/* One drained sample: the thread and its stack, innermost frame first. */
typedef struct {
    int32_t thread_id;
    int32_t depth;
    uint64_t value; /* 1 for a CPU sample or a thread, the allocation's size for an allocation sample */
    int32_t label;  /* a CPU sample's task label (kimera_profiler_label_begin), -1 when none */
    int32_t reserved;
    uintptr_t pcs[KIMERA_PROFILER_MAX_DEPTH];
} kimera_profiler_sample;

/* What kimera_profiler_stop reports about the run. */
typedef struct {
    uint64_t samples;   /* written into the ring */
    uint64_t dropped;   /* lost because every slot tried was full */
    uint64_t truncated; /* stacks cut at KIMERA_PROFILER_MAX_DEPTH */
} kimera_profiler_counts;

/* Starts sampling at `hz` (1...1000). 0 on success, EBUSY when a profile runs already, another errno else. */
int kimera_profiler_start(int hz);

/*
 * Starts sampling allocations instead (GET /debug/pprof/allocs): about one allocation per `rate` bytes is
 * recorded with its stack and size, on the allocating thread (kimera_allocations.h), into the same ring; no
 * timer and no signal handler. kimera_profiler_stop ends it. 0, EBUSY, or ENOTSUP when the allocator is not
 * interposed (the sanitizers).
 */
int kimera_profiler_start_allocations(int64_t rate);

/*
 * Copies up to `capacity` ready samples into `out` and frees their slots; returns how many were copied.
 * Only the one reader of the running profile calls it.
 */
int kimera_profiler_drain(kimera_profiler_sample *out, int capacity);

/*
 * Stops the timer, removes the handler (restoring the disposition SIGPROF had before) and waits for handlers
 * still running. The ring stays until kimera_profiler_release, so that a last drain reads what it holds.
 * `out` may be NULL.
 */
void kimera_profiler_stop(kimera_profiler_counts *out);

/* Unmaps the ring after kimera_profiler_stop: the process is back to having nothing of the profiler. */
void kimera_profiler_release(void);

/*
 * Labels the current Swift task with `label` (>= 0) for CPU samples taken while it runs, whatever thread it
 * runs on: the handler reads the interrupted thread's current task (a thread-local read) and finds it in a
 * fixed table. Returns the slot to pass to kimera_profiler_label_end, or -1 (no task, already labelled,
 * table full). Only worth calling while a profile runs.
 */
int32_t kimera_profiler_label_begin(int32_t label);
void kimera_profiler_label_end(int32_t slot);

/* Whether a profile runs now. */
int kimera_profiler_running(void);

/* A loaded object (the executable or a shared library) as the dynamic loader sees it. */
typedef struct {
    uintptr_t bias;       /* added to the file's virtual addresses */
    uintptr_t exec_start; /* the executable segment's run-time range */
    uintptr_t exec_end;
    uint64_t exec_offset; /* the segment's offset in the file */
    char path[1024];      /* "" for the main executable */
} kimera_loaded_object;

/* Fills up to `capacity` objects; returns how many there are (possibly more than `capacity`). */
int kimera_loaded_objects(kimera_loaded_object *out, int capacity);

/*
 * Thread stacks: signals every thread of the process once (tgkill, the same handler), waits up to `wait_ms`
 * for their samples and copies them into `out`. Returns how many, or -EBUSY while a profile runs.
 */
int kimera_thread_stacks(kimera_profiler_sample *out, int capacity, int wait_ms);

/*
 * A C++ symbol name demangled by the C++ runtime's __cxa_demangle (found with dlsym, so nothing more is
 * linked); a malloc'd string to free, or NULL when the name is not C++ or the runtime is not there.
 */
char *kimera_cxx_demangle(const char *mangled);

/* zlib's deflateInit2 as a function (the header's is a macro Swift cannot call). */
int kimera_deflate_init_gzip(z_stream *stream, int level);
/* inflateInit2 for a gzip stream, likewise. */
int kimera_inflate_init_gzip(z_stream *stream);

#ifdef __cplusplus
}
#endif
#endif
