//! The live checklist page in a real headless Chromium, and the sign-off reports.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{chromium, closed_port, item, wait_for, Daemon};

/// A config whose items end up passing, failing, undecidable and not evaluated yet (a command
/// that runs for 90 s), in three sections, with markup in a title that must show as text.
fn mixed_config() -> String {
    let section = |text: String, name: &str| text.replace("Test Section", name);
    format!(
        "[settings]\nmax_concurrent_checks = 4\n\n\
         [[checks]]\nkind = \"cpu\"\nmin_cores = 1\n{}\n\
         [[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:{}\"\nexpect = \"open\"\nconnect_timeout = \"1s\"\n{}\n\
         [[checks]]\nkind = \"disk\"\npath = \"/nonexistent/checklist-page-test\"\nmin_free_bytes = 1\n{}\n\
         [[checks]]\nkind = \"command\"\nargv = [\"sleep\", \"90\"]\ncommand_timeout = \"80s\"\ninterval = \"10m\"\ntimeout = \"85s\"\n{}\n",
        section(item("infra.cpu", "critical", Some("minimum")), "Infrastructure Readiness")
            .replace("Item infra.cpu", "CPU <script>alert('owned')</script> cores"),
        closed_port(),
        section(item("net.app_port", "critical", None), "Network Configuration"),
        section(item("files.uploads", "warning", Some("minimum")), "File System Preparation"),
        section(item("net.firewall_probe", "info", None), "Network Configuration"),
    )
}

fn start_mixed() -> Daemon {
    let daemon = Daemon::start(&mixed_config());
    wait_for("three items evaluated", Duration::from_secs(30), || daemon.items()["summary"]["pending"] == 1);
    daemon
}

#[test]
fn chromium_renders_every_state_in_checklist_order_with_target_text_escaped() {
    let daemon = start_mixed();
    let output = chromium(&["--dump-dom"], &daemon.url("/"));
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        dom.contains("<h1>Deployment checklist</h1>"),
        "no page in the DOM: {dom}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let count = |needle: &str| dom.matches(needle).count();
    assert_eq!(count("data-state=\"pass\""), 1, "{dom}");
    assert_eq!(count("data-state=\"fail\""), 1);
    assert_eq!(count("data-state=\"error\""), 1);
    assert_eq!(count("data-state=\"pending\""), 1);
    assert!(dom.contains(">Passing</span>") && dom.contains(">Failing</span>") && dom.contains(">Undecidable</span>"));
    assert!(dom.contains(">Not evaluated yet</span>"), "states are named in text, not only by colour");

    let position = |needle: &str| dom.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
    let sections = ["Infrastructure Readiness", "Network Configuration", "File System Preparation"];
    let order: Vec<usize> = sections.iter().map(|s| position(&format!("data-section=\"{s}\""))).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "sections out of checklist order: {order:?}");

    // The title's markup is text: escaped in the DOM, and no script element but the page's own.
    assert!(dom.contains("CPU &lt;script&gt;alert('owned')&lt;/script&gt; cores"), "{dom}");
    assert_eq!(count("<script"), 1, "only /static/page.js: {dom}");
    // The script ran and refreshed the page from /api/v1/items.
    assert!(dom.contains("<span id=\"live-status\"> · live</span>"), "the refresh script did not run: {dom}");
    assert!(dom.contains("Needs attention"));
    assert!(dom.contains("refused the connection"));

    let screenshot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/checklist-page.png");
    let shot =
        chromium(&[&format!("--screenshot={}", screenshot.display()), "--window-size=1280,1400"], &daemon.url("/"));
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "screenshot saved as target/checklist-page.png");
}

