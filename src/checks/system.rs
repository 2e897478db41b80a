//! Host resources: CPU cores, memory, and free space of the filesystem holding a path.
//! The decisions are pure functions of measured numbers, tested below on plain values; the
//! measuring reads `/proc` (through sysinfo) and calls `statvfs` off the async workers.

use std::path::PathBuf;

use serde::Deserialize;

use super::{check_ratio, require, subject, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample, Subject};
use crate::support::units::{format_bytes, format_percents_apart, ByteSize};

pub static HOST_CPU_CORES: MetricFamily = MetricFamily {
    name: "checklist_host_cpu_cores",
    help: "CPU cores available to this process (cgroup quota and affinity respected).",
    kind: MetricKind::Gauge,
};
pub static HOST_MEMORY_TOTAL_BYTES: MetricFamily = MetricFamily {
    name: "checklist_host_memory_total_bytes",
    help: "Total memory of this host in bytes.",
    kind: MetricKind::Gauge,
};
pub static HOST_MEMORY_USED_RATIO: MetricFamily = MetricFamily {
    name: "checklist_host_memory_used_ratio",
    help: "Share of memory in use (total minus available, over total).",
    kind: MetricKind::Gauge,
};
pub static DISK_FREE_BYTES: MetricFamily = MetricFamily {
    name: "checklist_disk_free_bytes",
    help: "Bytes available to unprivileged users on the filesystem holding the path.",
    kind: MetricKind::Gauge,
};
pub static DISK_FREE_RATIO: MetricFamily = MetricFamily {
    name: "checklist_disk_free_ratio",
    help: "Share of the filesystem holding the path that is available to unprivileged users.",
    kind: MetricKind::Gauge,
};
pub static DISK_SIZE_BYTES: MetricFamily = MetricFamily {
    name: "checklist_disk_size_bytes",
    help: "Size in bytes of the filesystem holding the path.",
    kind: MetricKind::Gauge,
};

/// `kind = "cpu"`: the number of cores at least a minimum, and optionally a recommended count.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuCheck {
    pub min_cores: Option<u32>,
    pub recommended_cores: Option<u32>,
}

impl Check for CpuCheck {
    const KIND: &'static str = "cpu";
    const ASPECTS: &'static [&'static str] = &["minimum", "recommended"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&HOST_CPU_CORES];
    type State = ();

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        match aspect {
            "minimum" => require(&self.min_cores, aspect, "min_cores")?,
            _ => require(&self.recommended_cores, aspect, "recommended_cores")?,
        }
        if let (Some(min), Some(rec)) = (self.min_cores, self.recommended_cores) {
            if rec < min {
                return Err(KeyError::new(
                    "recommended_cores",
                    format!("{rec} is below min_cores {min}; the recommendation must be at least the minimum"),
                ));
            }
        }
        Ok(())
    }

    fn target(&self) -> String {
        String::new()
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        // The count reads the cgroup's CPU quota from /sys: a file read, off the async workers.
        let cores = ctx
            .blocking()
            .run(std::thread::available_parallelism)
            .await?
            .map_err(|err| ProbeFailure::new(Cause::Io, format!("cannot count CPU cores: {err}")))?
            .get() as u64;
        Ok(self.decide(cores))
    }
}

impl CpuCheck {
    pub fn decide(&self, cores: u64) -> Report {
        let mut report = Report::default().sample(Sample::new(&HOST_CPU_CORES, cores as f64));
        let recommended_note = match self.recommended_cores {
            Some(rec) if cores < rec as u64 => format!("; {rec} recommended"),
            _ => String::new(),
        };
        if let Some(min) = self.min_cores {
            let reason = format!("{cores} CPU cores; want at least {min}{recommended_note}");
            report = report.with("minimum", Outcome::decide(cores >= min as u64, Cause::BelowMinimum, reason));
        }
        if let Some(rec) = self.recommended_cores {
            let reason = format!("{cores} CPU cores; {rec} or more recommended");
            report = report.with("recommended", Outcome::decide(cores >= rec as u64, Cause::BelowMinimum, reason));
        }
        report
    }
}

