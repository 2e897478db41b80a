//! Users and their groups as this host's account database knows them, and the Unix permission
//! arithmetic over them: which class of an inode's mode applies to a user (owner, group, other)
//! and whether it grants read, write or search, on the path and on every directory above it.
//!
//! Lookups go through libc (`getpwnam_r`, `getpwuid_r`, `getgrouplist`) and so through NSS, as
//! `login` and the kernel's callers see users: a user that exists only in LDAP or SSSD resolves
//! here, where reading /etc/passwd and /etc/group would not find it. A `_r` call whose buffer is
//! too small fails with ERANGE; the lookup then retries with a buffer twice as large, up to a cap.
//!
//! The permission checks (`permissions` in `checks/files.rs`, `tls_cert_file` in
//! `checks/tls/cert_file.rs`) decide "can uid 1000 write here" from owner, group and mode bits
//! without switching users or touching the file; both use [`reach`].

use std::collections::BTreeSet;
use std::ffi::{CStr, CString};
use std::os::unix::fs::MetadataExt;

/// A user as the account database knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    /// Every group of the user as login would set them: the primary group and the supplementary
    /// groups that list the user.
    pub gids: Vec<u32>,
}

/// Why a user could not be looked up. The first two are answers about the user; the others say
/// the database could not answer.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("no such user")]
    NotFound,
    #[error("the name holds a NUL byte")]
    NulInName,
    #[error("the account entry does not fit in {0} bytes")]
    EntryTooLarge(usize),
    #[error("the user is in more than {0} groups")]
    TooManyGroups(usize),
    #[error("the account database failed: {0}")]
    Database(std::io::Error),
}

/// The first buffer for an entry when `sysconf(_SC_GETPW_R_SIZE_MAX)` names no size (glibc says
/// -1: no fixed limit).
const DEFAULT_ENTRY_BUFFER: usize = 1024;
/// No sane passwd entry needs more; a database that keeps asking for more is refused.
const MAX_ENTRY_BUFFER: usize = 1 << 20;
/// The first room for groups; getgrouplist says how many it needs when that is too few.
const INITIAL_GROUPS: usize = 64;
/// Linux's NGROUPS_MAX: the kernel never gives a process more supplementary groups.
const MAX_GROUPS: usize = 65_536;

/// Looks a user up by name. The account's name is the name asked for, as reasons quote it.
pub fn by_name(name: &str) -> Result<Account, AccountError> {
    let c_name = CString::new(name).map_err(|_| AccountError::NulInName)?;
    let (mut account, _) = lookup(Key::Name(&c_name), entry_buffer_hint(), MAX_ENTRY_BUFFER)?;
    account.name = name.to_string();
    Ok(account)
}

/// Looks a user up by uid.
pub fn by_uid(uid: u32) -> Result<Account, AccountError> {
    lookup(Key::Uid(uid), entry_buffer_hint(), MAX_ENTRY_BUFFER).map(|(account, _)| account)
}

fn entry_buffer_hint() -> usize {
    // SAFETY: sysconf has no preconditions.
    let hint = unsafe { libc::sysconf(libc::_SC_GETPW_R_SIZE_MAX) };
    usize::try_from(hint).ok().filter(|size| *size > 0).unwrap_or(DEFAULT_ENTRY_BUFFER)
}

enum Key<'a> {
    Name(&'a CStr),
    Uid(u32),
}