#[test]
fn the_page_works_without_javascript_and_filters_to_what_needs_attention() {
    let daemon = start_mixed();
    let page = daemon.get("/?filter=attention");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().unwrap();
    assert!(html.contains("data-state=\"fail\"") && html.contains("data-state=\"error\""));
    assert!(!html.contains("data-state=\"pass\""), "a passing item is not shown when filtering");
    assert!(!html.contains("data-section=\"Infrastructure Readiness\""), "a section with nothing to do is left out");
    assert!(html.contains("<a href=\"./\">Show every item</a>"));
    let full = daemon.get("/").text().unwrap();
    assert!(full.contains("CPU &#60;script&#62;") || full.contains("CPU &lt;script&gt;"), "server-side escaping");
    // Beside each absolute time, the time as a person reads it ("just now", "42 s ago", "in 1 min").
    assert!(full.contains("data-role=\"last-ago\">("), "an evaluated item says how long ago");
    assert!(full.contains("data-role=\"next-in\">(in "), "and when it runs next");
    assert_eq!(daemon.get("/static/page.js").status(), 200);
    assert_eq!(daemon.get("/static/page.css").headers()["content-type"], "text/css; charset=utf-8");
}

#[test]
fn junit_report_parses_and_counts_every_item() {
    let daemon = start_mixed();
    let response = daemon.get("/api/v1/report?format=junit");
    assert_eq!(response.status(), 200);
    let xml = response.text().unwrap();
    let suites = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes())).expect("valid JUnit XML");
    assert_eq!(suites.name, "Deployment Certification");
    assert_eq!(suites.tests, 4);
    assert_eq!(suites.failures, 1);
    assert_eq!(suites.errors, 1);
    assert_eq!(suites.skipped, 1);
    let names: Vec<&str> = suites.suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Infrastructure Readiness", "Network Configuration", "File System Preparation"]);
    let network = &suites.suites[1];
    let failing = network
        .cases
        .iter()
        .find(|c| c.original_name.starts_with("net.app_port"))
        .unwrap_or_else(|| panic!("{:?}", network.cases));
    match &failing.status {
        junit_parser::TestStatus::Failure(failure) => {
            assert!(failure.message.contains("refused the connection"), "{failure:?}");
            assert_eq!(failure.failure_type, "refused");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let cpu = &suites.suites[0].cases[0];
    assert!(
        cpu.original_name.contains("<script>"),
        "names carry the title, escaped in XML and parsed back: {}",
        cpu.original_name
    );
    assert_eq!(daemon.get("/api/v1/report?format=pdf").status(), 400);
}

#[test]
fn markdown_report_is_a_sign_off_sheet() {
    let daemon = start_mixed();
    let markdown = daemon.get("/api/v1/report?format=markdown").text().unwrap();
    assert!(markdown.starts_with("# Deployment Certification\n"));
    assert!(markdown.contains("**1 of 4 items pass; 1 of 2 critical items pass.**"), "{markdown}");
    assert!(markdown.contains("Ready for go-live: **no**"));
    assert!(markdown.contains("## Network Configuration (0 of 2 pass)"));
    assert!(markdown.contains("| fail | critical | Item net.app_port (`net.app_port`) |"), "{markdown}");
    assert!(markdown.contains("CPU &lt;script&gt;"), "markup in a cell is escaped: {markdown}");
}

#[test]
fn check_writes_junit_and_markdown_too() {
    let path = format!("{}/config/checklist.toml", env!("CARGO_MANIFEST_DIR"));
    for (format, start) in [("junit", "<?xml"), ("markdown", "# Deployment Certification")] {
        let output =
            Command::new(common::BINARY).args(["check", "--format", format, "--config.file", &path]).output().unwrap();
        assert!(String::from_utf8_lossy(&output.stdout).starts_with(start), "{format}");
    }
}

/// Serves one fixed HTTP answer with markup in a header value to every connection (at most 100).
fn hostile_header_server() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(100) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nX-Frame-Options: <script>alert('hdr')</script>\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            );
        }
    });
    address
}