/// `kind = "memory"`: total memory at least a minimum (and a recommendation), used share at most
/// a maximum.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryCheck {
    pub min_total_bytes: Option<ByteSize>,
    pub recommended_total_bytes: Option<ByteSize>,
    pub max_used_ratio: Option<f64>,
}

/// Memory as `/proc/meminfo` tells it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryReading {
    pub total_bytes: u64,
    pub available_bytes: u64,
}

impl Check for MemoryCheck {
    const KIND: &'static str = "memory";
    const ASPECTS: &'static [&'static str] = &["minimum", "recommended", "used_ratio"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&HOST_MEMORY_TOTAL_BYTES, &HOST_MEMORY_USED_RATIO];
    type State = ();

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        match aspect {
            "minimum" => require(&self.min_total_bytes, aspect, "min_total_bytes")?,
            "recommended" => require(&self.recommended_total_bytes, aspect, "recommended_total_bytes")?,
            _ => require(&self.max_used_ratio, aspect, "max_used_ratio")?,
        }
        check_ratio(self.max_used_ratio, "max_used_ratio")?;
        if let (Some(min), Some(rec)) = (self.min_total_bytes, self.recommended_total_bytes) {
            if rec < min {
                return Err(KeyError::new(
                    "recommended_total_bytes",
                    format!("{rec} is below min_total_bytes {min}; the recommendation must be at least the minimum"),
                ));
            }
        }
        Ok(())
    }

    fn target(&self) -> String {
        String::new()
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let reading = ctx
            .blocking()
            .run(|| -> Result<MemoryReading, String> {
                let mut system = sysinfo::System::new().map_err(|err| err.to_string())?;
                system.refresh_memory();
                Ok(MemoryReading { total_bytes: system.total_memory(), available_bytes: system.available_memory() })
            })
            .await?
            .map_err(|err| ProbeFailure::new(Cause::Io, format!("cannot read memory figures: {err}")))?;
        if reading.total_bytes == 0 {
            return Err(ProbeFailure::new(Cause::Io, "the kernel reports 0 bytes of memory; cannot decide"));
        }
        Ok(self.decide(reading))
    }
}

impl MemoryCheck {
    pub fn decide(&self, reading: MemoryReading) -> Report {
        let total = reading.total_bytes;
        let used = total.saturating_sub(reading.available_bytes);
        let used_ratio = used as f64 / total as f64;
        let mut report = Report::default()
            .sample(Sample::new(&HOST_MEMORY_TOTAL_BYTES, total as f64))
            .sample(Sample::new(&HOST_MEMORY_USED_RATIO, used_ratio));
        let recommended_note = match self.recommended_total_bytes {
            Some(rec) if total < rec.0 => format!("; {rec} recommended"),
            _ => String::new(),
        };
        if let Some(min) = self.min_total_bytes {
            let (seen, wanted) = min.format_against(total);
            let reason = format!("{seen} of memory; want at least {wanted}{recommended_note}");
            report = report.with("minimum", Outcome::decide(total >= min.0, Cause::BelowMinimum, reason));
        }
        if let Some(rec) = self.recommended_total_bytes {
            let (seen, wanted) = rec.format_against(total);
            let reason = format!("{seen} of memory; {wanted} or more recommended");
            report = report.with("recommended", Outcome::decide(total >= rec.0, Cause::BelowMinimum, reason));
        }
        if let Some(max) = self.max_used_ratio {
            let (seen, wanted) = format_percents_apart(used_ratio, max);
            let reason = format!(
                "memory {seen} used ({} of {}); want at most {wanted}",
                format_bytes(used),
                format_bytes(total),
            );
            report = report.with("used_ratio", Outcome::decide(used_ratio <= max, Cause::AboveMaximum, reason));
        }
        report
    }
}

