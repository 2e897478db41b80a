//! The `[[checks]]` of a config file, each kept as its own small TOML text between decoding the
//! file and decoding the checks.
//!
//! Why: the parsed tree of a whole file is several kilobytes per check (a map, a key string and
//! a value per key). Decoding the checks straight from that tree put each check's long-lived
//! parts in the holes the tree left as it was consumed, spread over the whole peak: at 10,000
//! checks the heap stayed at 25 MB with 7.5 MB in use, because hardly a page was wholly free for
//! `malloc_trim` to hand back (docs/benchmarks.md, "Scale", round 4). Packed, the whole tree is
//! freed before the first check is decoded, and each check's own small tree is freed right after
//! it, so the next check reuses the same few pages and the long-lived parts lie together.

/// The key each check's value is written under, so that a value that is not a table (refused
/// later with its index) survives the round trip too.
const KEY: &str = "check";

/// The checks' texts back to back in one buffer (one allocation: a large one is mapped on its
/// own and unmapped whole when dropped), with where each ends.
#[derive(Default)]
pub struct PackedChecks {
    text: String,
    ends: Vec<usize>,
}

impl PackedChecks {
    /// Writes each check out as TOML; `expected_bytes` sizes the buffer up front (the file's
    /// length is a good guess), so that it is not grown between the tree's allocations.
    pub fn pack(checks: Vec<toml::Value>, expected_bytes: usize) -> Result<PackedChecks, String> {
        let mut packed =
            PackedChecks { text: String::with_capacity(expected_bytes), ends: Vec::with_capacity(checks.len()) };
        for (index, check) in checks.into_iter().enumerate() {
            let mut wrapper = toml::Table::new();
            wrapper.insert(KEY.to_string(), check);
            let text = toml::to_string(&wrapper)
                .map_err(|err| format!("checks[{index}] cannot be written back as TOML: {err}"))?;
            packed.text.push_str(&text);
            packed.ends.push(packed.text.len());
        }
        Ok(packed)
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Each check's value in order, parsed anew from its text (any number of times: once per
    /// environment).
    pub fn values(&self) -> impl Iterator<Item = Result<toml::Value, String>> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(self.ends.iter().copied()).map(|(start, end)| {
            let mut table: toml::Table =
                self.text[start..end].parse().map_err(|err: toml::de::Error| format!("cannot be read back: {err}"))?;
            table.remove(KEY).ok_or_else(|| "cannot be read back: the value is missing".to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> Vec<toml::Value> {
        let mut document: toml::Table = text.parse().unwrap();
        let toml::Value::Array(checks) = document.remove("checks").unwrap() else { panic!("not an array") };
        let expected = checks.clone();
        let packed = PackedChecks::pack(checks, text.len()).unwrap();
        assert_eq!(packed.len(), expected.len());
        let values: Vec<toml::Value> = packed.values().map(Result::unwrap).collect();
        assert_eq!(values, expected, "the round trip changed a value");
        // A second pass (the next environment) reads the same values.
        assert_eq!(packed.values().map(Result::unwrap).collect::<Vec<_>>(), expected);
        values
    }

    #[test]
    fn checks_with_nested_items_and_every_value_type_survive_the_round_trip() {
        let values = round_trip(
            r#"
[[checks]]
kind = "tls"
address = "127.0.0.1:443"
warn_days = 30
ratio = 0.15
huge = 1e300
flags = [true, false]
when = 2026-12-07T05:00:00Z
day = 2026-12-07
headers = { "X-Frame-Options" = "DENY", "Content-Security-Policy" = "default-src 'self'" }
text = """
two
lines with "quotes" and \\ backslashes"""
  [[checks.items]]
  id = "tls.expiry"
  section = "TLS"
  title = "Certificate valid"
  severity = "critical"
  [[checks.items]]
  id = "tls.chain"
  section = "TLS"
  title = "Chain complete"
  severity = "warning"

[[checks]]
kind = "group"
"#,
        );
        assert_eq!(values.len(), 2);
        assert_eq!(values[0]["items"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_check_that_is_not_a_table_survives_for_the_decoder_to_refuse() {
        let values = round_trip("checks = [1, \"two\", [3]]\n");
        assert_eq!(values[1].as_str(), Some("two"));
    }

    #[test]
    fn no_checks_packs_to_nothing() {
        let packed = PackedChecks::pack(Vec::new(), 0).unwrap();
        assert_eq!(packed.len(), 0);
        assert_eq!(packed.values().count(), 0);
    }
}