#[test]
fn markup_a_target_sends_in_a_header_shows_as_text() {
    let server = hostile_header_server();
    let config = format!(
        "[[checks]]\nkind = \"http_headers\"\nurl = \"http://{server}/\"\n{}\n",
        item("sec.frame_options", "critical", Some("frame_options"))
    );
    let daemon = Daemon::start(&config);
    daemon.wait_ready();
    let reason = daemon.item("sec.frame_options")["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("<script>alert('hdr')</script>"), "the reason quotes the header: {reason}");

    let output = chromium(&["--dump-dom"], &daemon.url("/"));
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(dom.contains("&lt;script&gt;alert('hdr')&lt;/script&gt;"), "{dom}");
    assert_eq!(dom.matches("<script").count(), 1, "no script from the target: {dom}");
    assert!(dom.contains("<span id=\"live-status\"> · live</span>"), "after the script's refresh too");
}

/// Every `href="…"` and `src="…"` of a page, and the addresses its script fetches.
fn references(html: &str, script: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (text, marker) in [(html, " href=\""), (html, " src=\""), (script, "fetch(\"")] {
        for piece in text.split(marker).skip(1) {
            found.push(piece.split('"').next().unwrap().replace("&amp;", "&"));
        }
    }
    found
}

/// `reference` resolved against the page at `base` (a path ending in `/`), as a browser does.
fn resolve(base: &str, reference: &str) -> String {
    if reference.starts_with('/') {
        return reference.to_string();
    }
    format!("{base}{}", reference.trim_start_matches("./"))
}

#[test]
fn below_a_route_prefix_every_link_and_asset_of_the_page_answers() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, mixed_config()).unwrap();
    let daemon = Daemon::start_with(&config, &["--web.route-prefix=/checklist"]);

    // The prefix without its slash leads to the page, so that relative links resolve.
    let no_redirects =
        reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let bare = no_redirects.get(daemon.url("/checklist")).send().unwrap();
    assert_eq!(bare.status(), 302);
    assert_eq!(bare.headers()["location"], "/checklist/");
    assert_eq!(daemon.get("/").status(), 404, "nothing is served outside the prefix");
    assert_eq!(daemon.get("/metrics").status(), 404);

    for page_path in ["/checklist/", "/checklist/?filter=attention"] {
        let page = daemon.get(page_path);
        assert_eq!(page.status(), 200, "{page_path}");
        let html = page.text().unwrap();
        let script = daemon.get("/checklist/static/page.js").text().unwrap();
        let found = references(&html, &script);
        for expected in
            ["static/page.css", "static/page.js", "api/v1/items", "metrics", "api/v1/report?format=markdown"]
        {
            assert!(found.iter().any(|r| r == expected), "{expected} among {found:?}");
        }
        for reference in found.iter().filter(|r| !r.starts_with('#')) {
            let path = resolve("/checklist/", reference);
            assert!(path.starts_with("/checklist/"), "{reference} leaves the prefix");
            let response = daemon.get(&path);
            assert_eq!(response.status(), 200, "{reference} resolved to {path}");
        }
        // In-page anchors name items that are on the page.
        for anchor in found.iter().filter_map(|r| r.strip_prefix('#')) {
            assert!(html.contains(&format!("id=\"{anchor}\"")), "#{anchor}");
        }
    }
}

#[test]
fn chromium_refreshes_the_page_below_a_route_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, mixed_config()).unwrap();
    let daemon = Daemon::start_with(&config, &["--web.route-prefix=/checklist"]);
    wait_for("three items evaluated", Duration::from_secs(30), || {
        daemon.get("/checklist/api/v1/items").json::<serde_json::Value>().unwrap()["summary"]["pending"] == 1
    });
    // The script marks the page live once its fetch of api/v1/items (relative) succeeded.
    let output = chromium(&["--virtual-time-budget=3000", "--dump-dom"], &daemon.url("/checklist/"));
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(dom.contains("id=\"live-status\""), "{dom}");
    let status = dom.split("id=\"live-status\">").nth(1).unwrap().split('<').next().unwrap();
    assert_eq!(status, " · live", "the script's fetch below the prefix");
}

