//! Bakes what `--version` and `checklist_build_info` report into the binary, as Go exporters do
//! with their `-ldflags`: git revision and branch, `rustc` version, build user and date, platform.
use std::process::Command;

/// The trimmed standard output of a command that succeeded and printed something.
fn output_of(program: &str, args: &[&str]) -> Option<String> {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let unknown = || "unknown".to_string();
    let revision = output_of("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(unknown);
    let branch = output_of("git", &["rev-parse", "--abbrev-ref", "HEAD"]).unwrap_or_else(unknown);
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    // "rustc 1.95.0 (abcdef 2026-01-01)" -> "1.95.0"
    let rust_version = output_of(&rustc, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(unknown);
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| unknown());
    let host = output_of("hostname", &[]).unwrap_or_else(unknown);
    // SOURCE_DATE_EPOCH makes reproducible builds print the same date.
    let date = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(epoch) => output_of("date", &["-u", "-d", &format!("@{epoch}"), "+%Y%m%d-%H:%M:%S"]),
        Err(_) => output_of("date", &["-u", "+%Y%m%d-%H:%M:%S"]),
    }
    .unwrap_or_else(unknown);
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_else(|_| unknown());
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| unknown());
    println!("cargo:rustc-env=CHECKLIST_EXPORTER_REVISION={revision}");
    println!("cargo:rustc-env=CHECKLIST_EXPORTER_BRANCH={branch}");
    println!("cargo:rustc-env=CHECKLIST_EXPORTER_RUST_VERSION={rust_version}");
    println!("cargo:rustc-env=CHECKLIST_EXPORTER_BUILD_USER={user}@{host}");
    println!("cargo:rustc-env=CHECKLIST_EXPORTER_BUILD_DATE={date}");
    println!("cargo:rustc-env=CHECKLIST_EXPORTER_PLATFORM={os}/{arch}");
    // The date is the build script's last run: a commit or a branch switch runs it again.
    // In a worktree `.git` is a file: ask git where HEAD and the refs are. A path that does not
    // exist would run this script (and rebuild the crate for a new date) on every build.
    if let Some(git_dir) = output_of("git", &["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
    }
    // Only this branch's ref: other branches' commits must not rebuild this one.
    let common_dir = output_of("git", &["rev-parse", "--git-common-dir"]);
    let branch_ref = output_of("git", &["symbolic-ref", "-q", "HEAD"]);
    if let (Some(common_dir), Some(branch_ref)) = (common_dir, branch_ref) {
        let path = std::path::Path::new(&common_dir).join(branch_ref);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
}
