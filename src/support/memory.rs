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
