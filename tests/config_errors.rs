//! One bad config per validation rule, each mapped to the exact message a user sees.

use std::path::Path;
use std::process::Command;

mod common;

const CASES: &[(&str, &str)] = &[
    (
        "group_unknown_member",
        "checks[1] (group of 2 items; items: infra.resources): members: `infra.memory` is not the id of an item in this config",
    ),
    (
        "group_cycle",
        "checks[1] (group of 2 items; items: infra.a): members: groups contain each other in a cycle: infra.a -> infra.b -> infra.a",
    ),
    (
        "group_with_interval",
        "checks[1] (group of 1 item; items: infra.resources): a group has no interval or timeout of its own; it is decided whenever one of its members is",
    ),
    ("group_member_twice", "checks[1] (group of 2 items; items: infra.resources): members: `infra.cpu` is named twice"),
    ("group_contains_itself", "checks[1] (group of 1 item; items: infra.resources): members: a group cannot contain itself"),
    ("unknown_variable", "checks[0]: `${rot}` names no variable; declared: root"),
    ("variable_not_scalar", "vars.uploads: must be a string, a boolean or a number, not array"),
    ("title_too_long", "checks[0] (cpu; items: infra.cpu): item infra.cpu: title: 600 bytes; at most 512"),
    ("enabled_not_boolean", "checks[0] (cpu; items: aws.cpu): enabled: must be true or false"),
    ("unknown_top_level_key", "unknown field `setting`, expected one of `settings`, `checks`, `vars`, `environments`"),
    (
        "unknown_settings_key",
        "unknown field `default_intreval`, expected one of `default_interval`, `default_timeout`, `max_concurrent_checks` for key `settings`",
    ),
    ("syntax_error", "TOML syntax error at line 1, column 10: unclosed array table, expected `]`"),
    ("unknown_kind", "checks[0] (cpus; items: infra.cpu): kind: unknown kind `cpus`; one of cpu, memory, disk, tcp_port, dns, postgres, pgbouncer, tls, tls_cert_file, http, http_headers, https_redirect, cors, http_restricted, metrics_endpoint, http_journey, backup, backup_integrity, backup_restore, directories, permissions, dir_usage, json_log, app_env, env_rule, command, attested, group, vuln_report, prometheus, alertmanager"),
    ("missing_kind", "checks[0] (items: infra.cpu): kind: missing; one of cpu, memory, disk, tcp_port, dns, postgres, pgbouncer, tls, tls_cert_file, http, http_headers, https_redirect, cors, http_restricted, metrics_endpoint, http_journey, backup, backup_integrity, backup_restore, directories, permissions, dir_usage, json_log, app_env, env_rule, command, attested, group, vuln_report, prometheus, alertmanager"),
    (
        "unknown_check_key",
        "checks[0] (cpu; items: infra.cpu): unknown field `min_coers`, expected `min_cores` or `recommended_cores`",
    ),
    ("wrong_type", "checks[0] (cpu; items: infra.cpu): invalid type: string \"two\", expected u32 for key `min_cores`"),
    (
        "bad_duration",
        "checks[0] (cpu; items: infra.cpu): interval: `5 parsecs` is not a duration (unknown time unit \"parsecs\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)); write it like `30s`, `5m` or `6h`",
    ),
    ("zero_interval", "checks[0] (cpu; items: infra.cpu): interval: must be longer than 0s"),
    (
        "timeout_longer_than_interval",
        "checks[0] (cpu; items: infra.cpu): timeout: 1m is longer than the interval 30s; a check must finish before it is due again",
    ),
    (
        "bad_default_timeout",
        "settings.default_timeout: `soon` is not a duration (expected number at 0); write it like `30s`, `5m` or `6h`",
    ),
    ("zero_concurrency", "settings.max_concurrent_checks: must be at least 1"),
    ("no_items", "checks[0]: has no items; add at least one [[checks.items]]"),
    ("empty_file", "checks: the file declares no items, and a checklist with nothing to check would pass every gate (an empty or cut-short file?); add at least one [[checks]] with its [[checks.items]]"),
    ("settings_only", "checks: the file declares no items, and a checklist with nothing to check would pass every gate (an empty or cut-short file?); add at least one [[checks]] with its [[checks.items]]"),
    (
        "unknown_item_key",
        "checks[0], item infra.cpu: unknown field `colour`, expected one of `id`, `section`, `title`, `severity`, `decides`, `line`",
    ),
    ("bad_severity", "checks[0] (cpu; items: infra.cpu): item infra.cpu: severity: `urgent` is not one of critical, warning, info"),
    (
        "bad_item_id",
        "checks[0] (cpu; items: Infra CPU): item `Infra CPU`: id: use lower-case letters, digits, `_`, `.` and `-` (at most 128), starting with a letter or digit",
    ),
    ("empty_title", "checks[0] (cpu; items: infra.cpu): item infra.cpu: title: must not be empty"),
    ("missing_item_field", "checks[0], item infra.cpu: missing field `section`"),
    (
        "duplicate_item_id",
        "checks[1], item infra.cpu: id `infra.cpu` is already used by an item of checks[0]; item ids must be unique",
    ),
    (
        "duplicate_target",
        "checks[1] (disk /; items: infra.disk_ratio): checks[0] is already a disk / check; add the items to that check instead",
    ),
    (
        "missing_decides",
        "checks[0] (cpu; items: infra.cpu): item infra.cpu: decides: missing; a cpu check decides one of minimum, recommended",
    ),
    (
        "unknown_aspect",
        "checks[0] (disk /; items: infra.cpu): item infra.cpu: decides: a disk check cannot decide `maximum`; one of minimum, recommended, free_ratio",
    ),
    (
        "aspect_without_threshold",
        "checks[0] (disk /; items: infra.cpu): min_free_ratio: an item decides `free_ratio`, which needs `min_free_ratio`",
    ),
    ("missing_parameter", "checks[0] (disk; items: infra.cpu): missing field `path`"),
    ("ratio_out_of_range", "checks[0] (memory; items: infra.cpu): max_used_ratio: must be a ratio between 0 and 1, got 80"),
    (
        "recommendation_below_minimum",
        "checks[0] (cpu; items: infra.cpu): recommended_cores: 2 is below min_cores 4; the recommendation must be at least the minimum",
    ),
    (
        "bad_byte_size",
        "checks[0] (disk; items: infra.cpu): `20 furlongs` has an unknown unit `furlongs`; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB for key `min_free_bytes`",
    ),
    ("relative_path", "checks[0] (disk var/lib; items: infra.cpu): path: `var/lib` is not an absolute path"),
    (
        "bad_port_address",
        "checks[0] (tcp_port localhost; items: infra.cpu): address: `localhost` is not host:port (like `127.0.0.1:5432` or `[::1]:8443`)",
    ),
    ("bad_port_expectation", "checks[0] (tcp_port; items: infra.cpu): `ajar` is not one of open, closed for key `expect`"),
    (
        "connect_timeout_too_long",
        "checks[0] (tcp_port 127.0.0.1:80; items: infra.cpu): connect_timeout: 10s is not shorter than the timeout 5s; a silent port must be seen as filtered before the check times out",
    ),
    ("bad_dns_name", "checks[0] (dns exa mple.com; items: infra.cpu): name: `exa mple.com` is not a DNS name"),
    ("bad_expected_address", "checks[0] (dns; items: infra.cpu): invalid IP address syntax for key `expect_addresses[0]`"),
    (
        "pg_bad_sslmode",
        "checks[0] (postgres postgres://dnduser:****@db.internal/dndstory?sslmode=maybe; items: db.running): url: sslmode `maybe` is not one of disable, prefer, require, verify-ca, verify-full",
    ),
    (
        "pg_bad_table_name",
        "checks[0] (postgres db.internal:5432/dndstory; items: db.schema): expect_tables: `users; DROP TABLE users` is not a table name (like `users` or `app.users`)",
    ),
    (
        "pg_connect_timeout_too_long",
        "checks[0] (postgres 127.0.0.1:5432/dndstory; items: db.running): connect_timeout: 5s is not shorter than the timeout 2s; a server that accepts and never answers must be reported as such before the check times out",
    ),
    (
        "pg_remote_without_ram",
        "checks[0] (postgres db.internal:5432/dndstory; items: db.shared_buffers): ram_bytes: an item decides `shared_buffers` of a remote database (db.internal:5432); give the database host's RAM",
    ),
    (
        "pg_two_password_sources",
        "checks[0] (postgres db.internal:5432/dndstory; items: db.running): password_env: give the password in one place: the URL, `password_env` or `password_file`",
    ),
    (
        "pg_upside_down_band",
        "checks[0] (postgres 127.0.0.1:5432/dndstory; items: db.shared_buffers): shared_buffers_ratio: the band [0.4, 0.15] is upside down",
    ),
    (
        "tls_bad_address",
        "checks[0] (tls app.example.com; items: tls.item): address: `app.example.com` is not host:port (like `127.0.0.1:443` or `[::1]:8443`)",
    ),
    (
        "tls_expiry_without_threshold",
        "checks[0] (tls app.example.com:443; items: tls.item): min_remaining: an item decides `expiry`, which needs `min_remaining` (like \"30d\") or `min_remaining_ratio` (like 0.33)",
    ),
    (
        "tls_no_roots",
        "checks[0] (tls app.example.com:443; items: tls.item): system_roots: `system_roots = false` needs `ca_files`",
    ),
    (
        "tls_relative_ca_file",
        "checks[0] (tls app.example.com:443; items: tls.item): ca_files: `certs/ca.pem` must be an absolute path",
    ),
    (
        "tls_bad_remaining_ratio",
        "checks[0] (tls app.example.com:443; items: tls.item): min_remaining_ratio: must be a ratio between 0 and 1, got 33",
    ),
    (
        "tls_bad_server_name",
        "checks[0] (tls not a name@10.0.0.1:443; items: tls.item): server_name: `not a name` is not a DNS name or IP address",
    ),
    (
        "cert_file_key_aspect_without_key",
        "checks[0] (tls_cert_file /etc/ssl/app/fullchain.pem; items: tls.item): key_file: an item decides `key_matches`, which needs `key_file`",
    ),
    (
        "cert_file_names_missing",
        "checks[0] (tls_cert_file /etc/ssl/app/fullchain.pem; items: tls.item): names: an item decides `covers_names`, which needs `names`",
    ),
    (
        "cert_file_relative",
        "checks[0] (tls_cert_file fullchain.pem; items: tls.item): cert_file: `fullchain.pem` must be an absolute path",
    ),
    (
        "cert_file_readable_by_missing",
        "checks[0] (tls_cert_file /etc/ssl/app/fullchain.pem; items: tls.item): readable_by: an item decides `readable_by`, which needs `readable_by`",
    ),
    (
        "http_url_with_credentials",
        "checks[0] (http https://admin:****@app.example.com/health; items: tls.item): url: must not carry credentials (user:password@)",
    ),
    (
        "http_bad_url",
        "checks[0] (http app.example.com/health; items: tls.item): url: `app.example.com/health` is not a URL: relative URL without a base",
    ),
    (
        "http_body_without_assertion",
        "checks[0] (http https://app.example.com/health; items: tls.item): json_path: an item decides `body`, which needs `json_path` and `json_equals`",
    ),
    (
        "http_latency_without_threshold",
        "checks[0] (http https://app.example.com/health; items: tls.item): max_p95_latency: an item decides `latency_p95`, which needs `max_p95_latency`",
    ),
    (
        "http_bad_status",
        "checks[0] (http https://app.example.com/health; items: tls.item): expect_status: 999 is not an HTTP status",
    ),
    (
        "http_zero_redirects",
        "checks[0] (http https://app.example.com/health; items: tls.item): max_redirects: must be at least 1 when `follow_redirects = true`",
    ),
    (
        "headers_bad_referrer_policy",
        "checks[0] (http_headers https://app.example.com/; items: tls.item): referrer_policies: `no-referer` is not a referrer policy; one of no-referrer, no-referrer-when-downgrade, origin, origin-when-cross-origin, same-origin, strict-origin, strict-origin-when-cross-origin, unsafe-url",
    ),
    (
        "redirect_from_https",
        "checks[0] (https_redirect https://app.example.com/; items: tls.item): url: `https://app.example.com/` must use http",
    ),
    (
        "cors_bad_origin",
        "checks[0] (cors https://app.example.com/api (origin evil.example); items: tls.item): origin: `evil.example` is not an origin like `https://evil.example`",
    ),
    (
        "http_unknown_key",
        "checks[0] (http_headers; items: tls.item): unknown field `hsts_max_age`, expected one of `url`, `resolve`, `ca_files`, `system_roots`, `request_timeout`, `max_body_bytes`, `follow_redirects`, `max_redirects`, `hsts_min_max_age`, `hsts_include_subdomains`, `xss_protection`, `referrer_policies`",
    ),
    ("bad_backup_pattern", "checks[0] (backup db; items: backup.age): pattern: `db-[0-9.sql.gz` is not a glob: Pattern syntax error near position 3: invalid range pattern"),
    (
        "restore_foreign_scratch_database",
        "checks[0] (backup_restore postgres-daily; items: dr.database_restore): scratch_database: `dndstory` is not a scratch name: it must start with `checklist_restore_` (lower-case letters, digits, `_`; at most 63), so that no other database is ever dropped",
    ),
    (
        "restore_as_production_role",
        "checks[0] (backup_restore postgres-daily; items: dr.database_restore): scratch_url: restores as `checklist_restore`, production's role on 127.0.0.1:5432; use a dedicated role with CREATEDB",
    ),
    (
        "restore_migrations_without_production",
        "checks[0] (backup_restore postgres-daily; items: dr.database_restore): production_url: an item decides `migrations`, which needs `production_url`",
    ),
    (
        "restore_duration_without_rto",
        "checks[0] (backup_restore postgres-daily; items: dr.database_restore): rto: an item decides `duration`, which needs `rto`",
    ),
    ("bad_backup_set", "checks[0] (backup daily db; items: backup.age): set: `daily db` is not a set name (letters, digits, `_`, `-`, `.`; at most 64)"),
    ("zero_backup_count", "checks[0] (backup db; items: backup.retention): min_count: must be at least 1"),
    ("env_source_missing", "checks[0] (app_env; items: env.debug): file: missing; give `file` (an env file) or `pidfile` (a running process)"),
    ("env_source_both", "checks[0] (app_env /opt/dndstory/config/.env; items: env.debug): file: give either `file` or `pidfile`, not both"),
    ("app_env_without_domain", "checks[0] (app_env /opt/dndstory/config/.env; items: env.hosts): production_domain: an item decides `allowed_hosts`, which needs `production_domain`"),
    ("env_rule_two_rules", "checks[0] (env_rule /opt/dndstory/config/.env WORKERS; items: env.workers): matches: give one rule per check: `matches`, `one_of`, or `min`/`max`"),
    ("bad_env_regex", "checks[0] (env_rule /opt/dndstory/config/.env SENTRY_DSN; items: env.sentry): matches: `^https://(.*` is not a regular expression (unclosed group)"),
    ("empty_argv", "checks[0] (command; items: ops.compose): argv: is empty; give the program and its arguments"),
    ("bad_command_regex", "checks[0] (command docker compose version; items: ops.compose): stdout_matches: `v2\\.[` is not a regular expression (unclosed character class)"),
    ("command_timeout_too_long", "checks[0] (command logrotate -d /etc/logrotate.d/dndstory; items: logs.rotation): command_timeout: 30s is not shorter than the timeout 10s; the command's process group must be killed before the check times out"),
    ("attested_two_items", "checks[0] (attested; items: ops.rollback, ops.support): an attested check decides exactly one item; give each attested item its own check"),
    ("relative_attestation_file", "checks[0] (attested ops.rollback; items: ops.rollback): file: `attestations.json` is not an absolute path"),
    ("bad_json_log_lines", "checks[0] (json_log /opt/dndstory/logs/app.log (last 0 lines); items: logs.structured): lines: 0 is not between 1 and 10000"),
    ("directory_outside_root", "checks[0] (directories /opt/dndstory; items: fs.layout): required: `../etc` is not a relative path inside root"),
    ("prom_neither_query_nor_alert", "checks[0] (prometheus http://127.0.0.1:9090; items: mon.story_success): query: missing; give `query` (a PromQL instant query) or `alert` (the name of an alerting rule)"),
    ("prom_query_and_alert", "checks[0] (prometheus http://127.0.0.1:9090 (query up); items: mon.story_success): alert: give either `query` or `alert`, not both; use a check for each"),
    ("prom_alert_rule_without_alert", "checks[0] (prometheus http://127.0.0.1:9090 (query up); items: alerts.high_error_rate): alert: an item decides `alert_rule`, which needs `alert`"),
    ("prom_query_aspect_without_query", "checks[0] (prometheus http://127.0.0.1:9090 (alert HighErrorRate); items: mon.story_success): query: an item decides `query`, which needs `query`"),
    ("prom_bounds_with_alert", "checks[0] (prometheus http://127.0.0.1:9090 (alert HighErrorRate); items: alerts.high_error_rate): min: bounds the samples of `query`; an `alert` check has none"),
    ("prom_upside_down_band", "checks[0] (prometheus http://127.0.0.1:9090 (query sum(rate(story_generations_total{result=\"success\"}[1h])) / sum(rate(story_generations_total[1h]))); items: mon.story_success): min: the band [1, 0.95] is upside down"),
    ("prom_empty_query", "checks[0] (prometheus http://127.0.0.1:9090 (query   ); items: mon.story_success): query: must not be empty"),
    ("prom_nan_bound", "checks[0] (prometheus http://127.0.0.1:9090 (query up); items: mon.story_success): max: must be a number, not nan"),
    ("prom_url_with_parameters", "checks[0] (prometheus http://127.0.0.1:9090/graph?g0.expr=up (query up); items: mon.story_success): url: `http://127.0.0.1:9090/graph?g0.expr=up` must be the server's base URL, without `?` or `#`"),
    ("prom_same_alert_twice", "checks[1] (prometheus http://127.0.0.1:9090 (alert HighErrorRate); items: alerts.high_error_rate_again): checks[0] is already a prometheus http://127.0.0.1:9090 (alert HighErrorRate) check; add the items to that check instead"),
    ("am_unknown_integration", "checks[0] (alertmanager http://127.0.0.1:9093 (e-mail); items: notify.email): integration: `e-mail` is not an Alertmanager integration; one of email, slack, pagerduty, webhook, opsgenie, victorops, pushover, telegram, discord, msteams, sns, wechat, webex, jira, rocketchat"),
    ("am_integration_aspect_without_integration", "checks[0] (alertmanager http://127.0.0.1:9093; items: notify.email): integration: an item decides `integration`, which needs `integration`"),
    ("permissions_without_uid", "checks[0] (permissions /opt/dndstory/uploads; items: fs.uploads_writable): uid: an item decides `writable`, which needs `uid`"),
];

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/bad/{name}.toml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_bad_fixture_is_refused_with_its_exact_message() {
    for (name, expected) in CASES {
        let path = fixture(name);
        let err = checklist_exporter::config::load(Path::new(&path)).expect_err(name);
        assert_eq!(err.to_string(), format!("{path}: {expected}"), "fixture {name}");
    }
}

