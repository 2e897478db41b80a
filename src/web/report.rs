//! The "Deployment Certification" sign-off sheet: every item with its state, reason and the time
//! of the evidence, grouped by section, with totals and a timestamp. JUnit XML is what CI systems
//! render (one testcase per item); Markdown is what a person pastes into a ticket; JSON is the
//! `/api/v1/items` document.

use std::fmt::Write as _;
use std::time::SystemTime;

use crate::model::Verdict;
use crate::state::{ItemRecord, StoreInner};
use crate::web::api::items_document;
use crate::web::view::{reason_of, rfc3339, state_name, summarize};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Junit,
    Markdown,
}

impl ReportFormat {
    pub fn parse(name: &str) -> Option<ReportFormat> {
        match name {
            "json" => Some(ReportFormat::Json),
            "junit" => Some(ReportFormat::Junit),
            "markdown" | "md" => Some(ReportFormat::Markdown),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Json => "application/json",
            ReportFormat::Junit => "application/xml; charset=utf-8",
            ReportFormat::Markdown => "text/markdown; charset=utf-8",
        }
    }
}

pub fn render(inner: &StoreInner, format: ReportFormat, now: SystemTime) -> String {
    match format {
        ReportFormat::Json => serde_json::to_string_pretty(&items_document(inner)).unwrap_or_default() + "\n",
        ReportFormat::Junit => junit(&inner.items, now),
        ReportFormat::Markdown => markdown(&inner.items, now),
    }
}

/// Items grouped by section, sections in the order they first appear. With environments a
/// section is one per environment, named `section (environment)`, so a report of every
/// environment never mixes the verdicts of two.
fn by_section(items: &[ItemRecord]) -> Vec<(String, Vec<&ItemRecord>)> {
    let mut sections: Vec<(String, Vec<&ItemRecord>)> = Vec::new();
    for record in items {
        let item = record.item();
        let name = match item.environment.as_deref() {
            Some(environment) => format!("{} ({environment})", item.section),
            None => item.section.clone(),
        };
        match sections.iter_mut().find(|(section, _)| *section == name) {
            Some((_, members)) => members.push(record),
            None => sections.push((name, vec![record])),
        }
    }
    sections
}

/// Escapes text for XML attribute values and text nodes.
pub fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => escaped.push('\u{fffd}'),
            c => escaped.push(c),
        }
    }
    escaped
}

fn junit(items: &[ItemRecord], now: SystemTime) -> String {
    let summary = summarize(items);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"Deployment Certification\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" timestamp=\"{}\">",
        summary.items,
        summary.fail,
        summary.error,
        summary.pending + summary.not_applicable,
        rfc3339(now)
    );
    for (section, members) in by_section(items) {
        let count = |verdict: Option<Verdict>| {
            members.iter().filter(|r| r.not_applicable().is_none() && r.verdict() == verdict).count()
        };
        let not_applicable = members.iter().filter(|r| r.not_applicable().is_some()).count();
        let time: f64 = members.iter().filter_map(|r| r.last.as_ref()).map(|e| e.duration.as_secs_f64()).sum();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time:.6}\">",
            xml_escape(&section),
            members.len(),
            count(Some(Verdict::Fail)),
            count(Some(Verdict::Error)),
            count(None) + not_applicable
        );
        for record in members {
            let item = record.item();
            let time = record.last.as_ref().map_or(0.0, |e| e.duration.as_secs_f64());
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}: {}\" time=\"{time:.6}\"",
                xml_escape(&section),
                xml_escape(&item.id),
                xml_escape(&item.title)
            );
            if let Some(why) = record.not_applicable() {
                let _ = writeln!(xml, ">\n      <skipped message=\"{}\"/>\n    </testcase>", xml_escape(why));
                continue;
            }
            let Some(last) = &record.last else {
                let _ = writeln!(xml, ">\n      <skipped message=\"not evaluated yet\"/>\n    </testcase>");
                continue;
            };
            let cause = last.outcome.cause.map_or("", |c| c.as_str());
            let reason = xml_escape(&last.outcome.reason);
            match last.outcome.verdict {
                Verdict::Pass => {
                    let _ = writeln!(
                        xml,
                        ">\n      <system-out>{reason} (evaluated {})</system-out>\n    </testcase>",
                        rfc3339(last.at)
                    );
                }
                Verdict::Fail => {
                    let _ = writeln!(
                        xml,
                        ">\n      <failure message=\"{reason}\" type=\"{cause}\">{} item, evaluated {}</failure>\n    </testcase>",
                        item.severity,
                        rfc3339(last.at)
                    );
                }
                Verdict::Error => {
                    let _ = writeln!(
                        xml,
                        ">\n      <error message=\"{reason}\" type=\"{cause}\">{} item, evaluated {}</error>\n    </testcase>",
                        item.severity,
                        rfc3339(last.at)
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// Escapes text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|").replace(['\n', '\r'], " ").replace('<', "&lt;").replace('>', "&gt;")
}

fn markdown(items: &[ItemRecord], now: SystemTime) -> String {
    let summary = summarize(items);
    let mut text = String::new();
    let _ = writeln!(text, "# Deployment Certification\n");
    let _ = writeln!(text, "Generated {} by checklist-exporter {}.\n", rfc3339(now), crate::web::metrics::VERSION);
    // Items switched off for this site are only mentioned when there are some.
    let (applicable, not_applicable) = match summary.not_applicable {
        0 => (String::new(), String::new()),
        n => (" applicable".to_string(), format!(", {n} not applicable")),
    };
    let _ = writeln!(
        text,
        "**{} of {}{applicable} items pass; {} of {} critical items pass.** {} fail, {} could not be decided, {} not evaluated yet{not_applicable}.\n",
        summary.pass,
        summary.items - summary.not_applicable,
        summary.critical_pass,
        summary.critical_items,
        summary.fail,
        summary.error,
        summary.pending,
    );
    let _ = writeln!(text, "Ready for go-live: **{}**\n", if summary.critical_all_pass() { "yes" } else { "no" });
    for (section, members) in by_section(items) {
        let passing = members.iter().filter(|r| r.verdict() == Some(Verdict::Pass)).count();
        let applicable = members.iter().filter(|r| r.not_applicable().is_none()).count();
        let _ = writeln!(text, "## {} ({passing} of {applicable} pass)\n", cell(&section));
        let _ = writeln!(text, "| state | severity | item | reason | evidence time |");
        let _ = writeln!(text, "|---|---|---|---|---|");
        for record in members {
            let item = record.item();
            let _ = writeln!(
                text,
                "| {} | {} | {} (`{}`) | {} | {} |",
                state_name(record),
                item.severity,
                cell(&item.title),
                cell(&item.id),
                cell(reason_of(record).unwrap_or("")),
                record.last.as_ref().map_or_else(|| "never".to_string(), |e| rfc3339(e.at))
            );
        }
        text.push('\n');
    }
    text.push_str("Signed off by: ____________________  Date: ____________\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escape_covers_markup_and_control_characters() {
        assert_eq!(
            xml_escape("<script>\"a\" & 'b'</script>\u{1}"),
            "&lt;script&gt;&quot;a&quot; &amp; &apos;b&apos;&lt;/script&gt;\u{fffd}"
        );
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc <b>"), "a\\|b c &lt;b&gt;");
    }

    #[test]
    fn report_formats_parse_by_name() {
        assert_eq!(ReportFormat::parse("junit"), Some(ReportFormat::Junit));
        assert_eq!(ReportFormat::parse("md"), Some(ReportFormat::Markdown));
        assert_eq!(ReportFormat::parse("pdf"), None);
    }
}
