//! A parser for env files in dotenv syntax, as docker compose and python-dotenv read them:
//! `KEY=value`, `export KEY=value`, comments, single quotes (literal), double quotes (escapes,
//! may span lines), empty values. Values are [`Secret`]s: which of them may be shown is the
//! caller's decision. Problems name the line number and never the line's text, since a broken
//! line may well be a pasted secret.

use crate::support::secret::Secret;

#[derive(Clone, Debug, PartialEq)]
pub struct EnvEntry {
    pub key: String,
    pub value: Secret,
    /// 1-based line where the entry starts.
    pub line: usize,
}

/// A line that is not an entry, comment or blank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvProblem {
    pub line: usize,
    pub message: &'static str,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnvFile {
    pub entries: Vec<EnvEntry>,
    pub problems: Vec<EnvProblem>,
}

impl EnvFile {
    /// The last value given for `key`, as the shells and dotenv loaders take it.
    pub fn get(&self, key: &str) -> Option<&Secret> {
        self.entries.iter().rev().find(|e| e.key == key).map(|e| &e.value)
    }

    /// Builds an env file from `KEY=VALUE` pairs, as `/proc/PID/environ` holds them.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> EnvFile {
        let entries = pairs
            .into_iter()
            .enumerate()
            .map(|(i, (key, value))| EnvEntry { key, value: Secret::new(value), line: i + 1 })
            .collect();
        EnvFile { entries, problems: Vec::new() }
    }
}

/// Parses `/proc/PID/environ`: NUL-separated `KEY=VALUE` records.
pub fn parse_environ(bytes: &[u8]) -> EnvFile {
    let pairs = bytes.split(|b| *b == 0).filter(|record| !record.is_empty()).filter_map(|record| {
        let text = String::from_utf8_lossy(record);
        text.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))
    });
    EnvFile::from_pairs(pairs)
}