#[test]
fn every_fixture_on_disk_has_a_case() {
    let dir = format!("{}/tests/fixtures/bad", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().trim_end_matches(".toml").to_string();
        assert!(CASES.iter().any(|(case, _)| *case == name), "fixture {name} has no expected message");
    }
}

#[test]
fn config_check_exits_2_and_names_the_problem_on_stderr() {
    let path = fixture("unknown_kind");
    let output = Command::new(common::BINARY).args(["--config.check", "--config.file", &path]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown kind `cpus`"), "{stderr}");
}

#[test]
fn config_check_refuses_a_config_without_items_naming_the_file() {
    for name in ["empty_file", "settings_only"] {
        let path = fixture(name);
        let output = Command::new(common::BINARY).args(["--config.check", "--config.file", &path]).output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert_eq!(output.status.code(), Some(2), "{name}: {stdout}{stderr}");
        assert!(!stdout.contains("valid ("), "{name}: {stdout}");
        assert!(stderr.starts_with(&format!("{path}: checks: the file declares no items")), "{name}: {stderr}");
    }
}

#[test]
fn config_check_accepts_the_shipped_default_config() {
    let path = format!("{}/config/checklist.toml", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(common::BINARY).args(["--config.check", "--config.file", &path]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("valid (5 checks, 7 items)"));
}

#[test]
fn a_missing_or_unreadable_config_file_is_named() {
    let err = checklist_exporter::config::load(Path::new("/nonexistent/checklist.toml")).unwrap_err();
    assert_eq!(err.to_string(), "/nonexistent/checklist.toml: cannot read the config file: no such file");
    let err = checklist_exporter::config::load(Path::new("/tmp")).unwrap_err();
    assert_eq!(err.to_string(), "/tmp: cannot read the config file: it is a directory");
}
