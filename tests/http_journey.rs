//! `http_journey` against a real web app written for the tests (`common::journey_app`): a whole
//! journey passes step by step and cleans up; a step failing midway stops the later steps but
//! not the cleanup; polling gives up at its bound; a route that never answers 429 fails the
//! rate-limit step; a missing secret is an error naming its variable; secrets and captured
//! tokens reach no output; bad journeys are refused naming the step.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use common::journey_app::{Behaviour, JourneyApp, TOKEN_CANARY};

const PASSWORD_CANARY: &str = "pw-canary-93b1c";
const API_KEY_CANARY: &str = "sk-canary-0f7d2";
const SCRIPT: &str = "<script>alert(1)</script>";

/// The steps of a synthetic user of the reference app, every one decided by an item of its
/// own name, plus one for the whole journey. `password` is the secret's source table.
fn journey(app: &JourneyApp, audio: &std::path::Path, password: &str) -> String {
    let url = app.url("");
    let audio = audio.display();
    let steps = [
        ("register", format!("method = \"POST\"\nurl = \"{url}/api/auth/register\"\njson = {{ email = \"user@example.test\", password = \"{{{{password}}}}\" }}\nexpect = {{ status = [201, 409] }}")),
        ("login", format!("method = \"POST\"\nurl = \"{url}/api/auth/login\"\nform = {{ username = \"user@example.test\", password = \"{{{{password}}}}\" }}\nexpect = {{ status = 200, json_exists = [\"$.access_token\"] }}\ncapture = {{ token = {{ json = \"$.access_token\" }}, session = {{ cookie = \"session\" }} }}")),
        ("me", format!("url = \"{url}/api/me\"\nheaders = {{ authorization = \"Bearer {{{{token}}}}\", cookie = \"session={{{{session}}}}\" }}\nexpect = {{ json_equals = {{ \"$.user\" = \"user@example.test\" }} }}")),
        ("upload", format!("method = \"POST\"\nurl = \"{url}/api/audio\"\nheaders = {{ authorization = \"Bearer {{{{token}}}}\" }}\nmultipart = {{ file = \"{audio}\", content_type = \"audio/wav\", fields = {{ language = \"en\" }} }}\nexpect = {{ status = 201, max_time = \"30s\" }}\ncapture = {{ job = {{ header = \"location\" }} }}")),
        ("transcribe", format!("url = \"{url}{{{{job}}}}\"\nheaders = {{ authorization = \"Bearer {{{{token}}}}\" }}\nexpect = {{ status = 200 }}\npoll = {{ until = {{ json_equals = {{ \"$.status\" = \"done\" }} }}, interval = \"20ms\", max_attempts = 10 }}")),
        ("create_story", format!("method = \"POST\"\nurl = \"{url}/api/stories\"\nheaders = {{ authorization = \"Bearer {{{{token}}}}\" }}\njson = {{ title = \"{SCRIPT}\" }}\nexpect = {{ status = 201, header_matches = {{ \"content-type\" = \"^application/json\", \"x-content-type-options\" = \"^nosniff$\" }} }}\ncapture = {{ story_id = {{ json = \"$.id\" }} }}")),
        ("read_story", format!("url = \"{url}/api/stories/{{{{story_id}}}}\"\nheaders = {{ authorization = \"Bearer {{{{token}}}}\" }}\nexpect = {{ status = 200, json_equals = {{ \"$.title\" = \"{SCRIPT}\" }} }}")),
        ("invalid_input", format!("method = \"POST\"\nurl = \"{url}/api/stories\"\nheaders = {{ authorization = \"Bearer {{{{token}}}}\" }}\njson = {{ title = \"\" }}\nexpect = {{ status = 422 }}")),
        ("wrong_type", format!("method = \"POST\"\nurl = \"{url}/api/audio\"\nheaders = {{ authorization = \"Bearer {{{{token}}}}\" }}\nmultipart = {{ text = \"#!/bin/sh\\necho owned\", filename = \"evil.sh\", content_type = \"application/x-sh\" }}\nexpect = {{ status = [400, 415, 422] }}")),
        ("oversize", format!("method = \"POST\"\nurl = \"{url}/api/audio\"\nheaders = {{ authorization = \"Bearer {{{{token}}}}\" }}\nmultipart = {{ generated_bytes = \"2MiB\", filename = \"big.wav\", content_type = \"audio/wav\" }}\nexpect = {{ status = 413 }}")),
        ("rate_limit", format!("url = \"{url}/api/limited\"\nexpect = {{ status = [200, 429] }}\npoll = {{ until = {{ status = 429, header_matches = {{ \"retry-after\" = \"^[0-9]+$\" }} }}, interval = \"0s\", max_attempts = 20 }}")),
        ("delete_story", format!("method = \"DELETE\"\nurl = \"{url}/api/stories/{{{{story_id}}}}\"\nheaders = {{ authorization = \"Bearer {{{{token}}}}\" }}\nexpect = {{ status = 204 }}\nalways = true")),
    ];
    let mut text = format!(
        "[[checks]]\nkind = \"http_journey\"\nname = \"story_user\"\ntimeout = \"30s\"\nrequest_timeout = \"10s\"\nsecrets = {{ password = {password} }}\n"
    );
    for (name, body) in &steps {
        text.push_str(&format!("\n[[checks.steps]]\nname = \"{name}\"\n{body}\n"));
    }
    text.push_str(&common::item("j.journey", "critical", Some("journey")));
    for (name, _) in &steps {
        text.push_str(&common::item(&format!("j.{name}"), "critical", Some(name)));
    }
    text
}

