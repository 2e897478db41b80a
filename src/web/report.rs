//! The "Deployment Certification" sign-off sheet: every item with its state, reason and the time
//! of the evidence, grouped by section, with totals and a timestamp. JUnit XML is what CI systems
//! render (one testcase per item); Markdown is what a person pastes into a ticket; JSON is the
//! `/api/v1/items` document.

use std::fmt::Write as _;
use std::time::SystemTime;

use crate::model::Verdict;
use crate::state::{ItemRecord, StoreInner};
use crate::web::api::items_document;
use crate::web::view::{
    outline, reason_and_evidence, rfc3339, state_name, summarize, OutlineNode, SectionRows, EVIDENCE_MARK,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Junit,
    Markdown,
    /// A page of its own (inline style, no script) to attach or print: the Markdown sheet's
    /// content with groups indented and evidence links.
    Html,
}

impl ReportFormat {
    pub fn parse(name: &str) -> Option<ReportFormat> {
        match name {
            "json" => Some(ReportFormat::Json),
            "junit" => Some(ReportFormat::Junit),
            "markdown" | "md" => Some(ReportFormat::Markdown),
            "html" => Some(ReportFormat::Html),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Json => "application/json",
            ReportFormat::Junit => "application/xml; charset=utf-8",
            ReportFormat::Markdown => "text/markdown; charset=utf-8",
            ReportFormat::Html => "text/html; charset=utf-8",
        }
    }
}

pub fn render(inner: &StoreInner, format: ReportFormat, now: SystemTime) -> String {
    match format {
        ReportFormat::Json => serde_json::to_string_pretty(&items_document(inner)).unwrap_or_default() + "\n",
        ReportFormat::Junit => junit(&inner.items, now),
        ReportFormat::Markdown => markdown(&inner.items, now),
        ReportFormat::Html => html(&inner.items, now),
    }
}

/// Items grouped by section as the page shows them: sections in the document's order, a group
/// above its members (see [`outline`]). With environments a section is one per environment,
/// named `section (environment)`, so a report of every environment never mixes the verdicts of
/// two.
fn by_section(items: &[ItemRecord]) -> Vec<(String, Vec<&ItemRecord>)> {
    nested_by_section(items)
        .into_iter()
        .map(|(name, members)| (name, members.into_iter().map(|(record, _)| record).collect()))
        .collect()
}

/// [`by_section`] with each item's depth: 0 at the top, 1 under a group, and so on.
fn nested_by_section(items: &[ItemRecord]) -> Vec<(String, Vec<(&ItemRecord, usize)>)> {
    let mut environments: Vec<Option<&str>> = Vec::new();
    for record in items {
        let environment = record.item().environment.as_deref();
        if !environments.contains(&environment) {
            environments.push(environment);
        }
    }
    if let [None] | [] = environments.as_slice() {
        let all: Vec<usize> = (0..items.len()).collect();
        return outlined(items, items, &all, None);
    }
    // Ids repeat across environments, and the outline finds a group's members by id: outline
    // each environment's items on their own (a copy: reports are rare and small).
    let mut sections = Vec::new();
    for environment in environments {
        let chosen: Vec<usize> =
            (0..items.len()).filter(|&i| items[i].item().environment.as_deref() == environment).collect();
        let subset: Vec<ItemRecord> = chosen.iter().map(|&i| items[i].clone()).collect();
        sections.extend(outlined(items, &subset, &chosen, environment));
    }
    sections
}