/// `kind = "disk"`: free space of the filesystem holding `path`, as bytes and as a share.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskCheck {
    pub path: PathBuf,
    pub min_free_bytes: Option<ByteSize>,
    pub recommended_free_bytes: Option<ByteSize>,
    pub min_free_ratio: Option<f64>,
}

/// What `statvfs` says about a filesystem, in bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DiskReading {
    pub size_bytes: u64,
    /// Available to unprivileged users (`f_bavail`), as `df` reports it.
    pub free_bytes: u64,
}

impl Check for DiskCheck {
    const KIND: &'static str = "disk";
    const ASPECTS: &'static [&'static str] = &["minimum", "recommended", "free_ratio"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&DISK_FREE_BYTES, &DISK_FREE_RATIO, &DISK_SIZE_BYTES];
    type State = ();

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        if !self.path.is_absolute() {
            return Err(KeyError::new("path", format!("`{}` is not an absolute path", self.path.display())));
        }
        match aspect {
            "minimum" => require(&self.min_free_bytes, aspect, "min_free_bytes")?,
            "recommended" => require(&self.recommended_free_bytes, aspect, "recommended_free_bytes")?,
            _ => require(&self.min_free_ratio, aspect, "min_free_ratio")?,
        }
        check_ratio(self.min_free_ratio, "min_free_ratio")?;
        if let (Some(min), Some(rec)) = (self.min_free_bytes, self.recommended_free_bytes) {
            if rec < min {
                return Err(KeyError::new(
                    "recommended_free_bytes",
                    format!("{rec} is below min_free_bytes {min}; the recommendation must be at least the minimum"),
                ));
            }
        }
        Ok(())
    }

    fn target(&self) -> String {
        self.path.display().to_string()
    }

    fn subject(&self) -> Option<Subject> {
        Some(subject::path(&self.path))
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let path = self.path.clone();
        let reading = ctx.blocking().run(move || statvfs(&path)).await?;
        let reading = reading.map_err(|err| {
            let what = match err.kind() {
                std::io::ErrorKind::NotFound => "does not exist".to_string(),
                std::io::ErrorKind::PermissionDenied => "cannot be reached: permission denied".to_string(),
                _ => format!("cannot be examined: {err}"),
            };
            ProbeFailure::new(Cause::from_io(&err), format!("path {} {what}", self.path.display()))
        })?;
        Ok(self.decide(reading))
    }
}

impl DiskCheck {
    pub fn decide(&self, reading: DiskReading) -> Report {
        let path = self.path.display().to_string();
        let free = reading.free_bytes;
        let ratio = if reading.size_bytes == 0 { 0.0 } else { free as f64 / reading.size_bytes as f64 };
        let mut report = Report::default()
            .sample(Sample::new(&DISK_FREE_BYTES, free as f64).label("path", &path))
            .sample(Sample::new(&DISK_FREE_RATIO, ratio).label("path", &path))
            .sample(Sample::new(&DISK_SIZE_BYTES, reading.size_bytes as f64).label("path", &path));
        let recommended_note = match self.recommended_free_bytes {
            Some(rec) if free < rec.0 => format!("; {rec} recommended"),
            _ => String::new(),
        };
        if let Some(min) = self.min_free_bytes {
            let (seen, wanted) = min.format_against(free);
            let reason = format!("disk {path} has {seen} free; want at least {wanted}{recommended_note}");
            report = report.with("minimum", Outcome::decide(free >= min.0, Cause::BelowMinimum, reason));
        }
        if let Some(rec) = self.recommended_free_bytes {
            let (seen, wanted) = rec.format_against(free);
            let reason = format!("disk {path} has {seen} free; {wanted} or more recommended");
            report = report.with("recommended", Outcome::decide(free >= rec.0, Cause::BelowMinimum, reason));
        }
        if let Some(min) = self.min_free_ratio {
            let (seen, wanted) = format_percents_apart(ratio, min);
            let reason = format!(
                "disk {path} has {seen} free ({} of {}); want at least {wanted}",
                format_bytes(free),
                format_bytes(reading.size_bytes),
            );
            report = report.with("free_ratio", Outcome::decide(ratio >= min, Cause::BelowMinimum, reason));
        }
        report
    }
}