fn audio_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("sample.wav");
    std::fs::write(&path, b"RIFF\x24\x00\x00\x00WAVEfmt ").unwrap();
    path
}

/// `check --format json` on `config` with `env` set: the items by id and all it printed.
fn check(config: &str, env: &[(&str, &str)]) -> (HashMap<String, serde_json::Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.toml");
    std::fs::write(&path, config).unwrap();
    let output = Command::new(common::BINARY)
        .args(["check", "--format", "json", "--config.file"])
        .arg(&path)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (common::items_by_id(&stdout, &stderr), format!("{stdout}\n{stderr}"))
}

/// Neither the password nor any token the app handed out is in the daemon's metrics, items
/// API, page or logs.
fn assert_no_secret_in_any_output(daemon: &common::Daemon) {
    let outputs = [
        ("metrics", daemon.metrics_text()),
        ("items", daemon.get("/api/v1/items").text().unwrap()),
        ("page", daemon.get("/").text().unwrap()),
        ("logs", daemon.logs().join("\n")),
    ];
    for (name, text) in outputs {
        for canary in [PASSWORD_CANARY, TOKEN_CANARY] {
            assert!(!text.contains(canary), "{canary} in the {name}: {text}");
        }
    }
}

const PASSWORD_ENV: &str = "{ env = \"JOURNEY_TEST_PASSWORD\" }";

#[test]
fn a_whole_journey_passes_step_by_step_and_cleans_up() {
    let app = JourneyApp::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let config = journey(&app, &audio_file(&dir), PASSWORD_ENV);
    let (items, printed) = check(&config, &[("JOURNEY_TEST_PASSWORD", PASSWORD_CANARY)]);
    for (id, item) in &items {
        assert_eq!(item["state"], "pass", "{id}: {item}");
    }
    assert!(app.has_user("user@example.test"));
    assert_eq!(app.deleted().len(), 1, "the cleanup deleted the story: {:?}", app.deleted());
    let reason = |id: &str| common::verdict(&items, id).2;
    assert!(reason("j.journey").starts_with("all 12 steps passed in "), "{}", reason("j.journey"));
    assert!(reason("j.login").ends_with("; captured session, token"), "{}", reason("j.login"));
    assert!(
        reason("j.transcribe").contains(" after 3 attempts"),
        "two polls answer processing: {}",
        reason("j.transcribe")
    );
    assert!(reason("j.rate_limit").contains("answered 429") && reason("j.rate_limit").contains("after 6 attempts"));
    assert!(
        reason("j.read_story").starts_with(&format!("GET {}/api/stories/{{{{story_id}}}} answered 200", app.url("")))
    );
    assert!(!printed.contains(PASSWORD_CANARY) && !printed.contains(TOKEN_CANARY), "{printed}");
}

