//! The `process_*` series every Go exporter has (client_golang's process collector), read from
//! `/proc/self` at each scrape: CPU time, resident and virtual memory, open and permitted file
//! descriptors, start time. prometheus-client has no such collector. Parsing is separate from
//! reading so that it is tested on plain strings.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// What `/proc/self/stat` says about this process, in the kernel's units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcStat {
    /// User and system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    pub virtual_bytes: u64,
    pub resident_pages: u64,
    /// Since boot, in clock ticks.
    pub start_ticks: u64,
}

/// Parses `/proc/PID/stat`. The command name (field 2) is in parentheses and may hold spaces
/// and parentheses itself, so the fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let after_name = &text[text.rfind(')')? + 1..];
    // Field 3 (state) is the first after the name; proc(5) numbers fields from 1.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
    Some(ProcStat {
        cpu_ticks: field(14)? + field(15)?,
        start_ticks: field(22)?,
        virtual_bytes: field(23)?,
        resident_pages: field(24)?,
    })
}

/// The boot time (`btime`) from `/proc/stat`, in seconds since the epoch.
pub fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines().find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())
}

/// The soft limit of open files from `/proc/self/limits` (`unlimited` as `u64::MAX`).
pub fn parse_max_open_files(text: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with("Max open files"))?;
    let soft = line.trim_start_matches("Max open files").split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(u64::MAX);
    }
    soft.parse().ok()
}

/// The process collector; reads `/proc` at every scrape, so it is never cached.
#[derive(Debug, Default)]
pub struct ProcessCollector;

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf only reads a configuration value.
    let value = unsafe { libc::sysconf(name) };
    u64::try_from(value).ok().filter(|v| *v > 0)
}

fn plain_gauge(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: f64) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(family.encode_family(&Vec::<(&str, &str)>::new())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // A series that cannot be read is left out rather than reported as 0.
        let ticks = sysconf(libc::_SC_CLK_TCK).unwrap_or(100) as f64;
        let page = sysconf(libc::_SC_PAGESIZE).unwrap_or(4096);
        let stat = std::fs::read_to_string("/proc/self/stat").ok().as_deref().and_then(parse_stat);
        if let Some(stat) = stat {
            let mut family = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                MetricType::Counter,
            )?;
            ConstCounter::new(stat.cpu_ticks as f64 / ticks)
                .encode(family.encode_family(&Vec::<(&str, &str)>::new())?)?;
            plain_gauge(
                &mut encoder,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                (stat.resident_pages * page) as f64,
            )?;
            plain_gauge(
                &mut encoder,
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                stat.virtual_bytes as f64,
            )?;
            let boot = std::fs::read_to_string("/proc/stat").ok().as_deref().and_then(parse_boot_time);
            if let Some(boot) = boot {
                plain_gauge(
                    &mut encoder,
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    boot as f64 + stat.start_ticks as f64 / ticks,
                )?;
            }
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            // The directory handle read_dir holds is one of the entries; do not count it.
            let open = entries.count().saturating_sub(1);
            plain_gauge(&mut encoder, "process_open_fds", "Number of open file descriptors.", open as f64)?;
        }
        let limits = std::fs::read_to_string("/proc/self/limits").ok();
        if let Some(max) = limits.as_deref().and_then(parse_max_open_files) {
            plain_gauge(&mut encoder, "process_max_fds", "Maximum number of open file descriptors.", max as f64)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 1500 0 0 0 250 50 0 0 20 0 8 0 \
                    123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(stat),
            Some(ProcStat { cpu_ticks: 300, start_ticks: 123456, virtual_bytes: 987654321, resident_pages: 2048 })
        );
        assert_eq!(parse_stat("4242 (truncated) S 1 2"), None);
    }

    #[test]
    fn boot_time_and_the_open_files_limit_are_found_by_name() {
        assert_eq!(parse_boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n"), Some(1_700_000_000));
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_max_open_files(limits), Some(1024));
        let unlimited = "Max open files            unlimited            unlimited            files     \n";
        assert_eq!(parse_max_open_files(unlimited), Some(u64::MAX));
    }
}
