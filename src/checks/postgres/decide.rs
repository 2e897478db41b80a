//! The verdicts of a `postgres` check: pure functions of what was read ([`Snapshot`]), the
//! configured limits and the host's RAM, unit-tested below on plain values. A part of the snapshot
//! that could not be read makes only the aspects that need it errors (`cannot_read`).

use std::time::Duration;

use super::sql::{HbaLine, RoleAttributes, Snapshot};
use super::{quote, PostgresCheck, PG_CONNECTIONS_IN_USE, PG_CONNECTIONS_USED_RATIO, PG_DATABASE_SIZE_BYTES};
use super::{PG_INFO, PG_PROBE_QUERY_DURATION, PG_SETTING, TUNING_SETTINGS};
use crate::checks::latency::LatencyTracker;
use crate::checks::Check;
use crate::model::{Cause, Outcome, ProbeFailure, Report, Sample, Verdict};
use crate::support::secret::Secret;
use crate::support::units::{format_bytes, format_duration, format_durations_apart, format_percent};

/// Role attributes an application role must not have.
const PRIVILEGED_ATTRIBUTES: [&str; 4] = ["SUPERUSER", "CREATEROLE", "CREATEDB", "BYPASSRLS"];

impl PostgresCheck {
    /// Every aspect when the server could not be reached: `running` fails when nothing answers,
    /// the others cannot be decided; the password length is still known.
    pub fn decide_unreachable(
        &self,
        server: &str,
        problem: &ProbeFailure,
        password: Option<&Option<Secret>>,
    ) -> Report {
        let mut report = Report::default();
        let not_running = matches!(problem.cause, Cause::Refused | Cause::Timeout | Cause::Unreachable);
        for aspect in Self::ASPECTS {
            let outcome = match *aspect {
                "running" if not_running => {
                    Outcome::fail(problem.cause, format!("PostgreSQL at {server} does not answer: {}", problem.reason))
                }
                "password_strength" => match password {
                    Some(password) => self.decide_password(password.as_ref()),
                    None => Outcome::error(problem.cause, problem.reason.clone()),
                },
                _ => Outcome::error(problem.cause, format!("cannot reach PostgreSQL at {server}: {}", problem.reason)),
            };
            report = report.with(aspect, about_the_problem(outcome, problem));
        }
        report
    }

    /// Every aspect when the password source cannot be read: the fault is the source (named in
    /// `problem`), not the server, which was not tried.
    pub fn decide_without_password(&self, server: &str, problem: &ProbeFailure) -> Report {
        let reason = format!("{}; cannot log in to PostgreSQL at {server} without it", problem.reason);
        Self::ASPECTS.iter().fold(Report::default(), |report, aspect| {
            report.with(aspect, about_the_problem(Outcome::error(problem.cause, reason.clone()), problem))
        })
    }

    pub fn decide_password(&self, password: Option<&Secret>) -> Outcome {
        let min = self.min_password_length.unwrap_or(0);
        match password {
            None => Outcome::fail(
                Cause::Missing,
                format!(
                    "no database password is configured (trust or peer authentication); want at least {min} characters"
                ),
            ),
            Some(password) => {
                let length = password.char_len();
                Outcome::decide(
                    length >= min,
                    Cause::Weak,
                    format!("the database password has {length} characters; want at least {min}"),
                )
            }
        }
    }

