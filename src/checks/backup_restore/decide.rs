//! The verdicts of a restore drill, pure functions of what it measured.

use std::time::Duration;

use crate::checks::backup::{decide_integrity, DumpKind, IntegrityError, Verified};
use crate::model::{Cause, Outcome, ProbeFailure, Subject};
use crate::support::text::excerpt;
use crate::support::units::{format_bytes, format_bytes_apart, format_duration, format_durations_apart};

/// How the restore tool ended.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolExit {
    pub success: bool,
    /// `exit status 1`, `signal 9`.
    pub status: String,
    /// The line of its stderr that says what went wrong, or its first line.
    pub message: String,
}

/// What restoring the newest file of the set did.
#[derive(Clone, Debug, PartialEq)]
pub struct Restored {
    pub file: String,
    /// Reading the file (decrypting, decompressing) while it was handed to the tool.
    pub read: Result<Verified, IntegrityError>,
    /// `psql` or `pg_restore`; `None` when the content was empty and nothing was started.
    pub tool: Option<&'static str>,
    pub exit: Option<ToolExit>,
    /// The tool could not be started.
    pub spawn_error: Option<String>,
    /// What the drill refused to pass on to psql (a meta-command), and on which line.
    pub refused: Option<String>,
    /// The scratch database grew past its bound: (size seen, the bound).
    pub over_size: Option<(u64, u64)>,
    pub elapsed: Duration,
}

impl Restored {
    pub fn succeeded(&self) -> bool {
        decide_restores(self).verdict == crate::model::Verdict::Pass
    }
}

pub fn decide_restores(restored: &Restored) -> Outcome {
    let file = &restored.file;
    let about = Subject::Path(file.clone());
    let tool = restored.tool.unwrap_or("the restore tool");
    if let Some(refusal) = &restored.refused {
        return Outcome::fail(
            Cause::Insecure,
            format!(
                "{file}: {refusal}; the drill passes only SQL and COPY data to psql, so that a dump \
                 cannot switch to another database or run a program"
            ),
        )
        .about(about);
    }
    if let Some((seen, limit)) = restored.over_size {
        let (seen, limit) = format_bytes_apart(seen, limit, false);
        return Outcome::fail(
            Cause::AboveMaximum,
            format!(
                "{file}: the scratch database grew to {seen}, past max_scratch_size {limit}; the restore was stopped"
            ),
        )
        .about(about);
    }
    if let Some(why) = &restored.spawn_error {
        return Outcome::error(Cause::Io, format!("{file}: cannot start {tool}: {why}"))
            .about(Subject::Tool(tool.to_string()));
    }
    let tool_failed = restored.exit.as_ref().filter(|exit| !exit.success);
    if let Some(exit) = tool_failed {
        // The tool's complaint is the cause whenever it stopped: reading then fails only
        // because nobody takes the rest (a broken pipe).
        if !matches!(restored.read, Err(IntegrityError::Truncated { .. } | IntegrityError::Corrupt { .. })) {
            return Outcome::fail(
                Cause::Invalid,
                format!("{file}: {tool} stopped at an error ({}): {}", exit.status, exit.message),
            )
            .about(about);
        }
    }
    let verified = match &restored.read {
        Ok(verified) => verified,
        Err(err) => return decide_integrity(file, &Err(err.clone())).about(about),
    };
    let Some(exit) = &restored.exit else {
        return Outcome::fail(Cause::Invalid, format!("{file} holds no content to restore")).about(about);
    };
    let took = format_duration(restored.elapsed);
    let size = format_bytes(verified.uncompressed_bytes);
    match verified.dump {
        DumpKind::PlainIncomplete => Outcome::fail(
            Cause::Corrupt,
            format!(
                "{file}: psql restored {size} without error, but the dump lacks pg_dump's final \
                 `-- PostgreSQL database dump complete`: it was cut short"
            ),
        )
        .about(about),
        _ if exit.success => {
            let decrypted = verified.decrypted_with.map(|tool| format!(", decrypted with {tool}")).unwrap_or_default();
            Outcome::pass(format!("{file} ({size}{decrypted}) restored with {tool} in {took} without error"))
        }
        _ => Outcome::fail(Cause::Invalid, format!("{file}: {tool} failed ({})", exit.status)).about(about),
    }
}

/// The restore against the recovery time objective.
pub fn decide_duration(restored: &Restored, rto: Duration) -> Outcome {
    let file = &restored.file;
    if !restored.succeeded() {
        return Outcome::error(
            Cause::Invalid,
            format!(
                "the restore of {file} failed after {}; a failed restore has no recovery time",
                format_duration(restored.elapsed)
            ),
        )
        .about(Subject::Path(file.clone()));
    }
    let (seen, wanted) = format_durations_apart(restored.elapsed, rto);
    Outcome::decide(
        restored.elapsed <= rto,
        Cause::AboveMaximum,
        format!("the restore of {file} took {seen}; want at most {wanted} (rto)"),
    )
}