/// The outline of `subset` (the items at `chosen` of `items`), as references into `items`.
fn outlined<'a>(
    items: &'a [ItemRecord],
    subset: &[ItemRecord],
    chosen: &[usize],
    environment: Option<&str>,
) -> Vec<(String, Vec<(&'a ItemRecord, usize)>)> {
    outline(subset, |_| true)
        .into_iter()
        .map(|section| {
            let mut members = Vec::with_capacity(section.all.len());
            let mut stack: Vec<(&OutlineNode, usize)> = section.roots.iter().rev().map(|n| (n, 0)).collect();
            while let Some((node, depth)) = stack.pop() {
                members.push((&items[chosen[node.index]], depth));
                stack.extend(node.children.iter().rev().map(|child| (child, depth + 1)));
            }
            let name = match environment {
                Some(environment) => format!("{} ({environment})", section.name),
                None => section.name.to_string(),
            };
            (name, members)
        })
        .collect()
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

/// The reason for a Markdown cell; an attestation's evidence address becomes a link.
fn reason_cell(record: &ItemRecord) -> String {
    match reason_and_evidence(record) {
        (reason, Some(url)) => format!("{}{EVIDENCE_MARK}{}", cell(reason), markdown_link(url)),
        (reason, None) => cell(reason),
    }
}

/// `[url](url)` for an address `view::split_evidence` accepted (no white space, quotes or angle
/// brackets): what could end the link or the table cell is percent-encoded in the target and
/// backslash-escaped in the text.
fn markdown_link(url: &str) -> String {
    let mut target = String::with_capacity(url.len());
    let mut text = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '(' | ')' | '[' | ']' | '|' | '\\' => target.push_str(&format!("%{:02X}", c as u32)),
            c => target.push(c),
        }
        match c {
            '[' | ']' | '(' | ')' | '*' | '_' | '\\' => {
                text.push('\\');
                text.push(c);
            }
            '|' => text.push_str("\\|"),
            c => text.push(c),
        }
    }
    format!("[{text}]({target})")
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
                reason_cell(record),
                record.last.as_ref().map_or_else(|| "never".to_string(), |e| rfc3339(e.at))
            );
        }
        text.push('\n');
    }
    text.push_str("Signed off by: ____________________  Date: ____________\n");
    text
}

/// One row of the HTML sheet.
pub struct HtmlRow<'a> {
    pub depth: usize,
    pub state: &'static str,
    pub severity: &'static str,
    pub id: &'a str,
    pub title: &'a str,
    pub reason: &'a str,
    pub evidence: Option<&'a str>,
    pub at: String,
}

#[derive(askama::Template)]
#[template(path = "report.html")]
pub struct HtmlReport<'a> {
    pub generated_at: String,
    pub version: &'static str,
    pub summary: crate::web::view::Summary,
    pub ready: bool,
    pub sections: Vec<SectionRows<'a, HtmlRow<'a>>>,
}

fn html(items: &[ItemRecord], now: SystemTime) -> String {
    let summary = summarize(items);
    let sections = nested_by_section(items)
        .into_iter()
        .map(|(name, members)| SectionRows {
            name: name.into(),
            passing: members.iter().filter(|(r, _)| r.verdict() == Some(Verdict::Pass)).count(),
            applicable: members.iter().filter(|(r, _)| r.not_applicable().is_none()).count(),
            rows: members
                .into_iter()
                .map(|(record, depth)| {
                    let (reason, evidence) = reason_and_evidence(record);
                    HtmlRow {
                        depth,
                        state: state_name(record),
                        severity: record.item().severity.as_str(),
                        id: &record.item().id,
                        title: &record.item().title,
                        reason,
                        evidence,
                        at: record.last.as_ref().map_or_else(|| "never".to_string(), |e| rfc3339(e.at)),
                    }
                })
                .collect(),
        })
        .collect();
    let report = HtmlReport {
        generated_at: rfc3339(now),
        version: crate::web::metrics::VERSION,
        ready: summary.critical_all_pass(),
        summary,
        sections,
    };
    askama::Template::render(&report).unwrap_or_else(|err| format!("cannot render the report: {err}\n"))
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
    fn an_evidence_link_cannot_break_out_of_its_markdown_link_or_cell() {
        assert_eq!(
            markdown_link("https://ci.example.org/runs/(4)|x_[y]"),
            "[https://ci.example.org/runs/\\(4\\)\\|x\\_\\[y\\]](https://ci.example.org/runs/%284%29%7Cx_%5By%5D)"
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
        assert_eq!(ReportFormat::parse("html"), Some(ReportFormat::Html));
        assert_eq!(ReportFormat::parse("pdf"), None);
    }
}