#[test]
fn a_step_failing_midway_stops_the_later_steps_but_not_the_cleanup() {
    let app = JourneyApp::start(Behaviour { story_read_fails: true, ..Behaviour::default() });
    let dir = tempfile::tempdir().unwrap();
    let config = journey(&app, &audio_file(&dir), PASSWORD_ENV);
    let (items, _) = check(&config, &[("JOURNEY_TEST_PASSWORD", PASSWORD_CANARY)]);
    let url = app.url("");
    assert_eq!(
        common::verdict(&items, "j.read_story"),
        (
            "fail".into(),
            "unexpected_status".into(),
            format!("GET {url}/api/stories/{{{{story_id}}}}: status 500, want 200")
        )
    );
    for later in ["j.invalid_input", "j.wrong_type", "j.oversize", "j.rate_limit"] {
        assert_eq!(
            common::verdict(&items, later),
            (
                "error".into(),
                "unexpected_status".into(),
                "not run: step `read_story` failed (status 500, want 200)".into()
            ),
            "{later}"
        );
    }
    assert_eq!(common::verdict(&items, "j.create_story").0, "pass");
    assert_eq!(common::verdict(&items, "j.delete_story").0, "pass", "the cleanup runs after a failure");
    assert_eq!(app.deleted().len(), 1, "{:?}", app.deleted());
    let (state, cause, reason) = common::verdict(&items, "j.journey");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "unexpected_status"));
    assert_eq!(reason, format!("step `read_story`: GET {url}/api/stories/{{{{story_id}}}}: status 500, want 200"));
}

#[test]
fn polling_gives_up_at_its_bound_and_a_route_that_never_limits_fails() {
    let app = JourneyApp::start(Behaviour { polls_before_done: u32::MAX, rate_limit: 1000, ..Behaviour::default() });
    let dir = tempfile::tempdir().unwrap();
    // Without the transcription the later steps are not run; the rate limit is asked on its own.
    let config = journey(&app, &audio_file(&dir), PASSWORD_ENV);
    let (items, _) = check(&config, &[("JOURNEY_TEST_PASSWORD", PASSWORD_CANARY)]);
    let (state, cause, reason) = common::verdict(&items, "j.transcribe");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "timeout"));
    assert!(
        reason.contains(": still `$.status` is \"processing\", want \"done\" after 10 attempt(s) over "),
        "{reason}"
    );
    let limited = format!(
        "[[checks]]\nkind = \"http_journey\"\nname = \"burst\"\n[[checks.steps]]\nname = \"rate_limit\"\nurl = \"{}\"\nexpect = {{ status = [200, 429] }}\npoll = {{ until = {{ status = 429 }}, interval = \"0s\", max_attempts = 20 }}\n{}",
        app.url("/api/limited"),
        common::item("burst.rate_limit", "warning", Some("rate_limit"))
    );
    // `within` ends the polling before `max_attempts` does.
    let within = limited
        .replace("name = \"burst\"", "name = \"burst_within\"")
        .replace(
            "interval = \"0s\", max_attempts = 20 }",
            "interval = \"20ms\", max_attempts = 1000, within = \"300ms\" }",
        )
        .replace("burst.rate_limit", "within.rate_limit");
    let (items, _) = check(&format!("{limited}\n{within}"), &[]);
    let (state, cause, reason) = common::verdict(&items, "burst.rate_limit");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "timeout"));
    assert!(reason.contains(": still status 200, want 429 after 20 attempt(s) over "), "{reason}");
    let (state, cause, reason) = common::verdict(&items, "within.rate_limit");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "timeout"));
    let attempts: u32 = reason.split(" after ").nth(1).and_then(|rest| rest.split(' ').next()?.parse().ok()).unwrap();
    assert!((1..=16).contains(&attempts), "300 ms at 20 ms intervals allows at most 16 attempts: {reason}");
}

#[test]
fn a_missing_secret_is_an_error_naming_its_variable_and_a_wrong_key_fails() {
    let app = JourneyApp::start(Behaviour { api_key: API_KEY_CANARY.into(), ..Behaviour::default() });
    let config = format!(
        "[[checks]]\nkind = \"http_journey\"\nname = \"openai\"\nsecrets = {{ key = {{ env = \"JOURNEY_TEST_OPENAI_KEY\" }} }}\n[[checks.steps]]\nname = \"models\"\nurl = \"{}\"\nheaders = {{ authorization = \"Bearer {{{{key}}}}\" }}\nexpect = {{ status = 200, json_exists = [\"data[0].id\"] }}\n{}",
        app.url("/v1/models"),
        common::item("openai.models", "critical", Some("models"))
    );
    let (items, _) = check(&config, &[]);
    assert_eq!(
        common::verdict(&items, "openai.models"),
        (
            "error".into(),
            "missing".into(),
            "secret `key`: the environment variable JOURNEY_TEST_OPENAI_KEY is not set or empty".into()
        )
    );
    let (items, _) = check(&config, &[("JOURNEY_TEST_OPENAI_KEY", "sk-wrong-key")]);
    assert_eq!(
        common::verdict(&items, "openai.models").2,
        format!("GET {}: status 401, want 200", app.url("/v1/models"))
    );
    let (items, printed) = check(&config, &[("JOURNEY_TEST_OPENAI_KEY", API_KEY_CANARY)]);
    assert_eq!(common::verdict(&items, "openai.models").0, "pass");
    assert!(!printed.contains(API_KEY_CANARY));
}

