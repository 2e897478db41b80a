//! The process's own memory.

/// Hands freed heap memory back to the kernel: after a config load (decoding a large config
/// builds a tree many times the file's size) and after a connection flood. glibc keeps the freed
/// pages in its heap otherwise, and the daemon's resident size would stay at the peak for good.
pub fn release_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it touches no live data.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The glibc allocator settings the daemon runs with, unless the environment sets its own
/// (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`, `GLIBC_TUNABLES`).
/// Measured with 10,000 items (docs/benchmarks.md, "Scale"): the heap held about 21 MB in use
/// while glibc's defaults kept 80 MB, because
/// * every thread that meets a locked arena gets an arena of its own (up to 8 per core), each
///   keeping its freed memory: one arena for the whole process;
/// * a freed large block (the `/api/v1/items` JSON, a decoded config) raises the threshold above
///   which blocks are mapped on their own to that block's size, so the next ones of that size
///   come from the heap and stay there when freed: a fixed threshold keeps them mapped, and
///   a fixed trim threshold returns a freed heap top past 1 MiB at once;
/// * freed blocks of up to 128 bytes wait in "fast bins" that are never merged with their
///   neighbours until a larger request or a trim comes, and keep the pages between the
///   long-lived records of 10,000 checks in use: without them the heap of 10,000 `tls` checks
///   was 1.6 MB smaller at the same CPU (docs/benchmarks.md, "Scale", round 6).
///
/// Must run before the runtime starts its threads (their arenas are made on first use).
pub fn tune_allocator() {
    const SET_BY_ENVIRONMENT: [&str; 4] =
        ["MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"];
    if SET_BY_ENVIRONMENT.iter().any(|name| std::env::var_os(name).is_some()) {
        return;
    }
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes the allocator's parameters; called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * 1024);
        libc::mallopt(libc::M_MXFAST, 0);
    }
}

/// How big an output must be before the memory freed after building it is handed back: below
/// this the transient allocations are small enough to be reused in place.
pub const LARGE_OUTPUT_BYTES: usize = 1 << 20;

/// [`release_freed_memory`] after an output of `bytes` was built, when it was a large one (the
/// exposition of thousands of items, the state file of their verdicts): building it took a
/// snapshot or a copy of the store and many small pieces, freed between the long-lived
/// records, which glibc would otherwise keep as holes in the heap.
pub fn release_after_large_output(bytes: usize) {
    if bytes >= LARGE_OUTPUT_BYTES {
        release_freed_memory();
    }
}