    /// Decides every aspect from what was read. `ram` is the database host's memory, if known.
    pub fn decide(
        &self,
        server: &str,
        snapshot: &Snapshot,
        password: Option<&Option<Secret>>,
        ram: Option<u64>,
        latency: &LatencyTracker,
    ) -> Report {
        let identity = &snapshot.identity;
        let mut report = Report::default()
            .sample(
                Sample::new(&PG_INFO, 1.0).label("server", server).label("version", quote(&identity.server_version)),
            )
            .sample(Sample::histogram(&PG_PROBE_QUERY_DURATION, latency.histogram()).label("server", server));

        report = report.with(
            "running",
            Outcome::pass(format!("PostgreSQL {} at {server} answers", quote(&identity.server_version))),
        );
        let expected = |want: &Option<String>, got: &str, what: &str| match want {
            Some(want) => Outcome::decide(
                want == got,
                Cause::Mismatch,
                format!("connected to {what} {}; want {}", quote(got), quote(want)),
            ),
            None => Outcome::pass(format!("connected to {what} {}", quote(got))),
        };
        report = report
            .with("database", expected(&self.expect_database, &identity.database, "database"))
            .with("user", expected(&self.expect_user, &identity.user, "role"));
        report = report.with("least_privilege", decide_privileges(&identity.user, &snapshot.role));
        report = report.with(
            "password_strength",
            match password {
                Some(password) => self.decide_password(password.as_ref()),
                None => Outcome::error(Cause::Io, "the password source could not be read"),
            },
        );

        match &snapshot.tables {
            Ok((missing, alembic_exists)) => {
                report = report.with("schema", decide_tables(&self.expect_tables, missing));
                report = report.with(
                    "migrations",
                    decide_migrations(self.alembic_revision.as_deref(), *alembic_exists, snapshot.alembic.as_ref()),
                );
            }
            Err(problem) => {
                report = report
                    .with("schema", cannot_read(problem, "the table list"))
                    .with("migrations", cannot_read(problem, "the table list"));
            }
        }

        match &snapshot.settings {
            Ok(settings) => {
                let values = [
                    settings.shared_buffers_bytes as f64,
                    settings.effective_cache_size_bytes as f64,
                    settings.max_connections as f64,
                    settings.checkpoint_completion_target,
                ];
                for (name, value) in TUNING_SETTINGS.iter().zip(values) {
                    report =
                        report.sample(Sample::new(&PG_SETTING, value).label("server", server).label("name", *name));
                }
                let memory_share = |name: &'static str, bytes: i64, band: [f64; 2]| match ram {
                    Some(ram) => decide_band(name, bytes, ram, band),
                    None => Outcome::error(
                        Cause::Io,
                        format!("the RAM of the database host is unknown; cannot judge {name} against it"),
                    ),
                };
                report = report
                    .with(
                        "shared_buffers",
                        memory_share("shared_buffers", settings.shared_buffers_bytes, self.shared_buffers_ratio),
                    )
                    .with(
                        "effective_cache_size",
                        memory_share(
                            "effective_cache_size",
                            settings.effective_cache_size_bytes,
                            self.effective_cache_size_ratio,
                        ),
                    )
                    .with(
                        "max_connections",
                        decide_max_connections(settings.max_connections, self.max_connections_range),
                    )
                    .with(
                        "checkpoint_completion_target",
                        decide_checkpoint(settings.checkpoint_completion_target, self.min_checkpoint_completion_target),
                    );
            }
            Err(problem) => {
                for name in TUNING_SETTINGS {
                    report = report.with(name, cannot_read(problem, "the server settings"));
                }
            }
        }

        let connections = match (&snapshot.connections_in_use, &snapshot.settings) {
            (Ok(in_use), Ok(settings)) => {
                let ratio =
                    if settings.max_connections > 0 { *in_use as f64 / settings.max_connections as f64 } else { 1.0 };
                report = report
                    .sample(Sample::new(&PG_CONNECTIONS_IN_USE, *in_use as f64).label("server", server))
                    .sample(Sample::new(&PG_CONNECTIONS_USED_RATIO, ratio).label("server", server));
                decide_connections(*in_use, settings.max_connections, self.max_connections_used_ratio)
            }
            (Err(problem), _) => cannot_read(problem, "the connections in use (pg_stat_activity)"),
            (_, Err(problem)) => cannot_read(problem, "max_connections"),
        };
        report = report.with("connections", connections);

        if let Ok(size) = snapshot.size_bytes {
            report = report.sample(
                Sample::new(&PG_DATABASE_SIZE_BYTES, size as f64)
                    .label("server", server)
                    .label("database", quote(&identity.database)),
            );
        }

