//! What tells one version of a file from another without reading it, so that what was read from
//! a file (trust material, the resolver configuration) can be kept until the file changes.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A file written in place changes its size or times; a file replaced by a rename changes its
/// device or inode. The change time (ctime) cannot be set back by a tool that restores mtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileIdentity {
    pub fn of(metadata: &std::fs::Metadata) -> FileIdentity {
        FileIdentity {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// The identity of the file at `path` (following links). Blocking: a `stat`.
    pub fn of_path(path: &Path) -> std::io::Result<FileIdentity> {
        std::fs::metadata(path).map(|metadata| FileIdentity::of(&metadata))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_written_again_or_replaced_has_another_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "one").unwrap();
        let first = FileIdentity::of_path(&path).unwrap();
        assert_eq!(FileIdentity::of_path(&path).unwrap(), first, "unchanged");
        // Written in place: the size (and, at the kernel's timestamp granularity, the times) move.
        std::fs::write(&path, "three").unwrap();
        let second = FileIdentity::of_path(&path).unwrap();
        assert_ne!(second, first);
        // Replaced by a rename: another inode.
        let other = dir.path().join("new.pem");
        std::fs::write(&other, "three").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_ne!(FileIdentity::of_path(&path).unwrap(), second);
        std::fs::remove_file(&path).unwrap();
        assert!(FileIdentity::of_path(&path).is_err());
    }
}
