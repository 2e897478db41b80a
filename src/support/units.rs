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

/// Prints a duration the short way, in days at most (`90d`, `1d12h`, `1m30s`, `2.504s`,
/// `250ms`), for reasons and logs. Milliseconds are kept, so a measured 2.504 s is not "2s";
/// what was written in a config prints back as it was written (`90d`, not `2months29days…`).
pub fn format_duration(duration: Duration) -> String {
    format_duration_to(duration, 3)
}

/// `duration` with its fraction of the smallest unit cut to `decimals` digits (trailing zeros
/// dropped): seconds and up in `d`, `h`, `m`, `s`; below a second in `ms`, below a
/// millisecond in `µs`.
fn format_duration_to(duration: Duration, decimals: u32) -> String {
    if duration.is_zero() {
        return "0s".to_string();
    }
    let nanos = duration.as_nanos();
    if duration < Duration::from_millis(1) {
        return format!("{}µs", decimal(nanos, 1_000, decimals));
    }
    if duration < Duration::from_secs(1) {
        return format!("{}ms", decimal(nanos, 1_000_000, decimals));
    }
    // Rounded as a whole first, so that 1m59.9996s prints as `2m`, never as `1m60s`.
    let step = 10u128.pow(9 - decimals.min(9));
    let nanos = (nanos + step / 2) / step * step;
    let seconds = (nanos / 1_000_000_000) as u64;
    let (days, hours, minutes) = (seconds / 86400, seconds % 86400 / 3600, seconds % 3600 / 60);
    let rest = nanos % 60_000_000_000;
    let mut text = String::new();
    for (value, unit) in [(days, "d"), (hours, "h"), (minutes, "m")] {
        if value > 0 {
            text.push_str(&format!("{value}{unit}"));
        }
    }
    let rest_text = decimal_cut(rest, 1_000_000_000, decimals);
    if rest_text != "0" {
        text.push_str(&format!("{rest_text}s"));
    }
    if text.is_empty() {
        // Less than the printed precision above a whole number of minutes: say so, never "".
        text = "0s".to_string();
    }
    text
}

/// `value / unit` with at most `decimals` digits after the point, rounded to the nearest,
/// trailing zeros dropped.
fn decimal(value: u128, unit: u128, decimals: u32) -> String {
    decimal_of(value * 10u128.pow(decimals) + unit / 2, unit, decimals)
}

/// `value / unit` with at most `decimals` digits after the point, cut, trailing zeros dropped.
fn decimal_cut(value: u128, unit: u128, decimals: u32) -> String {
    decimal_of(value * 10u128.pow(decimals), unit, decimals)
}

fn decimal_of(scaled_value: u128, unit: u128, decimals: u32) -> String {
    let scale = 10u128.pow(decimals);
    let scaled = scaled_value / unit;
    let (whole, fraction) = (scaled / scale, scaled % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:0width$}", width = decimals as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// A seen and a wanted duration for one reason, each with enough digits that they print
/// differently whenever they differ: `2.0004s` against `2s`, not `2s` against `2s`.
pub fn format_durations_apart(seen: Duration, wanted: Duration) -> (String, String) {
    apart(seen, wanted, |value, precision| format_duration_to(value, 3 + precision))
}

/// Like [`format_age`] for a seen and a wanted age, with as many more units as it takes for
/// two different ages to print differently (`1d 2h 30m` against `1d 2h`).
pub fn format_ages_apart(seen: Duration, wanted: Duration) -> (String, String) {
    apart(seen, wanted, |value, precision| format_age_to(value, 2 + precision))
}

/// A seen and a wanted byte count, in the wanted size's kind of units, with as many decimals
/// as it takes for two different counts to print differently; plain bytes at the last.
pub fn format_bytes_apart(seen: u64, wanted: u64, decimal_units: bool) -> (String, String) {
    let (step, names) = if decimal_units { (1000.0, DECIMAL_NAMES) } else { (1024.0, BINARY_NAMES) };
    // Both in the unit of the larger, so that `0.999 TiB` stands against `1 TiB`, not `1024 GiB`.
    let unit = unit_of(seen.max(wanted), step, names.len());
    apart(seen, wanted, |value, precision| {
        if precision >= 6 {
            format!("{value} B")
        } else {
            format_in_unit(value, step, names, unit, 1 + precision)
        }
    })
}

/// Prints `seen` and `wanted` with `print(value, extra precision)`, raising the precision
/// until they differ; equal values print at the usual precision.
fn apart<T: PartialEq + Copy>(seen: T, wanted: T, print: impl Fn(T, u32) -> String) -> (String, String) {
    let mut precision = 0;
    loop {
        let (seen_text, wanted_text) = (print(seen, precision), print(wanted, precision));
        if seen == wanted || seen_text != wanted_text || precision >= 6 {
            return (seen_text, wanted_text);
        }
        precision += 1;
    }
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
    format_scaled(bytes, 1024.0, BINARY_NAMES)
}

/// Prints a byte count in decimal units with one decimal: `83.3 GB`, for thresholds written in GB.
pub fn format_bytes_decimal(bytes: u64) -> String {
    format_scaled(bytes, 1000.0, DECIMAL_NAMES)
}

const BINARY_NAMES: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const DECIMAL_NAMES: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];