        report = report.with(
            "password_encryption",
            match &snapshot.password_encryption {
                Ok(method) => decide_password_encryption(method),
                Err(problem) => cannot_read(problem, "password_encryption"),
            },
        );
        report = report.with(
            "hba_auth",
            match &snapshot.hba {
                Ok(lines) => decide_hba(lines),
                Err(problem) if problem.cause == Cause::Permission => {
                    Outcome::error(problem.cause, problem.reason.clone())
                }
                Err(problem) => cannot_read(problem, "pg_hba_file_rules"),
            },
        );

        let latency_outcome = match &snapshot.probe {
            Some(Err(problem)) => Outcome::error(problem.cause, format!("the probe query failed: {}", problem.reason)),
            _ => decide_latency(latency, self.max_query_latency.0, self.latency_window.0),
        };
        report.with("latency", latency_outcome)
    }
}

/// The method new passwords are stored with: only SCRAM resists a stolen pg_authid.
pub fn decide_password_encryption(method: &str) -> Outcome {
    Outcome::decide(
        method == "scram-sha-256",
        Cause::Insecure,
        format!("password_encryption is {}; want scram-sha-256", quote(method)),
    )
}

/// Authentication methods that send or accept a password weaker than SCRAM, or none at all.
const WEAK_HBA_METHODS: [&str; 3] = ["md5", "password", "trust"];

/// Fails when a line of pg_hba.conf uses md5, password or trust, naming each such line.
pub fn decide_hba(lines: &[HbaLine]) -> Outcome {
    let weak: Vec<String> = lines
        .iter()
        .filter_map(|line| {
            let method = line.method.as_deref()?;
            WEAK_HBA_METHODS.contains(&method).then(|| {
                let mut what = vec![line.connection.clone(), line.databases.join(","), line.users.join(",")];
                what.extend(line.address.clone());
                format!("line {} ({}) uses {method}", line.line, quote(&what.join(" ")))
            })
        })
        .collect();
    if weak.is_empty() {
        return Outcome::pass(format!("no pg_hba.conf line uses md5, password or trust ({} lines)", lines.len()));
    }
    Outcome::fail(
        Cause::Insecure,
        format!("pg_hba.conf {}; want scram-sha-256 (or cert, peer), not md5, password or trust", weak.join("; ")),
    )
}

/// The verdict of an aspect whose part of the snapshot could not be read.
fn cannot_read(failure: &ProbeFailure, what: &str) -> Outcome {
    Outcome::error(failure.cause, format!("cannot read {what}: {}", failure.reason))
}

/// A share of RAM within a band: "shared_buffers is 128 MiB = 3% of 4 GiB RAM; want 15-40%".
pub fn decide_band(name: &str, bytes: i64, ram: u64, band: [f64; 2]) -> Outcome {
    let bytes = bytes.max(0) as u64;
    let ratio = if ram == 0 { 0.0 } else { bytes as f64 / ram as f64 };
    let reason = format!(
        "{name} is {} = {} of {} RAM; want {}-{}",
        format_bytes(bytes),
        format_percent(ratio),
        format_bytes(ram),
        format_percent(band[0]).trim_end_matches('%'),
        format_percent(band[1])
    );
    if ratio < band[0] {
        Outcome::fail(Cause::BelowMinimum, reason)
    } else if ratio > band[1] {
        Outcome::fail(Cause::AboveMaximum, reason)
    } else {
        Outcome::pass(reason)
    }
}

pub fn decide_max_connections(value: i64, range: Option<[u64; 2]>) -> Outcome {
    let Some([low, high]) = range else { return Outcome::pass(format!("max_connections is {value}")) };
    let reason = format!("max_connections is {value}; want {low}-{high}");
    if value < low as i64 {
        Outcome::fail(Cause::BelowMinimum, reason)
    } else if value > high as i64 {
        Outcome::fail(Cause::AboveMaximum, reason)
    } else {
        Outcome::pass(reason)
    }
}

pub fn decide_checkpoint(value: f64, min: f64) -> Outcome {
    // Compared with a little slack: the server prints 0.9 from a float8 that may be 0.8999….
    Outcome::decide(
        value + 1e-9 >= min,
        Cause::BelowMinimum,
        format!("checkpoint_completion_target is {value}; want at least {min}"),
    )
}