#[test]
fn a_refused_reload_shows_a_banner_with_its_reason_until_a_reload_succeeds() {
    let good =
        format!("[[checks]]\nkind = \"cpu\"\nmin_cores = 1\n{}\n", item("infra.cpu", "critical", Some("minimum")));
    let daemon = Daemon::start(&good);
    daemon.wait_ready();
    assert!(!daemon.get("/").text().unwrap().contains("id=\"reload-refused\""), "no banner before any refusal");

    std::fs::write(&daemon.config, good.replace("kind = \"cpu\"", "kind = \"no_such_kind\"")).unwrap();
    let refused = daemon.client.post(daemon.url("/-/reload")).send().unwrap();
    assert_ne!(refused.status(), 200, "a bad config is refused");
    let html = daemon.get("/").text().unwrap();
    let banner = html.split("id=\"reload-refused\"").nth(1).expect("the page shows the refusal");
    let banner = &banner[..banner.find("</p>").unwrap()];
    assert!(banner.contains("no_such_kind"), "the banner gives the reason: {banner}");
    assert!(html.contains("data-id=\"infra.cpu\""), "the previous config keeps running");

    std::fs::write(&daemon.config, &good).unwrap();
    assert_eq!(daemon.client.post(daemon.url("/-/reload")).send().unwrap().status(), 200);
    assert!(!daemon.get("/").text().unwrap().contains("id=\"reload-refused\""), "the banner goes with a good reload");
}

/// A group over a passing and a failing item, written after them as configs do, and two attested
/// items in another section.
fn grouped_config(attestations: &std::path::Path) -> String {
    let in_section = |text: String, name: &str| text.replace("Test Section", name);
    let attested = |id: &str| {
        format!(
            "[[checks]]\nkind = \"attested\"\nfile = \"{}\"\nvalidity = \"30d\"\ninterval = \"1h\"\n{}\n",
            attestations.display(),
            in_section(item(id, "info", None), "Sign-off")
        )
    };
    format!(
        "[[checks]]\nkind = \"cpu\"\nmin_cores = 1\n{}\n\
         [[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:{}\"\nexpect = \"open\"\nconnect_timeout = \"1s\"\n{}\n\
         [[checks]]\nkind = \"group\"\nmembers = [\"infra.cpu\", \"net.app_port\"]\n{}\n{}{}",
        in_section(item("infra.cpu", "critical", Some("minimum")), "Infrastructure"),
        closed_port(),
        in_section(item("net.app_port", "warning", None), "Infrastructure"),
        in_section(item("infra.ready", "critical", None), "Infrastructure"),
        attested("ev.good"),
        attested("ev.hostile"),
    )
}

#[test]
fn without_javascript_a_group_stands_open_above_its_members_and_filters_are_a_form() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, grouped_config(&dir.path().join("attestations.json"))).unwrap();
    let daemon = Daemon::start_with(&config, &[]);
    wait_for("the members decided", Duration::from_secs(30), || {
        daemon.item("infra.cpu")["state"] == "pass" && daemon.item("infra.ready")["state"] == "fail"
    });

    let html = daemon.get("/").text().unwrap();
    let position = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("{needle} missing: {html}"));
    let group = position("id=\"item-infra.ready\"");
    assert!(group < position("id=\"item-infra.cpu\"") && group < position("id=\"item-net.app_port\""), "above");
    let nested = &html[group..position("id=\"item-infra.cpu\"")];
    assert!(nested.contains("<details open><summary>"), "a failing group starts open: {nested}");
    assert!(nested.contains("1 of 2 members pass"), "{nested}");
    assert!(nested.contains("<ul class=\"items members-list\">"), "{nested}");
    assert_eq!(html.matches("data-id=\"infra.cpu\"").count(), 1, "each item once");
    assert!(html.contains("<form class=\"filters\" method=\"get\" action=\"./\""));
    assert!(html.contains("<option value=\"Sign-off\">Sign-off</option>"), "sections to choose from");
    assert!(html.contains("<div id=\"root-causes\">"), "a place for root causes, above the rest: {html}");

    // The form's query, as a browser sends it: `+` for spaces, the section escaped.
    let failing = daemon.get("/?filter=&section=Infrastructure&severity=&state=fail").text().unwrap();
    assert!(failing.contains("data-id=\"infra.ready\"") && failing.contains("data-id=\"net.app_port\""));
    assert!(!failing.contains("data-id=\"infra.cpu\""), "a passing member is left out");
    assert!(!failing.contains("data-section=\"Sign-off\""));
    assert!(!failing.contains("id=\"attention-title\""), "a filtered page has no attention box: each item once");
    assert!(failing.contains("<option value=\"fail\" selected>Failing</option>"), "the form shows the filter");
    let warnings = daemon.get("/?severity=warning").text().unwrap();
    assert_eq!(warnings.matches("class=\"item ").count(), 1, "only net.app_port is a warning");
    let nothing = daemon.get("/?section=No+Such+Section").text().unwrap();
    assert!(nothing.contains("id=\"nothing-shown\""));
}

