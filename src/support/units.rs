//! Parsing and printing of the humane quantities a config file holds: durations (`30s`, `6h`)
//! and byte sizes (`20GiB`, `512MB`). Reasons print the same units back, so a person reads
//! "3.1 GiB" rather than a byte count.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written the way Prometheus users write them: `500ms`, `30s`, `5m`, `6h`, `1h30m`, `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration; write it like `30s`, `5m` or `6h`".to_string());
    }
    humantime::parse_duration(trimmed)
        .map_err(|err| format!("`{trimmed}` is not a duration ({err}); write it like `30s`, `5m` or `6h`"))
}

/// Prints a duration the short way (`1m30s`, `250ms`), for reasons and logs.
pub fn format_duration(duration: Duration) -> String {
    if duration.is_zero() {
        return "0s".to_string();
    }
    if duration < Duration::from_secs(1) {
        let millis = duration.as_secs_f64() * 1000.0;
        return if millis >= 1.0 {
            format!("{}ms", millis.round() as u64)
        } else {
            format!("{}µs", (millis * 1000.0).round() as u64)
        };
    }
    let rounded = Duration::from_secs(duration.as_secs());
    humantime::format_duration(rounded).to_string().replace(' ', "")
}

const BYTE_UNITS: &[(&str, u64)] = &[
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("PiB", 1 << 50),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("PB", 1_000_000_000_000_000),
    ("K", 1 << 10),
    ("M", 1 << 20),
    ("G", 1 << 30),
    ("T", 1 << 40),
    ("B", 1),
];

/// A byte size: a plain number of bytes, or a number with a unit. `GiB` is 2^30 and `GB` is 10^9;
/// the bare letters `K`, `M`, `G`, `T` follow `df -h` and mean the binary units.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim();
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{trimmed}` is not a byte size; write it like `20GiB`, `512MB` or `1048576`"))?;
    let multiplier = if unit.is_empty() {
        1
    } else {
        BYTE_UNITS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(unit) && (name.len() > 1 || unit.len() == 1))
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                format!("`{trimmed}` has an unknown unit `{unit}`; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB")
            })?
    };
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(format!("`{trimmed}` is too large"));
    }
    Ok(bytes.round() as u64)
}

/// Prints a byte count in binary units with one decimal: `3.1 GiB`, `512 B`.
pub fn format_bytes(bytes: u64) -> String {
    format_scaled(bytes, 1024.0, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"])
}

/// Prints a byte count in decimal units with one decimal: `83.3 GB`, for thresholds written in GB.
pub fn format_bytes_decimal(bytes: u64) -> String {
    format_scaled(bytes, 1000.0, ["B", "kB", "MB", "GB", "TB", "PB"])
}

fn format_scaled(bytes: u64, step: f64, names: [&str; 6]) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= step && unit < names.len() - 1 {
        value /= step;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value >= 100.0 || (value - value.round()).abs() < 0.05 {
        format!("{} {}", value.round(), names[unit])
    } else {
        format!("{value:.1} {}", names[unit])
    }
}

/// Prints a ratio as a percentage with at most one decimal: `0.031` is `3.1%`.
pub fn format_percent(ratio: f64) -> String {
    let percent = ratio * 100.0;
    if (percent - percent.round()).abs() < 0.05 {
        format!("{}%", percent.round())
    } else {
        format!("{percent:.1}%")
    }
}

/// A byte size in a config file: an integer (bytes) or a string with a unit. It remembers
/// whether it was written in decimal units (`GB`), so that reasons speak the user's units.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64, pub bool);

impl ByteSize {
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// Prints `value` in the same kind of units this size was written in.
    pub fn format(self, value: u64) -> String {
        if self.1 {
            format_bytes_decimal(value)
        } else {
            format_bytes(value)
        }
    }
}

impl fmt::Debug for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(self.0))
    }
}

/// True when a size is written with a decimal unit (`kB`, `MB`, `GB`, `TB`, `PB`).
fn is_decimal_unit(text: &str) -> bool {
    let unit: String = text.trim().chars().filter(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_uppercase();
    matches!(unit.as_str(), "KB" | "MB" | "GB" | "TB" | "PB")
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Float(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Int(n) => Ok(ByteSize(n, false)),
            Raw::Float(f) if f >= 0.0 && f.is_finite() => Ok(ByteSize(f.round() as u64, false)),
            Raw::Float(f) => Err(serde::de::Error::custom(format!("{f} is not a byte size"))),
            Raw::Text(text) => parse_bytes(&text)
                .map(|bytes| ByteSize(bytes, is_decimal_unit(&text)))
                .map_err(serde::de::Error::custom),
        }
    }
}

/// A duration in a config file, written as a string like `30s`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl fmt::Debug for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text).map(HumanDuration).map_err(serde::de::Error::custom)
    }
}

/// Prints an age or a policy period in days and hours (`40d`, `1d 2h`, `3h 5m`): humantime
/// would say `1month9days13h`, which nobody reads at a glance.
pub fn format_age(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (days, hours, minutes) = (seconds / 86400, seconds % 86400 / 3600, seconds % 3600 / 60);
    match (days, hours, minutes) {
        (0, 0, _) => format_duration(Duration::from_secs(seconds)),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_prometheus_style() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration(" 7d "), Ok(Duration::from_secs(7 * 86400)));
    }

    #[test]
    fn bad_durations_say_how_to_write_one() {
        let err = parse_duration("5 parsecs").unwrap_err();
        assert!(err.starts_with("`5 parsecs` is not a duration"), "{err}");
        assert!(err.ends_with("write it like `30s`, `5m` or `6h`"), "{err}");
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-5s").is_err());
    }

    #[test]
    fn durations_print_short() {
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_micros(20)), "20µs");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn byte_sizes_know_binary_and_decimal_units() {
        assert_eq!(parse_bytes("20GiB"), Ok(20 << 30));
        assert_eq!(parse_bytes("20 GB"), Ok(20_000_000_000));
        assert_eq!(parse_bytes("4G"), Ok(4 << 30));
        assert_eq!(parse_bytes("1.5KiB"), Ok(1536));
        assert_eq!(parse_bytes("1048576"), Ok(1_048_576));
        assert_eq!(parse_bytes("512mib"), Ok(512 << 20));
    }

    #[test]
    fn bad_byte_sizes_name_the_problem() {
        assert!(parse_bytes("lots").unwrap_err().contains("is not a byte size"));
        assert!(parse_bytes("20 furlongs").unwrap_err().contains("unknown unit `furlongs`"));
        assert!(parse_bytes("").is_err());
    }

    #[test]
    fn bytes_print_in_binary_units() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(3_328_599_654), "3.1 GiB");
        assert_eq!(format_bytes(20 << 30), "20 GiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn sizes_written_in_decimal_units_print_in_decimal_units() {
        let size: ByteSize = serde_json::from_str("\"20GB\"").unwrap();
        assert_eq!(size.to_string(), "20 GB");
        assert_eq!(size.format(83_300_000_000), "83.3 GB");
        let binary: ByteSize = serde_json::from_str("\"20GiB\"").unwrap();
        assert_eq!(binary.to_string(), "20 GiB");
        let plain: ByteSize = serde_json::from_str("1048576").unwrap();
        assert_eq!(plain.to_string(), "1 MiB");
    }

    #[test]
    fn percentages_drop_needless_decimals() {
        assert_eq!(format_percent(0.031), "3.1%");
        assert_eq!(format_percent(0.25), "25%");
    }
}