#[test]
fn secrets_and_captured_tokens_never_reach_metrics_items_logs_or_the_page() {
    let app = JourneyApp::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("password");
    std::fs::write(&secret_file, format!("{PASSWORD_CANARY}\n")).unwrap();
    let mut config = journey(&app, &audio_file(&dir), &format!("{{ file = \"{}\" }}", secret_file.display()));
    // A step whose answer echoes the captured token, and that fails on it: its reason would
    // quote the token if the check did not scrub it.
    config = config.replace(
        "expect = { json_equals = { \"$.user\" = \"user@example.test\" } }",
        "expect = { json_equals = { \"$.token\" = \"not-the-token\" } }",
    );
    let daemon = common::Daemon::start(&config);
    daemon.wait_ready();
    common::wait_for("the journey's verdict", Duration::from_secs(30), || daemon.item("j.journey")["state"] == "fail");
    let reason = daemon.item("j.me")["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason.ends_with("`$.token` is \"<captured token>\", want \"not-the-token\""), "{reason}");
    // The story was never made: the cleanup that needs its id says so.
    assert_eq!(
        daemon.item("j.delete_story")["reason"],
        "not run: `{{story_id}}` has no value (its step failed or was not run)"
    );
    assert_no_secret_in_any_output(&daemon);
    let metrics = daemon.metrics();
    assert!(
        metrics
            .value("checklist_http_journey_step_duration_seconds", &[("journey", "story_user"), ("step", "login")])
            .is_some(),
        "a step's duration is exported"
    );
}

#[test]
fn bad_journeys_are_refused_naming_the_step_and_the_reason() {
    let step = |name: &str, extra: &str| {
        format!("[[checks.steps]]\nname = \"{name}\"\nurl = \"http://127.0.0.1:1/{name}\"\n{extra}\n")
    };
    let config = |steps: String| {
        format!(
            "[[checks]]\nkind = \"http_journey\"\nname = \"bad\"\n{steps}{}",
            common::item("bad.journey", "info", Some("journey"))
        )
    };
    let cases = [
        (
            config(step("me", "headers = { authorization = \"Bearer {{token}}\" }")),
            "step `me`: headers.authorization: `{{token}}` is neither a secret nor captured by an earlier step",
        ),
        (
            config(
                step("me", "headers = { authorization = \"Bearer {{token}}\" }")
                    + &step("login", "capture = { token = { json = \"$.token\" } }"),
            ),
            "step `me`: headers.authorization: `{{token}}` is captured only by the later step `login`",
        ),
        (
            config(step("login", "capture = { token = { json = \"$.items[x]\" } }")),
            "step `login`: capture `token`: json: `$.items[x]` is not a JSON path like `$.data.token` or `items[0].id`: `[x` is not an index",
        ),
        (
            config(step("poll", "poll = { until = { status = 200 }, interval = \"5s\", max_attempts = 5 }")),
            "is not shorter than the timeout",
        ),
    ];
    for (text, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checklist.toml");
        std::fs::write(&path, &text).unwrap();
        let output =
            Command::new(common::BINARY).args(["--config.check", "--config.file"]).arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(message), "want {message:?} in: {stderr}");
    }
}

/// A journey of two steps: register, then log in with `login_expect`, capturing the token
/// (JSON) and the session (a cookie) the login answer carries.
fn login_journey(app: &JourneyApp, name: &str, password: &str, login_expect: &str) -> String {
    let url = app.url("");
    format!(
        "[[checks]]\nkind = \"http_journey\"\nname = \"{name}\"\nsecrets = {{ password = {password} }}\n\
         [[checks.steps]]\nname = \"register\"\nmethod = \"POST\"\nurl = \"{url}/api/auth/register\"\njson = {{ email = \"user@example.test\", password = \"{{{{password}}}}\" }}\nexpect = {{ status = [201, 409] }}\n\
         [[checks.steps]]\nname = \"login\"\nmethod = \"POST\"\nurl = \"{url}/api/auth/login\"\nform = {{ username = \"user@example.test\", password = \"{{{{password}}}}\" }}\nexpect = {login_expect}\ncapture = {{ token = {{ json = \"$.access_token\" }}, session = {{ cookie = \"session\" }} }}\n{}",
        common::item(&format!("{name}.login"), "critical", Some("login"))
    )
}

