//! Runs one check through the real config loader, once, in the test process: for tests that
//! judge a single report rather than the daemon's exposition.

use checklist_exporter::checks::CheckContext;
use checklist_exporter::config;
use checklist_exporter::model::{CheckResult, Outcome, Report};

use super::item;

/// Decodes `check` (the keys of one `[[checks]]` table) with an item per aspect, and runs it.
pub fn run_once(check: &str, aspects: &[&str]) -> CheckResult {
    let items: String = aspects.iter().map(|a| item(&format!("t.{a}"), "critical", Some(a))).collect();
    let text = format!("[[checks]]\n{check}\ntimeout = \"20s\"\ninterval = \"1m\"\n{items}");
    let config = config::parse("test.toml", &text, Vec::new()).unwrap_or_else(|err| panic!("{err}"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(config.checks[0].kind.run(&CheckContext::default()))
}

/// The outcome of `aspect`, or a panic showing the whole report.
pub fn outcome<'a>(report: &'a Report, aspect: &str) -> &'a Outcome {
    report.outcome(aspect).unwrap_or_else(|| panic!("no verdict on {aspect}: {report:?}"))
}

/// One check decoded once and run as often as a test asks, with the state it keeps between runs
/// (an HTTP check's client, say), as the scheduler runs it.
pub struct Repeated {
    runtime: tokio::runtime::Runtime,
    config: config::Config,
    ctx: CheckContext,
}

impl Repeated {
    pub fn new(check: &str, aspects: &[&str]) -> Repeated {
        let items: String = aspects.iter().map(|a| item(&format!("t.{a}"), "critical", Some(a))).collect();
        let text = format!("[[checks]]\n{check}\ntimeout = \"20s\"\ninterval = \"1m\"\n{items}");
        let config = config::parse("test.toml", &text, Vec::new()).unwrap_or_else(|err| panic!("{err}"));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Repeated { runtime, config, ctx: CheckContext::default() }
    }

    pub fn run(&self) -> CheckResult {
        self.runtime.block_on(self.config.checks[0].kind.run(&self.ctx))
    }
}