pub fn decide_connections(in_use: i64, max_connections: i64, max_ratio: f64) -> Outcome {
    let ratio = if max_connections > 0 { in_use as f64 / max_connections as f64 } else { 1.0 };
    Outcome::decide(
        ratio <= max_ratio,
        Cause::AboveMaximum,
        format!(
            "{in_use} of max_connections {max_connections} in use ({}); want at most {}",
            format_percent(ratio),
            format_percent(max_ratio)
        ),
    )
}

pub fn decide_privileges(user: &str, role: &Result<Option<RoleAttributes>, ProbeFailure>) -> Outcome {
    let user = quote(user);
    match role {
        Err(problem) => cannot_read(problem, "the role attributes (pg_roles)"),
        Ok(None) => Outcome::error(Cause::NotFound, format!("role {user} is not in pg_roles")),
        Ok(Some(role)) => {
            let flags = [role.superuser, role.create_role, role.create_db, role.bypass_rls];
            let held: Vec<&str> =
                PRIVILEGED_ATTRIBUTES.iter().zip(flags).filter(|(_, held)| *held).map(|(name, _)| *name).collect();
            let unwanted = PRIVILEGED_ATTRIBUTES.join(", ");
            if held.is_empty() {
                Outcome::pass(format!("role {user} has none of {unwanted}"))
            } else {
                Outcome::fail(Cause::Insecure, format!("role {user} has {}; want none of {unwanted}", held.join(", ")))
            }
        }
    }
}

pub fn decide_tables(expected: &[String], missing: &[String]) -> Outcome {
    if missing.is_empty() {
        let names: Vec<String> = expected.iter().map(|t| quote(t)).collect();
        Outcome::pass(format!("all {} expected tables exist: {}", expected.len(), names.join(", ")))
    } else {
        let names: Vec<String> = missing.iter().map(|t| quote(t)).collect();
        Outcome::fail(
            Cause::Missing,
            format!("{} of {} expected tables are missing: {}", missing.len(), expected.len(), names.join(", ")),
        )
    }
}

pub fn decide_migrations(
    revision: Option<&str>,
    table_exists: bool,
    rows: Option<&Result<Vec<String>, ProbeFailure>>,
) -> Outcome {
    if !table_exists {
        return Outcome::fail(Cause::Missing, "table alembic_version does not exist: migrations never ran here");
    }
    let rows = match rows {
        Some(Ok(rows)) => rows,
        Some(Err(problem)) => return cannot_read(problem, "alembic_version"),
        None => return Outcome::error(Cause::Io, "alembic_version was not read"),
    };
    let shown: Vec<String> = rows.iter().take(5).map(|r| quote(r)).collect();
    let held = if rows.is_empty() { "no revision".to_string() } else { shown.join(", ") };
    match revision {
        Some(want) => Outcome::decide(
            rows.len() == 1 && rows[0] == want,
            Cause::Mismatch,
            format!("alembic_version holds {held}; want {}", quote(want)),
        ),
        None => Outcome::decide(
            rows.len() == 1,
            Cause::Invalid,
            format!("alembic_version holds {} row(s) ({held}); want exactly one", rows.len()),
        ),
    }
}

pub fn decide_latency(tracker: &LatencyTracker, max: Duration, window: Duration) -> Outcome {
    match tracker.quantile(0.95) {
        None => Outcome::error(Cause::Io, "no probe query has been timed yet"),
        Some(p95) => {
            let (seen, wanted) = format_durations_apart(p95, max);
            Outcome::decide(
                p95 <= max,
                Cause::AboveMaximum,
                format!(
                    "probe query p95 {seen} over {} run(s) in the last {}; want at most {wanted}",
                    tracker.len(),
                    format_duration(window)
                ),
            )
        }
    }
}