fn statvfs(path: &std::path::Path) -> std::io::Result<DiskReading> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: statvfs only writes into the zeroed struct we pass and reads the NUL-terminated path.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fragment = stat.f_frsize as u64;
    Ok(DiskReading {
        size_bytes: (stat.f_blocks as u64).saturating_mul(fragment),
        free_bytes: (stat.f_bavail as u64).saturating_mul(fragment),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    const GIB: u64 = 1 << 30;

    fn cpu(min: Option<u32>, rec: Option<u32>) -> CpuCheck {
        CpuCheck { min_cores: min, recommended_cores: rec }
    }

    #[test]
    fn cpu_minimum_passes_at_the_minimum_and_mentions_the_recommendation() {
        let report = cpu(Some(2), Some(4)).decide(2);
        let minimum = report.outcome("minimum").unwrap();
        assert_eq!(minimum.verdict, Verdict::Pass);
        assert_eq!(minimum.reason, "2 CPU cores; want at least 2; 4 recommended");
        let recommended = report.outcome("recommended").unwrap();
        assert_eq!(recommended.verdict, Verdict::Fail);
        assert_eq!(recommended.cause, Some(Cause::BelowMinimum));
    }

    #[test]
    fn cpu_below_minimum_fails() {
        let outcome = cpu(Some(2), None).decide(1).outcome("minimum").cloned().unwrap();
        assert_eq!(outcome, Outcome::fail(Cause::BelowMinimum, "1 CPU cores; want at least 2"));
    }

    #[test]
    fn cpu_recommendation_below_minimum_is_refused() {
        let err = cpu(Some(4), Some(2)).validate("minimum").unwrap_err();
        assert_eq!(err.key, "recommended_cores");
    }

    #[test]
    fn aspect_without_its_threshold_is_refused() {
        let err = cpu(Some(2), None).validate("recommended").unwrap_err();
        assert_eq!(
            err,
            KeyError::new("recommended_cores", "an item decides `recommended`, which needs `recommended_cores`")
        );
    }

    #[test]
    fn memory_used_ratio_compares_used_share_with_the_maximum() {
        let check = MemoryCheck { min_total_bytes: None, recommended_total_bytes: None, max_used_ratio: Some(0.8) };
        let busy = check.decide(MemoryReading { total_bytes: 8 * GIB, available_bytes: GIB });
        let outcome = busy.outcome("used_ratio").unwrap();
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(outcome.reason, "memory 87.5% used (7 GiB of 8 GiB); want at most 80%");
        let calm = check.decide(MemoryReading { total_bytes: 8 * GIB, available_bytes: 4 * GIB });
        assert_eq!(calm.outcome("used_ratio").unwrap().verdict, Verdict::Pass);
        assert_eq!(calm.samples[1].gauge_value(), Some(0.5));
    }

    #[test]
    fn memory_total_against_minimum_and_recommendation() {
        let check = MemoryCheck {
            min_total_bytes: Some(ByteSize(4 * GIB, false)),
            recommended_total_bytes: Some(ByteSize(8 * GIB, false)),
            max_used_ratio: None,
        };
        let report = check.decide(MemoryReading { total_bytes: 6 * GIB, available_bytes: 6 * GIB });
        assert_eq!(
            report.outcome("minimum").unwrap().reason,
            "6 GiB of memory; want at least 4 GiB; 8 GiB recommended"
        );
        assert_eq!(report.outcome("minimum").unwrap().verdict, Verdict::Pass);
        assert_eq!(report.outcome("recommended").unwrap().verdict, Verdict::Fail);
        assert!(report.outcome("used_ratio").is_none());
    }

    #[test]
    fn a_shortfall_smaller_than_a_decimal_still_shows_in_the_reason() {
        let check = MemoryCheck {
            min_total_bytes: Some(ByteSize(4 * GIB, false)),
            recommended_total_bytes: None,
            max_used_ratio: None,
        };
        let report = check.decide(MemoryReading { total_bytes: 4 * GIB - 4096, available_bytes: GIB });
        let outcome = report.outcome("minimum").unwrap();
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(outcome.reason, "3.99 GiB of memory; want at least 4 GiB");
        let report =
            disk(None, Some(0.1)).decide(DiskReading { size_bytes: 1000 * GIB, free_bytes: 99_999 * GIB / 1000 });
        let outcome = report.outcome("free_ratio").unwrap();
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert!(outcome.reason.starts_with("disk / has 9.99% free ("), "{}", outcome.reason);
        assert!(outcome.reason.ends_with("want at least 10%"), "{}", outcome.reason);
    }

    #[test]
    fn memory_ratio_out_of_range_is_refused() {
        let check = MemoryCheck { min_total_bytes: None, recommended_total_bytes: None, max_used_ratio: Some(80.0) };
        assert_eq!(check.validate("used_ratio").unwrap_err().key, "max_used_ratio");
    }

    fn disk(min: Option<u64>, ratio: Option<f64>) -> DiskCheck {
        DiskCheck {
            path: PathBuf::from("/"),
            min_free_bytes: min.map(|b| ByteSize(b, false)),
            recommended_free_bytes: None,
            min_free_ratio: ratio,
        }
    }

    #[test]
    fn disk_free_bytes_reason_states_value_and_threshold() {
        let report =
            disk(Some(20 * GIB), None).decide(DiskReading { size_bytes: 100 * GIB, free_bytes: 3_328_599_654 });
        assert_eq!(
            report.outcome("minimum").cloned().unwrap(),
            Outcome::fail(Cause::BelowMinimum, "disk / has 3.1 GiB free; want at least 20 GiB")
        );
    }

    #[test]
    fn disk_free_ratio_passes_at_the_threshold() {
        let report = disk(None, Some(0.1)).decide(DiskReading { size_bytes: 100 * GIB, free_bytes: 10 * GIB });
        let outcome = report.outcome("free_ratio").unwrap();
        assert_eq!(outcome.verdict, Verdict::Pass);
        assert_eq!(outcome.reason, "disk / has 10% free (10 GiB of 100 GiB); want at least 10%");
        assert_eq!(report.samples.len(), 3);
        assert_eq!(report.samples[0].labels, vec![("path", "/".to_string())]);
    }

    #[test]
    fn disk_of_size_zero_reports_no_free_share() {
        let report = disk(None, Some(0.1)).decide(DiskReading { size_bytes: 0, free_bytes: 0 });
        assert_eq!(report.outcome("free_ratio").unwrap().verdict, Verdict::Fail);
    }

    #[test]
    fn relative_disk_path_is_refused() {
        let mut check = disk(Some(1), None);
        check.path = PathBuf::from("var/lib");
        assert_eq!(check.validate("minimum").unwrap_err().key, "path");
    }

    #[tokio::test]
    async fn missing_disk_path_is_an_error_naming_the_path() {
        let mut check = disk(Some(1), None);
        check.path = PathBuf::from("/nonexistent/checklist-exporter-test");
        let failure = check.run(&CheckContext::default(), &mut ()).await.unwrap_err();
        assert_eq!(failure.cause, Cause::NotFound);
        assert_eq!(failure.reason, "path /nonexistent/checklist-exporter-test does not exist");
    }

    #[tokio::test]
    async fn real_statvfs_of_root_reports_a_size() {
        let report = disk(Some(1), Some(0.0)).run(&CheckContext::default(), &mut ()).await.unwrap();
        assert!(report
            .samples
            .iter()
            .any(|s| s.family.name == "checklist_disk_size_bytes" && s.gauge_value() > Some(0.0)));
    }
}