fn format_scaled(bytes: u64, step: f64, names: [&str; 6]) -> String {
    format_in_unit(bytes, step, names, unit_of(bytes, step, names.len()), 1)
}

/// The index of the largest unit not above `bytes`.
fn unit_of(bytes: u64, step: f64, units: usize) -> usize {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= step && unit < units - 1 {
        value /= step;
        unit += 1;
    }
    unit
}

/// `bytes` in unit number `unit` with at most `decimals` decimals (trailing zeros dropped);
/// whole numbers from 100 up at the usual one decimal.
fn format_in_unit(bytes: u64, step: f64, names: [&str; 6], unit: usize, decimals: u32) -> String {
    if unit == 0 {
        return format!("{bytes} B");
    }
    let size = (step as u128).pow(unit as u32);
    let value = bytes as f64 / size as f64;
    let decimals = if decimals == 1 && value >= 100.0 { 0 } else { decimals };
    let text = if decimals <= 1 {
        decimal(bytes as u128, size, decimals)
    } else {
        // Cut, not rounded, beyond one decimal: 19.9995 GiB must not print as 20 GiB.
        decimal_cut(bytes as u128, size, decimals)
    };
    format!("{text} {}", names[unit])
}

/// Prints a ratio as a percentage with at most one decimal: `0.031` is `3.1%`.
pub fn format_percent(ratio: f64) -> String {
    format_percent_to(ratio, 1)
}

/// A seen and a wanted ratio as percentages, with as many decimals as it takes for two
/// different ratios to print differently (`9.99%` against `10%`, not `10%` against `10%`).
pub fn format_percents_apart(seen: f64, wanted: f64) -> (String, String) {
    apart(seen, wanted, |value, precision| format_percent_to(value, 1 + precision as usize))
}

