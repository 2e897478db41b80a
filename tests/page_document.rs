//! The page of the reference checklist (`config/dndstory.toml`, its targets on loopback) in a
//! real Chromium driven over WebDriver (Debian `chromium-driver`): sections in the document's
//! order, groups above their members and collapsible, the attention view without duplicates,
//! the filter form; and screenshots on a desktop and a phone, kept under
//! `target/test-artifacts/` for a person to look at.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use common::{closed_port, on_loopback, wait_for, Daemon};

const CONFIG: &str = "config/dndstory.toml";
const DOCUMENT: &str = "tests/fixtures/production-deployment-checklist.md";

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// A chromedriver process and one headless Chromium session in it; both end on drop.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let port = closed_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (Debian package `chromium-driver`; tests/run.sh installs it)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let mut browser =
            Browser { driver, base, session: String::new(), http, _profile: tempfile::tempdir().unwrap() };
        wait_for("chromedriver ready", Duration::from_secs(30), || {
            browser.http.get(format!("{}/status", browser.base)).send().is_ok_and(|r| r.status().is_success())
        });
        let profile = format!("--user-data-dir={}", browser._profile.path().display());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,900", profile,
            ]}
        }}});
        let answer = browser.call("POST", "/session", capabilities);
        browser.session = answer["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {answer}")).to_string();
        browser
    }

    /// One WebDriver command; returns its `value`, panics with the driver's error.
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = if path == "/session" { format!("{}{path}", self.base) } else { self.url(path) };
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let response = request.send().unwrap();
        let status = response.status();
        let answer: Value = response.json().unwrap();
        assert!(status.is_success(), "WebDriver {method} {path}: {status} {answer}");
        answer["value"].clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    fn open(&self, url: &str) {
        self.call("POST", "/url", json!({ "url": url }));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    fn run(&self, script: &str, args: Value) -> Value {
        self.call("POST", "/execute/sync", json!({ "script": script, "args": args }))
    }

    /// A real click, as a person's: the driver scrolls to the element and clicks its centre.
    fn click(&self, css: &str) {
        let element = self.call("POST", "/element", json!({"using": "css selector", "value": css}));
        let id = element.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).unwrap().to_string();
        self.call("POST", &format!("/element/{id}/click"), json!({}));
    }

    /// The viewport of a device: `width` x `height` CSS pixels, touch and mobile layout on a phone.
    fn device(&self, width: u32, height: u32, mobile: bool) {
        let params = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
        self.call("POST", "/goog/cdp/execute", json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": params}));
    }

    /// A screenshot of the viewport saved as `target/test-artifacts/{name}.png`; returns its size.
    fn screenshot(&self, name: &str) -> (u32, u32) {
        let encoded = self.call("GET", "/screenshot", Value::Null);
        let png = base64::engine::general_purpose::STANDARD.decode(encoded.as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        let dimension = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        (dimension(16), dimension(20))
    }

    /// Waits for the page's script to have refreshed it once from `/api/v1/items`.
    fn wait_live(&self) {
        let limit = Instant::now() + Duration::from_secs(30);
        while self.run("return document.getElementById('live-status').textContent", json!([])) != " · live" {
            assert!(Instant::now() < limit, "the page never refreshed itself");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.http.delete(self.url("")).send();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The headings of the document (`###` and `####`) in order, as plain words.
fn document_headings() -> Vec<String> {
    read(DOCUMENT)
        .lines()
        .filter(|line| line.starts_with("### ") || line.starts_with("#### "))
        .map(|line| {
            let text: String = line.trim_start_matches('#').replace("**", "");
            text.trim_matches(|c: char| !c.is_alphanumeric()).to_string()
        })
        .collect()
}

/// The reference checklist's daemon, every item evaluated once.
fn start_reference() -> (Daemon, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dndstory.toml");
    std::fs::write(&config, on_loopback(&read(CONFIG))).unwrap();
    let daemon = Daemon::start_with(&config, &[]);
    wait_for("a first evaluation of every item", Duration::from_secs(180), || {
        daemon.items()["summary"]["pending"] == 0
    });
    (daemon, dir)
}

/// The ids of the items the API says need attention: failing, undecidable or stale.
fn needing_attention(daemon: &Daemon) -> HashSet<String> {
    let items = daemon.items();
    let needs = |i: &&Value| i["stale"] == true || i["state"] == "fail" || i["state"] == "error";
    items["items"].as_array().unwrap().iter().filter(needs).map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

/// For each item that a group of its own section names: the ids of those groups.
fn same_section_groups() -> HashMap<String, Vec<String>> {
    let document: toml::Table = read(CONFIG).parse().unwrap();
    let checks = document["checks"].as_array().unwrap();
    let mut section_of: HashMap<&str, &str> = HashMap::new();
    for item in checks.iter().filter_map(|check| check.get("items")?.as_array()).flatten() {
        section_of.insert(item["id"].as_str().unwrap(), item["section"].as_str().unwrap());
    }
    let mut groups: HashMap<String, Vec<String>> = HashMap::new();
    for check in checks.iter().filter(|c| c["kind"].as_str() == Some("group")) {
        let group = check["items"][0]["id"].as_str().unwrap();
        for member in check["members"].as_array().unwrap().iter().filter_map(|m| m.as_str()) {
            if section_of.get(member) == section_of.get(group) {
                groups.entry(member.to_string()).or_default().push(group.to_string());
            }
        }
    }
    groups
}

#[test]
fn the_reference_checklist_page_follows_the_document_in_chromium() {
    let (daemon, _dir) = start_reference();
    let browser = Browser::start();
    browser.device(1280, 900, false);
    browser.open(&daemon.url("/"));
    browser.wait_live();

    // Sections in the document's order.
    let sections =
        browser.run("return [...document.querySelectorAll('section.section')].map(s => s.dataset.section)", json!([]));
    let sections: Vec<String> = serde_json::from_value(sections).unwrap();
    let headings = document_headings();
    for section in &sections {
        assert!(headings.contains(section), "section `{section}` is no heading of the document: {headings:?}");
    }
    let expected: Vec<&String> = headings.iter().filter(|h| sections.contains(h)).collect();
    assert_eq!(sections.iter().collect::<Vec<_>>(), expected, "sections out of the document's order");
    assert_eq!(sections.len(), 27);

    // The page leads with "Fix these first": at most a dozen causes, above the attention box
    // and the sections, ranked by weight (the attestations, when shown, last), no item under
    // two causes, and together most of the failing items.
    let causes = browser.run(
        "const list = document.querySelector('#root-causes ol.root-causes');
         if (!list) return null;
         const first = (css) => document.querySelector(css);
         const before = (a, b) => !b || !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
         return {
           leads: before(list, first('section.attention')) && before(list, first('section.section')),
           causes: [...list.querySelectorAll('li[data-subject]')].map(li => ({
             subject: li.dataset.subject,
             weight: Number(li.dataset.weight),
             items: [...li.querySelectorAll('.root-cause-items a')].map(a => a.getAttribute('href').slice(6)),
           })),
           summary: first('.root-causes-summary').textContent,
         };",
        json!([]),
    );
    assert!(causes.is_object(), "no \"Fix these first\" list on the page");
    assert_eq!(causes["leads"], true, "the root causes do not lead the page");
    let shown = causes["causes"].as_array().unwrap();
    assert!((2..=12).contains(&shown.len()), "{} causes shown: {causes}", shown.len());
    let on_host: Vec<&Value> = shown.iter().filter(|c| c["subject"] != "attestations").collect();
    let weights: Vec<u64> = on_host.iter().map(|c| c["weight"].as_u64().unwrap()).collect();
    assert!(weights.windows(2).all(|w| w[0] >= w[1]), "causes out of rank: {weights:?}");
    if let Some(at) = shown.iter().position(|c| c["subject"] == "attestations") {
        assert_eq!(at, shown.len() - 1, "the attestations come after the causes on the host");
    }
    let mut named = HashSet::new();
    for item in shown.iter().flat_map(|c| c["items"].as_array().unwrap()) {
        assert!(named.insert(item.as_str().unwrap().to_string()), "{item} under two causes: {causes}");
    }
    let summary = causes["summary"].as_str().unwrap();
    let (covered, failing) = summary.split_once(" of ").unwrap();
    let covered: usize = covered.trim().parse().unwrap();
    let failing: usize = failing.split_whitespace().next().unwrap().parse().unwrap();
    assert!(covered * 2 > failing, "the shown causes account for {covered} of {failing} failing items: {summary}");

    // Every item a group of its section names is nested under one of those groups, below it.
    let groups = same_section_groups();
    assert!(groups.len() > 100, "the reference checklist has bold parent lines: {}", groups.len());
    let misplaced = browser.run(
        "const groups = arguments[0]; const wrong = [];
         for (const [member, parents] of Object.entries(groups)) {
           const row = document.getElementById('item-' + member);
           const parent = row && row.parentElement.closest('li.item');
           if (!parent || !parents.includes(parent.dataset.id) || !parent.querySelector('details > ul.members-list'))
             wrong.push(member + ' under ' + (parent ? parent.dataset.id : 'nothing'));
         }
         return wrong;",
        json!([groups]),
    );
    assert_eq!(misplaced, json!([]), "members not nested under their group");
    let ids = browser.run("return [...document.querySelectorAll('li.item')].map(r => r.dataset.id)", json!([]));
    let ids: Vec<String> = serde_json::from_value(ids).unwrap();
    assert_eq!(ids.len(), 302, "every line once");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 302, "no line twice");
    // Every line in the document's order: the config gives each item its `line`.
    let document: toml::Table = read(CONFIG).parse().unwrap();
    let line_of: HashMap<&str, i64> = document["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|check| check.get("items")?.as_array())
        .flatten()
        .map(|item| (item["id"].as_str().unwrap(), item["line"].as_integer().unwrap()))
        .collect();
    let out_of_order: Vec<String> = ids
        .windows(2)
        .filter(|pair| line_of[pair[0].as_str()] >= line_of[pair[1].as_str()])
        .map(|pair| {
            format!(
                "{} (line {}) before {} (line {})",
                pair[0],
                line_of[pair[0].as_str()],
                pair[1],
                line_of[pair[1].as_str()]
            )
        })
        .collect();
    assert_eq!(out_of_order, Vec::<String>::new(), "lines out of the document's order on the page");

    // A group's tally agrees with its members' states, after the script's refresh too.
    let tallies = browser.run(
        "const wrong = [];
         for (const group of document.querySelectorAll('[data-members]')) {
           const states = group.dataset.members.split(' ').map(id => document.getElementById('item-' + id))
             .filter(row => row && row.dataset.state !== 'not_applicable').map(row => row.dataset.state);
           const passing = states.filter(s => s === 'pass').length;
           const text = group.querySelector('[data-role=members]').textContent;
           if (!text.startsWith(passing + ' of ' + states.length + ' member')) wrong.push(group.dataset.id + ': ' + text);
         }
         return [document.querySelectorAll('[data-members]').length, wrong];",
        json!([]),
    );
    assert!(tallies[0].as_u64().unwrap() > 50, "{tallies}");
    assert_eq!(tallies[1], json!([]), "group tallies that disagree with their members");

    // A badge has the colour of its own item's state, not of the group around it.
    let colours = browser.run(
        "const seen = {};
         for (const row of document.querySelectorAll('li.item')) {
           const colour = getComputedStyle(row.querySelector('[data-role=state]')).backgroundColor;
           (seen[row.dataset.state] = seen[row.dataset.state] || new Set()).add(colour);
         }
         return Object.fromEntries(Object.entries(seen).map(([state, set]) => [state, set.size]));",
        json!([]),
    );
    for (state, count) in colours.as_object().unwrap() {
        assert_eq!(count, 1, "badges of `{state}` items in several colours: {colours}");
    }

    // A group folds its members away and back with a click on its line, no script of ours needed.
    let group = "infra.server_resources";
    let folded = |browser: &Browser| {
        browser.run(
            "const g = document.getElementById(arguments[0]); return [g.querySelector('details').open, document.getElementById('item-infra.cpu').checkVisibility()];",
            json!([format!("item-{group}")]),
        )
    };
    let before = folded(&browser);
    assert_eq!(before[0], before[1], "a member is visible exactly when its group is open: {before}");
    browser.click("#item-infra\\.server_resources > details > summary");
    let after = folded(&browser);
    assert_eq!(after[0], json!(!before[0].as_bool().unwrap()), "the click toggled the group");
    assert_eq!(after[0], after[1], "{after}");

    // The attention box stays short and links to the whole list.
    let box_size = browser.run("return document.querySelectorAll('section.attention li').length", json!([]));
    assert_eq!(box_size, 10);
    assert_eq!(browser.run("return !!document.getElementById('attention-more')", json!([])), true);
    browser.open(&daemon.url("/"));
    assert_eq!(browser.screenshot("page-desktop"), (1280, 900));
    browser.run("document.querySelector('section.section').scrollIntoView()", json!([]));
    browser.screenshot("page-sections-desktop");
    browser.device(390, 844, true);
    browser.open(&daemon.url("/"));
    assert_eq!(browser.screenshot("page-phone"), (390, 844));
    browser.run("document.querySelector('section.section').scrollIntoView()", json!([]));
    browser.screenshot("page-sections-phone");
    let overflow =
        browser.run("return document.documentElement.scrollWidth - document.documentElement.clientWidth", json!([]));
    assert_eq!(overflow, 0, "nothing wider than a phone's screen");
    browser.device(1280, 900, false);

    // The attention view lists each item that needs attention once, in its section: what needed
    // attention both before and after it was rendered, and nothing that needed none at either time.
    let before = needing_attention(&daemon);
    assert!(before.len() > 10, "on loopback much of the reference checklist fails: {}", before.len());
    browser.click("#attention-more");
    let shown = browser.run("return [...document.querySelectorAll('li.item')].map(r => r.dataset.id)", json!([]));
    let after = needing_attention(&daemon);
    let shown: Vec<String> = serde_json::from_value(shown).unwrap();
    assert_eq!(browser.run("return document.querySelectorAll('section.attention').length", json!([])), 0);
    let unique: HashSet<String> = shown.iter().cloned().collect();
    assert_eq!(unique.len(), shown.len(), "an item twice in the attention view");
    let surely: HashSet<String> = before.intersection(&after).cloned().collect();
    let possibly: HashSet<String> = before.union(&after).cloned().collect();
    assert!(surely.is_subset(&unique), "missing: {:?}", surely.difference(&unique).collect::<Vec<_>>());
    assert!(
        unique.is_subset(&possibly),
        "not needing attention: {:?}",
        unique.difference(&possibly).collect::<Vec<_>>()
    );
    browser.screenshot("page-attention-desktop");

    // The filter form: a section and a severity, submitted as a person does.
    browser.open(&daemon.url("/"));
    browser.run(
        "document.querySelector('select[name=section]').value = 'Database Setup';
         document.querySelector('select[name=severity]').value = 'critical';",
        json!([]),
    );
    browser.click("form.filters button[type=submit]");
    // The click starts a navigation; the URL changes when it is done, not when the click returns.
    wait_for("the filtered page", Duration::from_secs(30), || {
        let url = browser.call("GET", "/url", Value::Null);
        url.as_str().unwrap_or_default().contains("section=Database+Setup&severity=critical")
            && browser.run("return document.readyState", json!([])) == "complete"
    });
    let filtered = browser.run(
        "return {sections: [...document.querySelectorAll('section.section')].map(s => s.dataset.section),
                 severities: [...new Set([...document.querySelectorAll('li.item')].map(r => r.dataset.severity))],
                 count: document.querySelectorAll('li.item').length}",
        json!([]),
    );
    let items = daemon.items();
    let expected = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["section"] == "Database Setup" && i["severity"] == "critical")
        .count();
    assert_eq!(filtered, json!({"sections": ["Database Setup"], "severities": ["critical"], "count": expected}));
    assert!(expected > 0);
}
