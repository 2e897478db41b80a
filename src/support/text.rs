//! Text from a target (a server's version string, an error message, a table name) as a reason
//! may quote it: control characters dropped, so a hostile peer cannot forge lines of a log or a
//! report, and cut at a bound with `…`, so it cannot make every scrape long.

/// At most `max_chars` characters of `text`, without control characters; `…` marks a cut.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let mut chars = text.chars().filter(|c| !c.is_control());
    let mut kept: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        kept.push('…');
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_dropped_and_long_text_is_cut() {
        assert_eq!(excerpt("15.4\n(Debian)", 64), "15.4(Debian)");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("abc", 3), "abc");
        assert_eq!(excerpt("a\u{7}bc", 3), "abc", "the bound counts what is kept");
    }
}