/// One passwd lookup, starting with a buffer of `start` bytes and doubling it on ERANGE up to
/// `cap`; also returns the buffer size that sufficed (the tests watch it grow).
fn lookup(key: Key<'_>, start: usize, cap: usize) -> Result<(Account, usize), AccountError> {
    let mut size = start.clamp(1, cap.max(1));
    loop {
        // SAFETY: an all-zero passwd is a valid value (null pointers, zero ids); it is only read
        // after getpw*_r has filled it.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut buffer = vec![0 as libc::c_char; size];
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer refers to a live, correctly sized buffer owned by this frame; the
        // strings of `entry` point into `buffer`, which outlives their use below.
        let rc = unsafe {
            match key {
                Key::Name(name) => libc::getpwnam_r(name.as_ptr(), &mut entry, buffer.as_mut_ptr(), size, &mut found),
                Key::Uid(uid) => libc::getpwuid_r(uid, &mut entry, buffer.as_mut_ptr(), size, &mut found),
            }
        };
        match rc {
            0 if found.is_null() => return Err(AccountError::NotFound),
            0 => {
                // SAFETY: on success pw_name is a NUL-terminated string inside `buffer`.
                let name = unsafe { CStr::from_ptr(entry.pw_name) }.to_owned();
                let gids = groups_of(&name, entry.pw_gid)?;
                let account = Account { name: name.to_string_lossy().into_owned(), uid: entry.pw_uid, gids };
                return Ok((account, size));
            }
            libc::ERANGE if size < cap => size = size.saturating_mul(2).min(cap),
            libc::ERANGE => return Err(AccountError::EntryTooLarge(cap)),
            // getpwnam(3): besides "0 and no entry", systems answer "not found" with these.
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Err(AccountError::NotFound),
            errno => return Err(AccountError::Database(std::io::Error::from_raw_os_error(errno))),
        }
    }
}

/// The groups of the user `name` whose primary group is `gid` (getgrouplist includes it).
fn groups_of(name: &CStr, gid: libc::gid_t) -> Result<Vec<u32>, AccountError> {
    let mut groups = vec![0 as libc::gid_t; INITIAL_GROUPS];
    loop {
        let mut count = libc::c_int::try_from(groups.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `groups` has room for `count` entries; getgrouplist writes at most that many.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        if rc >= 0 {
            groups.truncate(usize::try_from(count).unwrap_or(0));
            return Ok(groups);
        }
        // Too few entries: glibc stores the number it needs in `count`.
        if groups.len() >= MAX_GROUPS {
            return Err(AccountError::TooManyGroups(MAX_GROUPS));
        }
        let needed = usize::try_from(count).unwrap_or(0);
        groups.resize(needed.max(groups.len() * 2).min(MAX_GROUPS), 0);
    }
}

// ------------------------------------------------------------------------------------------
// Permission arithmetic

/// Owner, group and permission bits (the low 12 bits of `st_mode`) of one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ownership {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

impl Ownership {
    pub fn of(metadata: &std::fs::Metadata) -> Ownership {
        Ownership { uid: metadata.uid(), gid: metadata.gid(), mode: metadata.mode() & 0o7777 }
    }
}

/// A user as the kernel sees it for permission checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gids: BTreeSet<u32>,
}

impl From<&Account> for Credentials {
    fn from(account: &Account) -> Credentials {
        Credentials { uid: account.uid, gids: account.gids.iter().copied().collect() }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Search,
}

/// What the kernel's `generic_permission` decides for one inode: root passes (CAP_DAC_OVERRIDE;
/// search only when some execute bit is set on a non-directory, which never matters here), else
/// the owner class, else the group class, else other. The classes do not fall through: an owner
/// without the bit is refused even if "other" has it.
pub fn allowed(who: &Credentials, file: Ownership, access: Access) -> bool {
    if who.uid == 0 {
        return true;
    }
    let bit = match access {
        Access::Read => 4,
        Access::Write => 2,
        Access::Search => 1,
    };
    let class = if file.uid == who.uid {
        (file.mode >> 6) & 7
    } else if who.gids.contains(&file.gid) {
        (file.mode >> 3) & 7
    } else {
        file.mode & 7
    };
    class & bit != 0
}

/// Whether `who` can reach a path and `access` it: `Err` with the first of `directories` (the
/// ones above the path, `/` first) that it cannot search, which hides everything below it; else
/// whether the path's own bits grant `access`.
pub fn reach<'a, P: 'a>(
    who: &Credentials,
    directories: impl IntoIterator<Item = &'a (P, Ownership)>,
    target: Ownership,
    access: Access,
) -> Result<bool, &'a (P, Ownership)> {
    if let Some(refused) = directories.into_iter().find(|(_, dir)| !allowed(who, *dir, Access::Search)) {
        return Err(refused);
    }
    Ok(allowed(who, target, access))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Credentials in one expression, for the permission tests here and in `checks/files.rs`.
    pub(crate) fn user(uid: u32, gids: &[u32]) -> Credentials {
        Credentials { uid, gids: gids.iter().copied().collect() }
    }