fn is_key(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

pub fn parse(text: &str) -> EnvFile {
    let mut file = EnvFile::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut index = 0;
    while index < lines.len() {
        let line_number = index + 1;
        // Only the start is trimmed: a double-quoted value may keep spaces before a line break.
        let line = lines[index].trim_start_matches('\u{feff}').trim_start();
        index += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((key, raw_value)) = line.split_once('=') else {
            file.problems.push(EnvProblem { line: line_number, message: "no `=`; expected KEY=VALUE" });
            continue;
        };
        let key = key.trim();
        if !is_key(key) {
            file.problems.push(EnvProblem {
                line: line_number,
                message: "the key is not a variable name (letters, digits and `_`, not starting with a digit)",
            });
            continue;
        }
        let raw_value = raw_value.trim_start();
        let value = if let Some(rest) = raw_value.strip_prefix('\'') {
            match rest.find('\'') {
                Some(end) => rest[..end].to_string(),
                None => {
                    file.problems.push(EnvProblem { line: line_number, message: "a single quote is not closed" });
                    continue;
                }
            }
        } else if let Some(rest) = raw_value.strip_prefix('"') {
            // Double-quoted values may continue on the following lines until the closing quote.
            let mut buffer = rest.to_string();
            loop {
                if let Some(value) = unescape_double_quoted(&buffer) {
                    break Some(value);
                }
                if index >= lines.len() {
                    break None;
                }
                buffer.push('\n');
                buffer.push_str(lines[index]);
                index += 1;
            }
            .unwrap_or_else(|| {
                file.problems.push(EnvProblem { line: line_number, message: "a double quote is not closed" });
                String::new()
            })
        } else {
            // Unquoted: an inline comment starts at ` #`.
            let value = match raw_value.find(" #") {
                Some(comment) => &raw_value[..comment],
                None => raw_value,
            };
            value.trim_end().to_string()
        };
        if file.problems.last().is_some_and(|p| p.line == line_number) {
            continue;
        }
        file.entries.push(EnvEntry { key: key.to_string(), value: Secret::new(value), line: line_number });
    }
    file
}

/// Returns the value up to the closing double quote with escapes applied, or `None` when the
/// quote does not close in `text`.
fn unescape_double_quoted(text: &str) -> Option<String> {
    let mut value = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next() {
                Some('n') => value.push('\n'),
                Some('t') => value.push('\t'),
                Some('r') => value.push('\r'),
                Some(other @ ('"' | '\\' | '$' | '\'')) => value.push(other),
                Some(other) => {
                    value.push('\\');
                    value.push(other);
                }
                None => return None,
            },
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(file: &EnvFile, key: &str) -> Option<String> {
        file.get(key).map(|s| s.expose().to_string())
    }

    #[test]
    fn plain_quoted_exported_and_empty_values() {
        let file = parse(
            "# production settings\n\
             export ENVIRONMENT=production\n\
             DEBUG=false # not in prod\n\
             SECRET_KEY='a#b c$d\\n'\n\
             GREETING=\"line1\\nline2 \\\"q\\\"\"\n\
             EMPTY=\n\
             SPACED =  value with spaces  \n",
        );
        assert!(file.problems.is_empty(), "{:?}", file.problems);
        assert_eq!(value(&file, "ENVIRONMENT").as_deref(), Some("production"));
        assert_eq!(value(&file, "DEBUG").as_deref(), Some("false"));
        assert_eq!(value(&file, "SECRET_KEY").as_deref(), Some("a#b c$d\\n"));
        assert_eq!(value(&file, "GREETING").as_deref(), Some("line1\nline2 \"q\""));
        assert_eq!(value(&file, "EMPTY").as_deref(), Some(""));
        assert_eq!(value(&file, "SPACED").as_deref(), Some("value with spaces"));
        assert_eq!(file.entries[0].line, 2);
    }

    #[test]
    fn double_quoted_values_may_span_lines() {
        let file = parse("KEY=\"-----BEGIN\nabc\n-----END\"\nNEXT=1\n");
        assert_eq!(value(&file, "KEY").as_deref(), Some("-----BEGIN\nabc\n-----END"));
        assert_eq!(file.get("NEXT").map(|s| s.expose()), Some("1"));
        assert_eq!(file.entries[1].line, 4);
    }

    #[test]
    fn broken_lines_are_reported_by_number_without_their_text() {
        let file = parse("GOOD=1\nsk-live-canary-pasted-alone\n1BAD=2\nOPEN='x\nQUOTE=\"never closed\n");
        assert_eq!(file.entries.len(), 1);
        let lines: Vec<usize> = file.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5]);
        assert_eq!(file.problems[0].message, "no `=`; expected KEY=VALUE");
        assert!(!format!("{:?}", file).contains("canary"));
    }

    #[test]
    fn a_multi_line_value_keeps_the_spaces_before_each_line_break() {
        // Found by the dotenv fuzz target (fuzz/regressions/dotenv/).
        let file = parse("A=\"first  \nsecond \"  \nB=plain  \n");
        assert_eq!(value(&file, "A").as_deref(), Some("first  \nsecond "));
        assert_eq!(value(&file, "B").as_deref(), Some("plain"));
        assert!(file.problems.is_empty());
    }

    #[test]
    fn the_last_value_of_a_repeated_key_wins() {
        let file = parse("A=1\nA=2\n");
        assert_eq!(value(&file, "A").as_deref(), Some("2"));
    }

    #[test]
    fn environ_records_are_nul_separated() {
        let file = parse_environ(b"PATH=/usr/bin\0WORKERS=4\0EQ=a=b\0\0");
        assert_eq!(value(&file, "WORKERS").as_deref(), Some("4"));
        assert_eq!(value(&file, "EQ").as_deref(), Some("a=b"));
    }

    #[test]
    fn empty_and_binary_input_give_no_entries() {
        assert_eq!(parse(""), EnvFile::default());
        let binary = parse(&String::from_utf8_lossy(&[0xff, 0xfe, 0x00, 0x01]));
        assert!(binary.entries.is_empty());
        assert_eq!(binary.problems.len(), 1);
    }
}
