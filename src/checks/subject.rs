//! The [`Subject`] of a failing verdict, derived from what a check was given (a URL, a path), in
//! one place so that every family names the same thing the same way: two checks that cannot
//! connect to one endpoint must share its subject to be gathered into one root cause.

use crate::model::{CheckResult, Outcome, Subject, Verdict};

/// The endpoint (`host:port`) a URL connects to, the port filled in from the scheme: what a
/// refused or timed-out connection is about, whichever path the URL asks for.
pub fn endpoint_of_url(url: &str) -> Option<Subject> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    let port = parsed.port_or_known_default()?;
    Some(Subject::Endpoint(format!("{host}:{port}")))
}

/// A URL as a subject: without user information, query or fragment, which may hold secrets.
pub fn url(url: &str) -> Subject {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            Subject::Url(parsed.to_string())
        }
        // Not a URL reqwest reads (validated at load, so rare): its masked text, without query.
        Err(_) => {
            let masked = crate::support::url::mask_url(url);
            Subject::Url(masked.split(['?', '#']).next().unwrap_or_default().to_string())
        }
    }
}

/// `outcome`, about `subject` unless it passes (a passing verdict names no subject) or already
/// names a more precise one.
pub fn unless_passing(outcome: Outcome, subject: Subject) -> Outcome {
    if outcome.verdict == Verdict::Pass || outcome.subject.is_some() {
        outcome
    } else {
        outcome.about(subject)
    }
}

/// A check's result with every failing or undecidable verdict that names no subject about
/// `subject`: for checks that look at one thing (a path, an endpoint), whatever went wrong with
/// it. Verdicts and failures that already name a more precise thing keep it.
pub fn result_about(result: CheckResult, subject: Subject) -> CheckResult {
    match result {
        Ok(mut report) => {
            for (_, outcome) in &mut report.aspects {
                if outcome.verdict != Verdict::Pass && outcome.subject.is_none() {
                    outcome.subject = Some(Box::new(subject.clone()));
                }
            }
            Ok(report)
        }
        Err(failure) if failure.subject.is_none() => Err(failure.about(subject)),
        Err(failure) => Err(failure),
    }
}

/// A path as a subject.
pub fn path(path: &std::path::Path) -> Subject {
    Subject::Path(path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_connects_to_its_host_and_port_with_the_default_port_filled_in() {
        assert_eq!(endpoint_of_url("https://example.org/x?y=1"), Some(Subject::Endpoint("example.org:443".into())));
        assert_eq!(endpoint_of_url("http://127.0.0.1:9/metrics"), Some(Subject::Endpoint("127.0.0.1:9".into())));
        assert_eq!(endpoint_of_url("http://[::1]:8080/"), Some(Subject::Endpoint("[::1]:8080".into())));
        assert_eq!(endpoint_of_url("not a url"), None);
    }

    #[test]
    fn a_url_subject_keeps_no_user_information_or_query() {
        assert_eq!(
            url("https://user:hunter2@example.org/a/b?token=s3cret#top"),
            Subject::Url("https://example.org/a/b".into())
        );
    }

    #[test]
    fn a_check_subject_fills_in_only_failing_verdicts_that_name_nothing_more_precise() {
        use crate::model::{Cause, ProbeFailure, Report};
        let dir = Subject::Path("/opt/app".into());
        let variable = Subject::Variable("KEY".into());
        let report = Report::default()
            .with("a", Outcome::pass("ok"))
            .with("b", Outcome::fail(Cause::Missing, "gone"))
            .with("c", Outcome::error(Cause::Missing, "unset").about(variable.clone()));
        let report = result_about(Ok(report), dir.clone()).unwrap();
        let subjects: Vec<Option<&Subject>> = report.aspects.iter().map(|(_, o)| o.subject()).collect();
        assert_eq!(subjects, vec![None, Some(&dir), Some(&variable)]);
        let failure = result_about(Err(ProbeFailure::new(Cause::NotFound, "x")), dir.clone()).unwrap_err();
        assert_eq!(failure.subject, Some(dir.clone()));
        let precise = ProbeFailure::new(Cause::NotFound, "x").about(variable.clone());
        assert_eq!(result_about(Err(precise), dir).unwrap_err().subject, Some(variable));
    }
}
