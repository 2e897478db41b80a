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

/// Unmaps the pages of the daemon's own executable, so that only the code it runs from now on
/// is mapped again: called once the first round of evaluations is done and after a reload.
///
/// A page of a mapped file counts in the resident size once the process touched it, and the
/// start-up code (decoding a config of thousands of checks, validating it) is touched once and
/// never again. On kernels that keep files in large page-cache folios (ext4 since Linux 6.16,
/// read-ahead of up to 8 MiB here) one touch maps a whole folio, so the 12 MB binary was nearly
/// all resident: 10.8 MiB of a 32 MiB process at 10,000 `tls` checks, against 8.0 MiB with this
/// (docs/benchmarks.md, "Scale", round 7). For each mapping of the executable that holds no
/// private copy of a page (the relocated read-only data does, and is left alone):
/// * `MADV_RANDOM`: a page faulted back in is read alone, not with a large folio around it;
/// * `MADV_PAGEOUT`: the kernel drops the pages from this process and, when nobody else maps
///   them, from the page cache, so they come back one by one. Linux skips file pages here
///   unless the process may write the file (root, or the owner);
/// * `MADV_DONTNEED`: unmaps whatever `MADV_PAGEOUT` left; those pages stay cached and may
///   come back as whole folios.
///
/// None of these change what the process reads; a failure (an older kernel) leaves the pages
/// as they were.
pub fn release_code_pages() {
    let (Ok(executable), Ok(smaps)) =
        (std::fs::read_link("/proc/self/exe"), std::fs::read_to_string("/proc/self/smaps"))
    else {
        return;
    };
    for (start, end) in code_mappings(&smaps, &executable.to_string_lossy()) {
        // SAFETY: the range is a whole mapping of the executable with no private page (no
        // relocated or written data), so dropping its pages loses nothing: the kernel reads
        // them from the file again on the next touch.
        unsafe {
            let at = start as *mut libc::c_void;
            libc::madvise(at, end - start, libc::MADV_RANDOM);
            libc::madvise(at, end - start, libc::MADV_PAGEOUT);
            libc::madvise(at, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// The address ranges in `smaps` (the text of `/proc/self/smaps`) that map `executable`, are
/// not writable and hold no private page: none in memory (`Anonymous`) and none swapped out
/// (`Swap`). The relocated read-only data is all private copies, and once they are swapped out
/// only `Swap` shows them; dropping those would bring back the file's unrelocated bytes. A
/// mapping is decided at the end of its block, once both counts were read.
fn code_mappings(smaps: &str, executable: &str) -> Vec<(usize, usize)> {
    /// A mapping of the executable being read, with the private pages seen so far.
    struct Candidate {
        range: (usize, usize),
        anonymous: Option<u64>,
        swap: Option<u64>,
    }
    let decide = |candidate: Option<Candidate>, found: &mut Vec<(usize, usize)>| {
        if let Some(Candidate { range, anonymous: Some(0), swap: Some(0) }) = candidate {
            found.push(range);
        }
    };
    let mut found = Vec::new();
    let mut current: Option<Candidate> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some(field) = first.strip_suffix(':') {
            let kib = fields.next().and_then(|value| value.parse::<u64>().ok());
            if let Some(candidate) = current.as_mut() {
                match field {
                    "Anonymous" => candidate.anonymous = kib,
                    "Swap" => candidate.swap = kib,
                    _ => {}
                }
            }
            continue;
        }
        // A mapping's header: range, permissions, offset, device, inode, path (which may hold
        // spaces, and ends in " (deleted)" once the file was replaced, as the executable's
        // link then does too).
        decide(current.take(), &mut found);
        let rest: Vec<&str> = fields.collect();
        let (Some(permissions), Some(path)) = (rest.first(), rest.get(4..).map(|words| words.join(" "))) else {
            continue;
        };
        if path != executable || permissions.contains('w') {
            continue;
        }
        let Some((start, end)) = first.split_once('-') else { continue };
        if let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) {
            current = Some(Candidate { range: (start, end), anonymous: None, swap: None });
        }
    }
    decide(current, &mut found);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_mappings_are_the_executables_unwritten_mappings_without_private_pages() {
        let smaps = "\
5635275d3000-563527888000 r--p 00000000 fe:00 10010639                   /usr/bin/checklist-exporter
Rss:                1216 kB
Anonymous:             0 kB
Swap:                  0 kB
563527888000-563528156000 r-xp 002b4000 fe:00 10010639                   /usr/bin/checklist-exporter
Anonymous:             0 kB
Swap:                  0 kB
563528156000-5635281a5000 r--p 00b81000 fe:00 10010639                   /usr/bin/checklist-exporter
Anonymous:           316 kB
Swap:                  0 kB
5635281a5000-5635281a9000 rw-p 00bcf000 fe:00 10010639                   /usr/bin/checklist-exporter
Anonymous:            16 kB
Swap:                  0 kB
5635281a9000-5635281aa000 rw-p 00000000 00:00 0
Anonymous:             4 kB
7f00000000-7f00001000 r-xp 00000000 fe:00 42                             /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
Swap:                  0 kB
7f00004000-7f00005000 r--p 00000000 fe:00 44                             /usr/bin/checklist exporter
Anonymous:             0 kB
Swap:                  0 kB
";
        assert_eq!(
            code_mappings(smaps, "/usr/bin/checklist-exporter"),
            vec![(0x5635275d3000, 0x563527888000), (0x563527888000, 0x563528156000)]
        );
        // A path with a space is matched whole; the last mapping is decided at the end.
        assert_eq!(code_mappings(smaps, "/usr/bin/checklist exporter"), vec![(0x7f00004000, 0x7f00005000)]);
    }

    #[test]
    fn private_pages_swapped_out_or_counts_not_shown_keep_a_mapping() {
        let header = "563528156000-5635281a5000 r--p 00b81000 fe:00 10010639 /usr/bin/checklist-exporter\n";
        let swapped = format!("{header}Anonymous:             0 kB\nSwap:                316 kB\n");
        assert_eq!(code_mappings(&swapped, "/usr/bin/checklist-exporter"), Vec::new());
        let no_swap_line = format!("{header}Anonymous:             0 kB\n");
        assert_eq!(code_mappings(&no_swap_line, "/usr/bin/checklist-exporter"), Vec::new());
    }

    /// The resident kilobytes of this process's code mappings, from `/proc/self/smaps`.
    fn resident_code_kib() -> u64 {
        let executable = std::fs::read_link("/proc/self/exe").unwrap();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let code = code_mappings(&smaps, &executable.to_string_lossy());
        assert!(!code.is_empty(), "no mapping of {} in /proc/self/smaps", executable.display());
        let mut resident = 0;
        let mut inside = false;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((start, _)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
                inside = code.iter().any(|(s, _)| format!("{s:x}") == start.trim_start_matches('0'));
            } else if inside && first == "Rss:" {
                resident += line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap();
            }
        }
        resident
    }

    #[test]
    fn releasing_code_pages_unmaps_them_and_the_code_still_runs() {
        let before = resident_code_kib();
        release_code_pages();
        // Reading smaps again runs code that comes back from the file, page by page.
        let after = resident_code_kib();
        assert!(after < before, "code mappings held {before} KiB before the release and {after} KiB after");
        assert_eq!(code_mappings("", "/x"), Vec::new());
    }
}