/// The alembic heads of the restored database against production's.
pub fn decide_migrations(
    restored: &Result<Vec<String>, ProbeFailure>,
    production: &Result<Vec<String>, ProbeFailure>,
    production_target: &str,
) -> Outcome {
    let production_about = Subject::Database(production_target.to_string());
    let production = match production {
        Ok(heads) if heads.is_empty() => {
            return Outcome::error(Cause::Invalid, format!("production {production_target}: alembic_version is empty"))
                .about(production_about)
        }
        Ok(heads) => heads,
        Err(problem) => {
            return Outcome::error(
                problem.cause,
                format!("production {production_target}: alembic_version: {}", problem.reason),
            )
            .about(production_about)
        }
    };
    let want = heads(production);
    match restored {
        Err(problem) if problem.cause == Cause::NotFound => Outcome::fail(
            Cause::Missing,
            format!("the restored database has no alembic_version table; production is at {want}"),
        ),
        Err(problem) => {
            Outcome::error(problem.cause, format!("the restored database: alembic_version: {}", problem.reason))
        }
        Ok(restored) => {
            let seen = heads(restored);
            Outcome::decide(
                seen == want,
                Cause::Mismatch,
                if seen == want {
                    format!("the restored database is at alembic head {seen}, as production is")
                } else {
                    format!("the restored database is at alembic head {seen}; production is at {want}")
                },
            )
        }
    }
}

fn heads(rows: &[String]) -> String {
    let mut sorted: Vec<String> = rows.iter().map(|r| excerpt(r, 64)).collect();
    sorted.sort();
    if sorted.is_empty() {
        "none (no rows)".to_string()
    } else {
        sorted.join(", ")
    }
}

/// The row count of one table, restored and in production.
#[derive(Clone, Debug, PartialEq)]
pub struct TableCount {
    pub table: String,
    pub restored: Result<i64, ProbeFailure>,
    pub production: Result<i64, ProbeFailure>,
}

/// One configured invariant query on the restored data.
#[derive(Clone, Debug, PartialEq)]
pub struct Invariant {
    pub query: String,
    pub held: Result<bool, ProbeFailure>,
}

/// How far apart two counts are, relative to production's (at least 1 row).
pub fn drift(restored: i64, production: i64) -> f64 {
    (restored - production).abs() as f64 / production.max(1) as f64
}

fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// Row counts within `tolerance` of production's, and every invariant holding.
pub fn decide_data(counts: &[TableCount], tolerance: f64, invariants: &[Invariant]) -> Outcome {
    let mut within = Vec::new();
    let mut beyond = Vec::new();
    for count in counts {
        let table = &count.table;
        let (restored, production) = match (&count.restored, &count.production) {
            (Ok(restored), Ok(production)) => (*restored, *production),
            (Err(problem), _) => {
                return Outcome::error(problem.cause, format!("the restored database: {table}: {}", problem.reason))
            }
            (_, Err(problem)) => {
                return Outcome::error(problem.cause, format!("production: {table}: {}", problem.reason))
            }
        };
        let apart = drift(restored, production);
        let text = format!("{table}: {restored} restored, {production} in production ({} apart)", percent(apart));
        if apart > tolerance {
            beyond.push(text);
        } else {
            within.push(text);
        }
    }
    let mut failed_invariants = Vec::new();
    for invariant in invariants {
        let query = excerpt(&invariant.query, 120);
        match &invariant.held {
            Ok(true) => {}
            Ok(false) => failed_invariants.push(format!("`{query}` is false")),
            Err(problem) => return Outcome::error(problem.cause, format!("invariant `{query}`: {}", problem.reason)),
        }
    }
    if !beyond.is_empty() {
        return Outcome::fail(
            Cause::Mismatch,
            format!("{}; want row counts within {} of production", beyond.join("; "), percent(tolerance)),
        );
    }
    if !failed_invariants.is_empty() {
        return Outcome::fail(
            Cause::Invalid,
            format!("on the restored data, invariant {}; want every invariant true", failed_invariants.join(", ")),
        );
    }
    let mut parts = Vec::new();
    if !within.is_empty() {
        parts.push(format!("{} (within {})", within.join("; "), percent(tolerance)));
    }
    if !invariants.is_empty() {
        parts.push(format!("{} invariant(s) hold", invariants.len()));
    }
    Outcome::pass(parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::backup::Container;
    use crate::model::Verdict;

    fn verified(dump: DumpKind) -> Verified {
        Verified {
            container: Container::Gzip,
            compressed_bytes: 100,
            uncompressed_bytes: 2048,
            dump,
            checksummed: true,
            decrypted_with: None,
        }
    }

    fn restored(read: Result<Verified, IntegrityError>, success: bool) -> Restored {
        Restored {
            file: "db.sql.gz".into(),
            read,
            tool: Some("psql"),
            exit: Some(ToolExit {
                success,
                status: if success { "exit status 0".into() } else { "exit status 3".into() },
                message: "psql:<stdin>:12: ERROR:  relation \"users\" already exists".into(),
            }),
            spawn_error: None,
            refused: None,
            over_size: None,
            elapsed: Duration::from_millis(1500),
        }
    }

    #[test]
    fn a_clean_restore_passes_and_is_timed_against_the_rto() {
        let good = restored(Ok(verified(DumpKind::PlainComplete)), true);
        let outcome = decide_restores(&good);
        assert_eq!(outcome.verdict, Verdict::Pass);
        assert_eq!(outcome.reason, "db.sql.gz (2 KiB) restored with psql in 1.5s without error");
        assert_eq!(decide_duration(&good, Duration::from_secs(2)).verdict, Verdict::Pass);
        let late = decide_duration(&good, Duration::from_secs(1));
        assert_eq!(late.cause, Some(Cause::AboveMaximum));
        assert_eq!(late.reason, "the restore of db.sql.gz took 1.5s; want at most 1s (rto)");
    }

    #[test]
    fn the_tools_error_a_cut_dump_and_a_truncated_stream_fail_the_restore() {
        let failed =
            decide_restores(&restored(Err(IntegrityError::Write { written: 10, detail: "Broken pipe".into() }), false));
        assert_eq!(failed.cause, Some(Cause::Invalid));
        assert!(
            failed.reason.contains("psql stopped at an error (exit status 3): psql:<stdin>:12: ERROR"),
            "{}",
            failed.reason
        );
        let cut = decide_restores(&restored(Ok(verified(DumpKind::PlainIncomplete)), true));
        assert_eq!(cut.cause, Some(Cause::Corrupt));
        let truncated = restored(Err(IntegrityError::Truncated { format: "gzip", offset: 77 }), false);
        let outcome = decide_restores(&truncated);
        assert_eq!(outcome.cause, Some(Cause::Corrupt));
        assert!(outcome.reason.contains("ends at byte 77"), "{}", outcome.reason);
        assert_eq!(decide_duration(&truncated, Duration::from_secs(60)).verdict, Verdict::Error);
    }

    #[test]
    fn migrations_compare_heads_with_production() {
        let prod = Ok(vec!["abc123".to_string()]);
        assert_eq!(decide_migrations(&Ok(vec!["abc123".into()]), &prod, "db:5432/app").verdict, Verdict::Pass);
        let behind = decide_migrations(&Ok(vec!["0001".into()]), &prod, "db:5432/app");
        assert_eq!(behind.cause, Some(Cause::Mismatch));
        assert_eq!(behind.reason, "the restored database is at alembic head 0001; production is at abc123");
        let missing = decide_migrations(&Err(ProbeFailure::new(Cause::NotFound, "no table")), &prod, "db:5432/app");
        assert_eq!(missing.cause, Some(Cause::Missing));
        let unreachable =
            decide_migrations(&Ok(vec![]), &Err(ProbeFailure::new(Cause::Refused, "refused")), "db:5432/app");
        assert_eq!(unreachable.verdict, Verdict::Error);
    }

    #[test]
    fn data_drift_beyond_tolerance_and_false_invariants_fail() {
        let count = |table: &str, restored: i64, production: i64| TableCount {
            table: table.into(),
            restored: Ok(restored),
            production: Ok(production),
        };
        let ok = decide_data(&[count("users", 98, 100)], 0.05, &[]);
        assert_eq!(ok.verdict, Verdict::Pass, "{}", ok.reason);
        assert_eq!(ok.reason, "users: 98 restored, 100 in production (2.0% apart) (within 5.0%)");
        let drifted = decide_data(&[count("users", 98, 100), count("stories", 50, 100)], 0.05, &[]);
        assert_eq!(drifted.cause, Some(Cause::Mismatch));
        assert_eq!(
            drifted.reason,
            "stories: 50 restored, 100 in production (50.0% apart); want row counts within 5.0% of production"
        );
        let invariant = Invariant { query: "SELECT false".into(), held: Ok(false) };
        let broken = decide_data(&[count("users", 100, 100)], 0.05, &[invariant]);
        assert_eq!(broken.cause, Some(Cause::Invalid));
        assert!(broken.reason.contains("`SELECT false` is false"), "{}", broken.reason);
        assert_eq!(drift(0, 0), 0.0);
        assert_eq!(drift(3, 0), 3.0);
    }
}