    pub(crate) fn own(uid: u32, gid: u32, mode: u32) -> Ownership {
        Ownership { uid, gid, mode }
    }

    #[test]
    fn permission_classes_do_not_fall_through() {
        // Owner without write, others with write: the owner is still refused.
        assert!(!allowed(&user(1000, &[1000]), own(1000, 1000, 0o557), Access::Write));
        assert!(allowed(&user(1001, &[]), own(1000, 1000, 0o557), Access::Write));
        assert!(allowed(&user(1000, &[50]), own(0, 50, 0o770), Access::Write));
        assert!(!allowed(&user(1000, &[1000]), own(0, 50, 0o775), Access::Write));
        assert!(allowed(&user(0, &[]), own(1000, 1000, 0o000), Access::Write));
    }

    #[test]
    fn reaching_a_path_needs_search_on_every_directory_above_it() {
        let dirs = [("/", own(0, 0, 0o755)), ("/opt", own(0, 0, 0o700)), ("/opt/app", own(0, 0, 0o700))];
        let app = user(1000, &[1000]);
        assert_eq!(reach(&app, &dirs, own(1000, 1000, 0o644), Access::Read), Err(&dirs[1]));
        assert_eq!(reach(&app, &dirs[..1], own(1000, 1000, 0o644), Access::Read), Ok(true));
        assert_eq!(reach(&app, &dirs[..1], own(1000, 1000, 0o444), Access::Write), Ok(false));
        assert_eq!(reach(&user(0, &[]), &dirs, own(1000, 1000, 0o000), Access::Write), Ok(true));
    }

    #[test]
    fn root_resolves_by_name_and_by_uid() {
        let root = by_name("root").unwrap_or_else(|err| panic!("{err}"));
        assert_eq!((root.name.as_str(), root.uid), ("root", 0));
        assert!(root.gids.contains(&0), "{:?}", root.gids);
        assert_eq!(by_uid(0).unwrap_or_else(|err| panic!("{err}")).name, "root");
    }

    #[test]
    fn the_current_user_resolves() {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        let me = by_uid(uid).unwrap_or_else(|err| panic!("uid {uid}: {err}"));
        assert_eq!(me.uid, uid);
        let again = by_name(&me.name).unwrap_or_else(|err| panic!("{}: {err}", me.name));
        assert_eq!(again, me);
    }

    #[test]
    fn unknown_users_are_not_found() {
        assert!(matches!(by_name("no-such-user-of-checklist-exporter"), Err(AccountError::NotFound)));
        assert!(matches!(by_uid(3_999_999_999), Err(AccountError::NotFound)));
        let err = by_name("nul\0byte").unwrap_err();
        assert!(matches!(err, AccountError::NulInName));
        // The texts the tls_cert_file reasons quote.
        assert_eq!(err.to_string(), "the name holds a NUL byte");
        assert_eq!(AccountError::NotFound.to_string(), "no such user");
    }

    #[test]
    fn a_buffer_too_small_grows_until_the_entry_fits_or_the_cap() {
        let (root, needed) = lookup(Key::Name(c"root"), 1, MAX_ENTRY_BUFFER).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(root.uid, 0);
        assert!(needed > 1 && needed.is_power_of_two(), "grew to {needed}");
        assert!(matches!(lookup(Key::Uid(0), 1, 2), Err(AccountError::EntryTooLarge(2))));
    }
}