/// `outcome`, about what `problem` is about (the unset password variable, the missing password
/// file) when it names that; otherwise the check's database is filled in later.
fn about_the_problem(outcome: Outcome, problem: &ProbeFailure) -> Outcome {
    match (&problem.subject, outcome.verdict) {
        (Some(subject), Verdict::Fail | Verdict::Error) => outcome.about(subject.clone()),
        _ => outcome,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::checks::postgres::sql::{Identity, Settings};
    use crate::checks::postgres::tests::check;
    use crate::model::Verdict;

    const MIB: i64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn snapshot() -> Snapshot {
        Snapshot {
            identity: Identity {
                version: "PostgreSQL 15.5 on x86_64".into(),
                server_version: "15.5".into(),
                database: "dndstory".into(),
                user: "dnduser".into(),
            },
            role: Ok(Some(RoleAttributes::default())),
            settings: Ok(Settings {
                shared_buffers_bytes: 1024 * MIB,
                effective_cache_size_bytes: 3072 * MIB,
                max_connections: 100,
                checkpoint_completion_target: 0.9,
            }),
            connections_in_use: Ok(12),
            size_bytes: Ok(8 * MIB),
            tables: Ok((vec![], true)),
            alembic: Some(Ok(vec!["abc123".into()])),
            probe: Some(Ok(Duration::from_millis(2))),
            password_encryption: Ok("scram-sha-256".into()),
            hba: Ok(vec![]),
        }
    }

    #[test]
    fn weak_hba_lines_are_named_and_scram_passes() {
        let line = |n: i32, kind: &str, method: &str| HbaLine {
            line: n,
            connection: kind.into(),
            databases: vec!["all".into()],
            users: vec!["all".into()],
            address: (kind != "local").then(|| "10.0.0.0".to_string()),
            method: Some(method.into()),
            error: None,
        };
        let good = [line(1, "local", "peer"), line(2, "hostssl", "scram-sha-256")];
        assert_eq!(decide_hba(&good).verdict, Verdict::Pass);
        let outcome = decide_hba(&[line(1, "local", "peer"), line(3, "host", "md5")]);
        assert_eq!(outcome.cause, Some(Cause::Insecure));
        assert_eq!(
            outcome.reason,
            "pg_hba.conf line 3 (host all all 10.0.0.0) uses md5; want scram-sha-256 (or cert, peer), not md5, password or trust"
        );
        assert_eq!(decide_password_encryption("md5").cause, Some(Cause::Insecure));
        assert_eq!(decide_password_encryption("scram-sha-256").verdict, Verdict::Pass);
    }

    #[test]
    fn shared_buffers_reason_states_value_ratio_and_band() {
        let outcome = decide_band("shared_buffers", 128 * MIB, 4 * GIB, [0.15, 0.40]);
        assert_eq!(
            outcome,
            Outcome::fail(Cause::BelowMinimum, "shared_buffers is 128 MiB = 3.1% of 4 GiB RAM; want 15-40%")
        );
        assert_eq!(decide_band("shared_buffers", 1024 * MIB, 4 * GIB, [0.15, 0.40]).verdict, Verdict::Pass);
        let high = decide_band("effective_cache_size", 3900 * MIB, 4 * GIB, [0.50, 0.85]);
        assert_eq!(high.cause, Some(Cause::AboveMaximum));
        assert_eq!(high.reason, "effective_cache_size is 3.8 GiB = 95.2% of 4 GiB RAM; want 50-85%");
    }

    #[test]
    fn the_band_edges_pass() {
        assert_eq!(decide_band("shared_buffers", 1024 * MIB, 4 * GIB, [0.25, 0.25]).verdict, Verdict::Pass);
    }

    #[test]
    fn max_connections_inside_and_outside_the_range() {
        assert_eq!(decide_max_connections(100, Some([20, 500])).reason, "max_connections is 100; want 20-500");
        assert_eq!(decide_max_connections(100, Some([20, 500])).verdict, Verdict::Pass);
        assert_eq!(decide_max_connections(10, Some([20, 500])).cause, Some(Cause::BelowMinimum));
        assert_eq!(decide_max_connections(1000, Some([20, 500])).cause, Some(Cause::AboveMaximum));
    }

    #[test]
    fn checkpoint_completion_target_at_least_the_minimum() {
        assert_eq!(decide_checkpoint(0.9, 0.9).verdict, Verdict::Pass);
        assert_eq!(
            decide_checkpoint(0.5, 0.9),
            Outcome::fail(Cause::BelowMinimum, "checkpoint_completion_target is 0.5; want at least 0.9")
        );
    }

    #[test]
    fn connections_used_ratio_against_the_maximum() {
        assert_eq!(
            decide_connections(85, 100, 0.8),
            Outcome::fail(Cause::AboveMaximum, "85 of max_connections 100 in use (85%); want at most 80%")
        );
        assert_eq!(decide_connections(80, 100, 0.8).verdict, Verdict::Pass);
    }

    #[test]
    fn any_privileged_attribute_fails_least_privilege() {
        let role = RoleAttributes { superuser: true, create_db: true, ..RoleAttributes::default() };
        assert_eq!(
            decide_privileges("dnduser", &Ok(Some(role))),
            Outcome::fail(
                Cause::Insecure,
                "role dnduser has SUPERUSER, CREATEDB; want none of SUPERUSER, CREATEROLE, CREATEDB, BYPASSRLS"
            )
        );
        let plain = decide_privileges("dnduser", &Ok(Some(RoleAttributes::default())));
        assert_eq!(plain.reason, "role dnduser has none of SUPERUSER, CREATEROLE, CREATEDB, BYPASSRLS");
        assert_eq!(plain.verdict, Verdict::Pass);
        let refused = decide_privileges("dnduser", &Err(ProbeFailure::new(Cause::Permission, "permission denied")));
        assert_eq!(refused.verdict, Verdict::Error);
        assert_eq!(refused.cause, Some(Cause::Permission));
    }

    #[test]
    fn missing_tables_are_named() {
        let expected = vec!["users".to_string(), "stories".to_string()];
        assert_eq!(
            decide_tables(&expected, &["stories".to_string()]),
            Outcome::fail(Cause::Missing, "1 of 2 expected tables are missing: stories")
        );
        assert_eq!(decide_tables(&expected, &[]).reason, "all 2 expected tables exist: users, stories");
    }

    #[test]
    fn migrations_at_the_configured_revision_or_exactly_one_row() {
        let one = Ok(vec!["abc123".to_string()]);
        assert_eq!(decide_migrations(Some("abc123"), true, Some(&one)).verdict, Verdict::Pass);
        assert_eq!(
            decide_migrations(Some("def456"), true, Some(&one)),
            Outcome::fail(Cause::Mismatch, "alembic_version holds abc123; want def456")
        );
        assert_eq!(decide_migrations(None, true, Some(&one)).verdict, Verdict::Pass);
        let two = Ok(vec!["a1".to_string(), "b2".to_string()]);
        assert_eq!(
            decide_migrations(None, true, Some(&two)),
            Outcome::fail(Cause::Invalid, "alembic_version holds 2 row(s) (a1, b2); want exactly one")
        );
        let none = Ok(vec![]);
        assert_eq!(
            decide_migrations(None, true, Some(&none)).reason,
            "alembic_version holds 0 row(s) (no revision); want exactly one"
        );
        assert_eq!(decide_migrations(Some("abc123"), false, None).cause, Some(Cause::Missing));
    }

    #[test]
    fn latency_p95_over_the_window_against_the_maximum() {
        let mut tracker = LatencyTracker::default();
        assert_eq!(
            decide_latency(&tracker, Duration::from_millis(100), Duration::from_secs(300)).verdict,
            Verdict::Error
        );
        let start = Instant::now();
        for i in 0..20 {
            tracker.observe(start + Duration::from_secs(i), Duration::from_millis(2), Duration::from_secs(300));
        }
        let fast = decide_latency(&tracker, Duration::from_millis(100), Duration::from_secs(300));
        assert_eq!(fast, Outcome::pass("probe query p95 2ms over 20 run(s) in the last 5m; want at most 100ms"));
        for i in 20..22 {
            tracker.observe(start + Duration::from_secs(i), Duration::from_millis(400), Duration::from_secs(300));
        }
        let slow = decide_latency(&tracker, Duration::from_millis(100), Duration::from_secs(300));
        assert_eq!(slow.cause, Some(Cause::AboveMaximum));
        assert_eq!(slow.reason, "probe query p95 400ms over 22 run(s) in the last 5m; want at most 100ms");
    }

    #[test]
    fn password_length_is_judged_without_showing_it() {
        let mut check = check("postgres://dnduser@127.0.0.1/dndstory");
        check.min_password_length = Some(20);
        let short = check.decide_password(Some(&Secret::new("hunter2-canary")));
        assert_eq!(short, Outcome::fail(Cause::Weak, "the database password has 14 characters; want at least 20"));
        assert_eq!(check.decide_password(None).cause, Some(Cause::Missing));
    }

    #[test]
    fn a_refused_catalog_view_errors_only_the_aspects_that_need_it() {
        let check = check("postgres://dnduser@127.0.0.1/dndstory");
        let mut snap = snapshot();
        snap.connections_in_use = Err(ProbeFailure::new(Cause::Permission, "the server says: permission denied"));
        let report = check.decide("127.0.0.1:5432", &snap, Some(&None), Some(4 * GIB), &LatencyTracker::default());
        let connections = report.outcome("connections").unwrap();
        assert_eq!(connections.verdict, Verdict::Error);
        assert_eq!(
            connections.reason,
            "cannot read the connections in use (pg_stat_activity): the server says: permission denied"
        );
        for aspect in ["running", "least_privilege", "schema", "migrations", "shared_buffers", "max_connections"] {
            assert_eq!(report.outcome(aspect).unwrap().verdict, Verdict::Pass, "{aspect}");
        }
        assert!(report.samples.iter().all(|s| s.family.name != "checklist_pg_connections_used_ratio"));
    }

    #[test]
    fn settings_are_exported_in_bytes_and_numbers() {
        let check = check("postgres://dnduser@127.0.0.1/dndstory");
        let report = check.decide("127.0.0.1:5432", &snapshot(), None, Some(4 * GIB), &LatencyTracker::default());
        let setting = |name: &str| {
            report
                .samples
                .iter()
                .find(|s| s.family.name == "checklist_pg_setting" && s.labels.contains(&("name", name.to_string())))
                .and_then(Sample::gauge_value)
        };
        assert_eq!(setting("shared_buffers"), Some((1024 * MIB) as f64));
        assert_eq!(setting("max_connections"), Some(100.0));
        assert_eq!(setting("checkpoint_completion_target"), Some(0.9));
        assert_eq!(report.outcome("shared_buffers").unwrap().verdict, Verdict::Pass);
        assert_eq!(report.outcome("effective_cache_size").unwrap().verdict, Verdict::Pass);
        assert_eq!(report.outcome("password_strength").unwrap().verdict, Verdict::Error);
    }

    #[test]
    fn unknown_ram_makes_the_memory_shares_undecidable() {
        let check = check("postgres://dnduser@127.0.0.1/dndstory");
        let report = check.decide("127.0.0.1:5432", &snapshot(), Some(&None), None, &LatencyTracker::default());
        assert_eq!(report.outcome("shared_buffers").unwrap().verdict, Verdict::Error);
        assert_eq!(report.outcome("max_connections").unwrap().verdict, Verdict::Pass);
    }

    #[test]
    fn nothing_listening_fails_running_and_leaves_the_rest_undecided() {
        let mut check = check("postgres://dnduser@127.0.0.1/dndstory");
        check.min_password_length = Some(4);
        let problem = ProbeFailure::new(Cause::Refused, "connection refused: nothing listens there");
        let report = check.decide_unreachable("127.0.0.1:5432", &problem, Some(&Some(Secret::new("12345"))));
        assert_eq!(
            report.outcome("running").cloned().unwrap(),
            Outcome::fail(
                Cause::Refused,
                "PostgreSQL at 127.0.0.1:5432 does not answer: connection refused: nothing listens there"
            )
        );
        assert_eq!(report.outcome("schema").unwrap().verdict, Verdict::Error);
        assert_eq!(report.outcome("password_strength").unwrap().verdict, Verdict::Pass);
        let auth = ProbeFailure::new(Cause::Auth, "the server says: password authentication failed");
        let report = check.decide_unreachable("127.0.0.1:5432", &auth, None);
        assert_eq!(report.outcome("running").unwrap().verdict, Verdict::Error);
    }
}