#[test]
fn an_attestations_evidence_is_a_link_on_the_page_and_in_the_markdown_report() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, grouped_config(&dir.path().join("attestations.json"))).unwrap();
    let daemon = Daemon::start_with(&config, &["--web.enable-attestation-api"]);
    daemon.wait_ready();
    let good = "https://ci.example.org/runs/42&retry=1";
    // Accepted by the API (no query, no user-info, no white space), but no safe link.
    let hostile = "https://ci.example.org/x\"onmouseover=\"alert(1)";
    for (id, evidence) in [("ev.good", good), ("ev.hostile", hostile)] {
        let body = serde_json::json!({"item": id, "by": "ci", "evidence_url": evidence}).to_string();
        let response = daemon.client.post(daemon.url("/api/v1/attestations")).body(body).send().unwrap();
        assert!(response.status().is_success(), "{}", response.text().unwrap());
    }
    wait_for("both attested", Duration::from_secs(30), || {
        daemon.item("ev.good")["state"] == "pass" && daemon.item("ev.hostile")["state"] == "pass"
    });

    let html = daemon.get("/").text().unwrap();
    let links: Vec<&str> = html.split("<a class=\"evidence\" ").skip(1).map(|l| &l[..l.find('>').unwrap()]).collect();
    assert_eq!(links.len(), 1, "one link, for the safe address: {links:?}");
    let escaped = good.replace('&', "&#38;");
    assert!(
        links[0] == format!("href=\"{escaped}\" rel=\"noopener noreferrer\"")
            || links[0] == format!("href=\"{}\" rel=\"noopener noreferrer\"", good.replace('&', "&amp;")),
        "{links:?}"
    );
    assert!(!html.contains("\"onmouseover=\""), "the hostile address is text, escaped");
    assert!(html.contains("x&#34;onmouseover=&#34;alert(1)") || html.contains("x&quot;onmouseover=&quot;alert(1)"));

    // page.js rebuilds the reason from /api/v1/items with the same rule.
    let output = chromium(&["--dump-dom"], &daemon.url("/"));
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(dom.contains("<span id=\"live-status\"> · live</span>"), "the script refreshed the page: {dom}");
    let links: Vec<&str> = dom.split("<a ").skip(1).filter(|l| l.starts_with("class=\"evidence\"")).collect();
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(
        links[0].starts_with(&format!(
            "class=\"evidence\" href=\"{}\" rel=\"noopener noreferrer\">",
            good.replace('&', "&amp;")
        )),
        "{links:?}"
    );

    let markdown = daemon.get("/api/v1/report?format=markdown").text().unwrap();
    assert!(markdown.contains(&format!("; evidence: [{good}]({good}) |")), "{markdown}");
    assert!(!markdown.contains(&format!("]({hostile}")), "{markdown}");

    let sheet = daemon.get("/api/v1/report?format=html");
    assert_eq!(sheet.headers()["content-type"], "text/html; charset=utf-8");
    let csp = sheet.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let sheet = sheet.text().unwrap();
    let links: Vec<&str> = sheet.split("<a class=\"evidence\" ").skip(1).map(|l| &l[..l.find('>').unwrap()]).collect();
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(links[0] == format!("href=\"{escaped}\" rel=\"noopener noreferrer\""), "{links:?}");
    assert!(!sheet.contains("\"onmouseover=\"") && !sheet.contains("<script"), "{sheet}");
    // Groups above their members, indented; sections as on the page.
    let group = sheet.find("data-id=\"infra.ready\"").unwrap();
    assert!(group < sheet.find("data-id=\"infra.cpu\"").unwrap());
    assert!(sheet.contains("<td class=\"depth-1\">Item infra.cpu <code>infra.cpu</code></td>"), "{sheet}");
}