/// Beyond one decimal the digits are cut, not rounded, so a share below the wanted one never
/// prints as the wanted one.
fn format_percent_to(ratio: f64, decimals: usize) -> String {
    let percent = ratio * 100.0;
    let text = if decimals <= 1 {
        format!("{percent:.decimals$}")
    } else {
        let scale = 10f64.powi(decimals as i32);
        format!("{:.decimals$}", (percent * scale).floor() / scale)
    };
    if text.contains('.') {
        format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
    } else {
        format!("{text}%")
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

    /// A seen count and this size, in this size's kind of units, printed apart when they differ
    /// (see [`format_bytes_apart`]).
    pub fn format_against(self, seen: u64) -> (String, String) {
        format_bytes_apart(seen, self.0, self.1)
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
    format_age_to(duration, 2)
}

/// An age in at most `units` units from the largest (days, hours, minutes, seconds, then the
/// fraction of a second), the smaller ones dropped; days alone when the rest is nothing.
fn format_age_to(duration: Duration, units: u32) -> String {
    let seconds = duration.as_secs();
    if seconds < 3600 && units <= 2 {
        return format_duration(Duration::from_secs(seconds));
    }
    if seconds < 3600 {
        return format_duration_to(duration, units.saturating_sub(2) * 3);
    }
    let parts =
        [(seconds / 86400, "d"), (seconds % 86400 / 3600, "h"), (seconds % 3600 / 60, "m"), (seconds % 60, "s")];
    let first = parts.iter().position(|(value, _)| *value > 0).unwrap_or(parts.len() - 1);
    let mut shown: Vec<&(u64, &str)> = parts[first..].iter().take(units as usize).collect();
    // `40d`, not `40d 0h`; but `1d 2h`, and `40d 0h 0m 5s` when the seconds decide.
    while shown.len() > 1 && shown.last().is_some_and(|(value, _)| *value == 0) {
        shown.pop();
    }
    shown.iter().map(|(value, unit)| format!("{value}{unit}")).collect::<Vec<_>>().join(" ")
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
    fn durations_keep_the_sub_second_precision_they_have() {
        assert_eq!(format_duration(Duration::from_millis(2504)), "2.504s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(90_250)), "1m30.25s");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format_duration(Duration::from_nanos(123_456_789)), "123.457ms");
        assert_eq!(format_duration(Duration::from_nanos(119_999_600_000)), "2m", "rounded whole, not 1m60s");
        assert_eq!(format_duration(Duration::from_nanos(86_399_999_900_000)), "1d");
    }

    #[test]
    fn periods_print_as_written_in_days_not_months() {
        assert_eq!(format_duration(Duration::from_secs(90 * 86400)), "90d");
        assert_eq!(format_duration(Duration::from_secs(36 * 3600)), "1d12h");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(7 * 86400)), "7d");
        assert_eq!(format!("{:?}", HumanDuration(Duration::from_secs(90 * 86400))), "90d");
        for written in ["90d", "6h", "1h30m", "30s", "250ms", "1500ms", "2d3h4m5s"] {
            let parsed = parse_duration(written).unwrap();
            assert_eq!(parse_duration(&format_duration(parsed)), Ok(parsed), "{written}");
        }
    }

    #[test]
    fn a_seen_and_a_wanted_duration_that_differ_print_differently() {
        let wanted = Duration::from_secs(2);
        assert_eq!(format_durations_apart(Duration::from_millis(2504), wanted), ("2.504s".into(), "2s".into()));
        assert_eq!(format_durations_apart(Duration::from_micros(2_000_400), wanted), ("2.0004s".into(), "2s".into()));
        assert_eq!(
            format_durations_apart(Duration::from_nanos(2_000_000_001), wanted),
            ("2.000000001s".into(), "2s".into())
        );
        assert_eq!(format_durations_apart(wanted, wanted), ("2s".into(), "2s".into()));
        let (seen, want) = format_durations_apart(Duration::from_secs(86400 + 30), Duration::from_secs(86400));
        assert_ne!(seen, want);
    }

    #[test]
    fn ages_that_differ_print_differently() {
        let day = 86400;
        assert_eq!(format_age(Duration::from_secs(day + 2 * 3600)), "1d 2h", "an age alone stays short");
        let (seen, want) =
            format_ages_apart(Duration::from_secs(day + 2 * 3600 + 1800), Duration::from_secs(day + 2 * 3600));
        assert_eq!((seen.as_str(), want.as_str()), ("1d 2h 30m", "1d 2h"));
        let (seen, want) = format_ages_apart(Duration::from_secs(40 * day + 5), Duration::from_secs(40 * day));
        assert_eq!((seen.as_str(), want.as_str()), ("40d 0h 0m 5s", "40d"));
        let (seen, want) = format_ages_apart(Duration::from_secs(41 * day), Duration::from_secs(40 * day));
        assert_eq!((seen.as_str(), want.as_str()), ("41d", "40d"));
    }

    #[test]
    fn a_seen_and_a_wanted_size_that_differ_print_differently() {
        let wanted = 20u64 << 30;
        assert_eq!(format_bytes(wanted - (1 << 20)), "20 GiB", "alone, one decimal");
        let (seen, want) = format_bytes_apart(wanted - (1 << 20), wanted, false);
        assert_eq!((seen.as_str(), want.as_str()), ("19.99 GiB", "20 GiB"));
        let (seen, want) = format_bytes_apart(wanted - 1, wanted, false);
        assert_eq!((seen.as_str(), want.as_str()), ("19.99 GiB", "20 GiB"), "cut, never rounded up to the wanted");
        let (seen, want) = format_bytes_apart((1 << 40) - 1, 1 << 40, false);
        assert_eq!((seen.as_str(), want.as_str()), ("0.99 TiB", "1 TiB"));
        let (seen, want) = format_bytes_apart(wanted + 1, wanted, false);
        assert_eq!((seen.as_str(), want.as_str()), ("21474836481 B", "21474836480 B"));
        let (seen, want) = format_bytes_apart(19_990_000_000, 20_000_000_000, true);
        assert_eq!((seen.as_str(), want.as_str()), ("19.99 GB", "20 GB"));
        assert_eq!(format_bytes_apart(3 << 30, 20 << 30, false), ("3 GiB".into(), "20 GiB".into()));
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
    fn a_seen_and_a_wanted_share_that_differ_print_differently() {
        assert_eq!(format_percents_apart(0.0999, 0.1), ("9.99%".into(), "10%".into()));
        assert_eq!(format_percents_apart(0.875, 0.8), ("87.5%".into(), "80%".into()));
        assert_eq!(format_percents_apart(0.1, 0.1), ("10%".into(), "10%".into()));
    }

    #[test]
    fn percentages_drop_needless_decimals() {
        assert_eq!(format_percent(0.031), "3.1%");
        assert_eq!(format_percent(0.25), "25%");
    }
}