#[test]
fn a_step_failing_on_the_answer_that_issues_a_token_does_not_quote_it() {
    let app = JourneyApp::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("password");
    std::fs::write(&secret_file, PASSWORD_CANARY).unwrap();
    let password = format!("{{ file = \"{}\" }}", secret_file.display());
    // Each login fails its assertion on what carries the fresh token: the cookie, the JSON field.
    let config = [
        login_journey(
            &app,
            "cookie",
            &password,
            "{ status = 200, header_matches = { \"set-cookie\" = \"^nothing$\" } }",
        ),
        login_journey(
            &app,
            "field",
            &password,
            "{ status = 200, json_equals = { \"$.access_token\" = \"not-the-token\" } }",
        ),
    ]
    .join("\n");
    let daemon = common::Daemon::start(&config);
    daemon.wait_ready();
    common::wait_for("both logins decided", Duration::from_secs(30), || {
        daemon.item("cookie.login")["state"] == "fail" && daemon.item("field.login")["state"] == "fail"
    });
    let url = app.url("");
    assert_eq!(
        daemon.item("cookie.login")["reason"],
        format!(
            "POST {url}/api/auth/login: `set-cookie` is \"session=<captured session>; Path=/; HttpOnly\", want one matching `^nothing$`"
        )
    );
    assert_eq!(
        daemon.item("field.login")["reason"],
        format!("POST {url}/api/auth/login: `$.access_token` is \"<captured token>\", want \"not-the-token\"")
    );
    assert_no_secret_in_any_output(&daemon);
}

#[test]
fn a_body_cut_at_the_cap_cannot_tell_what_it_lacks_and_subjects_keep_no_query() {
    let app = JourneyApp::start(Behaviour::default());
    let closed = common::closed_port();
    // The answer, `{"detail":"not found"}`, is cut at 8 bytes: `whisper` might follow.
    let config = format!(
        "[[checks]]\nkind = \"http_journey\"\nname = \"cut\"\nmax_body_bytes = 8\n[[checks.steps]]\nname = \"page\"\nurl = \"{}\"\nexpect = {{ status = 404, body_lacks = [\"whisper\"] }}\n{}\n\
         [[checks]]\nkind = \"http_journey\"\nname = \"down\"\n[[checks.steps]]\nname = \"ping\"\nurl = \"http://127.0.0.1:{closed}/health?key=query-canary\"\n{}\n\
         [[checks]]\nkind = \"http\"\nurl = \"http://127.0.0.1:{closed}/other\"\n{}",
        app.url("/nothing?key=query-canary"),
        common::item("cut.page", "critical", Some("page")),
        common::item("down.ping", "critical", Some("ping")),
        common::item("down.http", "warning", Some("status")),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.toml");
    std::fs::write(&path, &config).unwrap();
    let output =
        Command::new(common::BINARY).args(["check", "--format", "json", "--config.file"]).arg(&path).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let items = common::items_by_id(&stdout, &stderr);
    assert_eq!(
        common::verdict(&items, "cut.page"),
        (
            "error".into(),
            "invalid".into(),
            format!(
                "GET {}: the body was cut at 8 bytes; cannot tell whether it lacks `whisper` (raise max_body_bytes)",
                app.url("/nothing?key=query-canary")
            )
        )
    );
    assert_eq!(items["cut.page"]["subject"], serde_json::json!({ "kind": "url", "name": app.url("/nothing") }));
    let endpoint = serde_json::json!({ "kind": "endpoint", "name": format!("127.0.0.1:{closed}") });
    assert_eq!(common::verdict(&items, "down.ping").0, "error");
    assert_eq!(items["down.ping"]["subject"], endpoint, "a refused connection is about the endpoint");
    assert_eq!(items["down.http"]["subject"], endpoint, "as for the `http` kind");
    let document: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let causes = document["root_causes"].as_array().unwrap();
    let shared = causes.iter().find(|c| c["kind"] == "endpoint").unwrap_or_else(|| panic!("{causes:#?}"));
    let mut gathered: Vec<&str> = shared["items"].as_array().unwrap().iter().filter_map(|id| id.as_str()).collect();
    gathered.sort_unstable();
    assert_eq!(gathered, ["down.http", "down.ping"], "one root cause for both kinds: {causes:#?}");
    let subjects: Vec<String> = items.values().map(|item| item["subject"].to_string()).collect();
    assert!(!subjects.concat().contains("query-canary"), "{subjects:?}");
}