#[test]
fn a_config_made_by_init_from_the_document_shows_every_line_in_document_order() {
    let document = format!("{}/tests/fixtures/production-deployment-checklist.md", env!("CARGO_MANIFEST_DIR"));
    let init = Command::new(common::BINARY).args(["init", "--from", &document]).output().unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let text = String::from_utf8(init.stdout).unwrap();
    // `init` writes the lines in document order, a group line before its indented lines.
    let in_document: Vec<&str> = text
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("id = \""))
        .map(|rest| rest.trim_end_matches('"'))
        .collect();
    assert_eq!(in_document.len(), 302);
    let daemon = Daemon::start(&text);
    let html = daemon.get("/").text().unwrap();
    let on_page: Vec<&str> = html.split(" data-id=\"").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]).collect();
    assert_eq!(on_page, in_document, "the page lists the document's lines in its order");
    assert!(html.matches("<ul class=\"items members-list\">").count() > 50, "bold parent lines hold their lines");
}

/// A port check and a TLS check of one closed port, and a missing directory: the page leads,
/// without JavaScript, with the port as the one cause worth fixing first, naming the items it
/// clears; the one-item cause (the directory) stays in the item list only. A section filter
/// shows no causes.
#[test]
fn without_javascript_the_page_leads_with_the_cause_that_clears_most() {
    let port = closed_port();
    let config = format!(
        "[[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:{port}\"\nexpect = \"open\"\nconnect_timeout = \"1s\"\n{}\n\
         [[checks]]\nkind = \"tls\"\naddress = \"127.0.0.1:{port}\"\nserver_name = \"localhost\"\n{}\n\
         [[checks]]\nkind = \"disk\"\npath = \"/nonexistent/checklist-causes-test\"\nmin_free_bytes = 1\n{}\n",
        item("net.app_port", "critical", None),
        item("tls.installed", "critical", Some("trusted")),
        item("files.uploads", "warning", Some("minimum")),
    );
    let daemon = Daemon::start(&config);
    wait_for("every item evaluated", Duration::from_secs(30), || daemon.items()["summary"]["pending"] == 0);
    let html = daemon.get("/").text().unwrap();
    let causes = html.find("<h2 id=\"root-causes-title\">Fix these first</h2>").expect("a root causes section");
    assert!(causes < html.find("Needs attention").unwrap(), "the causes come first");
    let entry = format!("data-subject=\"endpoint 127.0.0.1:{port}\"");
    assert_eq!(html.matches(&entry).count(), 1, "{html}");
    assert!(html.contains("clears 2 items"), "{html}");
    assert!(html.contains("<a href=\"#item-net.app_port\">net.app_port</a>, <a href=\"#item-tls.installed\">"));
    assert!(!html.contains("data-subject=\"path /nonexistent"), "a one-item cause does not lead");
    assert!(html.contains("2 of 3 failing or undecidable items come down to this one of 2 causes."), "{html}");
    let api = daemon.items();
    let listed: Vec<&str> =
        api["root_causes"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(listed, ["endpoint", "path"], "the API lists every cause, ranked");
    let filtered = daemon.get("/?section=Test+Section").text().unwrap();
    assert!(!filtered.contains("Fix these first"), "a section filter narrows to rows");
}
