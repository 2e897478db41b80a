//! Network reachability from this vantage point: a TCP port that must be open, one that must be
//! closed or filtered, and a DNS name that must resolve (optionally to expected addresses).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RecordType;
use hickory_resolver::{Hosts, TokioResolver};
use serde::Deserialize;

use super::{shorter_than_timeout, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample, Subject};
use crate::support::file_identity::FileIdentity;
use crate::support::units::{format_duration, HumanDuration};

pub static TCP_CONNECT_DURATION: MetricFamily = MetricFamily {
    name: "checklist_tcp_connect_duration_seconds",
    help: "Time the last TCP connection attempt took, in seconds.",
    kind: MetricKind::Gauge,
};
pub static DNS_LOOKUP_DURATION: MetricFamily = MetricFamily {
    name: "checklist_dns_lookup_duration_seconds",
    help: "Time the last DNS lookup took, in seconds.",
    kind: MetricKind::Gauge,
};
pub static DNS_ADDRESSES: MetricFamily = MetricFamily {
    name: "checklist_dns_addresses",
    help: "Number of addresses the last DNS lookup returned.",
    kind: MetricKind::Gauge,
};

/// Whether a port must accept connections or must not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortExpectation {
    Open,
    /// Refused, unreachable or silent (filtered) from here.
    Closed,
}

/// `kind = "tcp_port"`: connects to `address` (`host:port`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpPortCheck {
    pub address: String,
    pub expect: PortExpectation,
    /// How long to wait for the handshake; a silent port counts as filtered after this.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
}

fn default_connect_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(3))
}

/// How a connection attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectResult {
    Connected(Duration),
    Refused,
    /// No answer within the connect timeout: a firewall dropping packets.
    Silent(Duration),
    Unreachable(String),
}

impl Check for TcpPortCheck {
    const KIND: &'static str = "tcp_port";
    const ASPECTS: &'static [&'static str] = &["state"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&TCP_CONNECT_DURATION];
    type State = ();

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        match self.address.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0) => Ok(()),
            _ => Err(KeyError::new(
                "address",
                format!("`{}` is not host:port (like `127.0.0.1:5432` or `[::1]:8443`)", self.address),
            )),
        }
    }

    fn target(&self) -> String {
        self.address.clone()
    }

    fn validate_timeout(&self, timeout: Duration) -> Result<(), KeyError> {
        shorter_than_timeout(
            "connect_timeout",
            self.connect_timeout.0,
            timeout,
            "a silent port must be seen as filtered",
        )
    }

    fn subject(&self) -> Option<Subject> {
        Some(Subject::Endpoint(self.address.clone()))
    }

    async fn run(&self, _ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let addresses = resolve_socket_addresses(&self.address).await?;
        let result = connect_any(&addresses, self.connect_timeout.0).await;
        Ok(self.decide(&result))
    }
}

impl TcpPortCheck {
    pub fn decide(&self, result: &ConnectResult) -> Report {
        let address = &self.address;
        let mut report = Report::default();
        if let ConnectResult::Connected(took) = result {
            report = report.sample(Sample::new(&TCP_CONNECT_DURATION, took.as_secs_f64()).label("address", address));
        }
        let outcome = match (self.expect, result) {
            (PortExpectation::Open, ConnectResult::Connected(took)) => {
                Outcome::pass(format!("{address} accepted a TCP connection in {}", format_duration(*took)))
            }
            (PortExpectation::Open, ConnectResult::Refused) => {
                Outcome::fail(Cause::Refused, format!("{address} refused the connection: nothing listens there"))
            }
            (PortExpectation::Open, ConnectResult::Silent(waited)) => Outcome::fail(
                Cause::Timeout,
                format!("{address} did not answer within {} (filtered?)", format_duration(*waited)),
            ),
            (PortExpectation::Open, ConnectResult::Unreachable(why)) => {
                Outcome::fail(Cause::Unreachable, format!("{address} is unreachable: {why}"))
            }
            (PortExpectation::Closed, ConnectResult::Connected(_)) => Outcome::fail(
                Cause::Open,
                format!("{address} accepted a TCP connection; want it closed or filtered from here"),
            ),
            (PortExpectation::Closed, ConnectResult::Refused) => {
                Outcome::pass(format!("{address} refused the connection (closed)"))
            }
            (PortExpectation::Closed, ConnectResult::Silent(waited)) => {
                Outcome::pass(format!("{address} did not answer within {} (filtered)", format_duration(*waited)))
            }
            (PortExpectation::Closed, ConnectResult::Unreachable(why)) => {
                Outcome::pass(format!("{address} is unreachable from here ({why})"))
            }
        };
        report.with("state", outcome)
    }
}

async fn resolve_socket_addresses(address: &str) -> Result<Vec<SocketAddr>, ProbeFailure> {
    let found = tokio::net::lookup_host(address)
        .await
        .map_err(|err| ProbeFailure::new(Cause::NotFound, format!("cannot resolve {address}: {err}")))?;
    let found: Vec<SocketAddr> = found.collect();
    if found.is_empty() {
        return Err(ProbeFailure::new(Cause::NotFound, format!("{address} resolves to no address")));
    }
    Ok(found)
}

/// Tries each address in turn, as a client would; the first connection wins.
async fn connect_any(addresses: &[SocketAddr], timeout: Duration) -> ConnectResult {
    let mut last = ConnectResult::Refused;
    for address in addresses {
        let started = Instant::now();
        last = match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
            Ok(Ok(_stream)) => return ConnectResult::Connected(started.elapsed()),
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionRefused => ConnectResult::Refused,
            Ok(Err(err)) => ConnectResult::Unreachable(err.to_string()),
            Err(_) => ConnectResult::Silent(timeout),
        };
    }
    last
}

impl<'de> Deserialize<'de> for PortExpectation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::one_of(deserializer, &[("open", PortExpectation::Open), ("closed", PortExpectation::Closed)])
    }
}

/// Which records a DNS check asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsRecordType {
    A,
    Aaaa,
}

impl<'de> Deserialize<'de> for DnsRecordType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::one_of(deserializer, &[("A", DnsRecordType::A), ("AAAA", DnsRecordType::Aaaa)])
    }
}

const RESOLV_CONF: &str = "/etc/resolv.conf";
const HOSTS_FILE: &str = "/etc/hosts";

/// The system's resolver configuration (`/etc/resolv.conf`) and static hosts (`/etc/hosts`), as
/// the last read found them.
#[derive(Clone, Debug)]
struct SystemDnsConfig {
    config: ResolverConfig,
    options: ResolverOpts,
    /// `None` when the options say not to use the hosts file.
    hosts: Option<Arc<Hosts>>,
}

/// The system's DNS configuration, read again only when `/etc/resolv.conf` or `/etc/hosts`
/// changes (by their identity: device, inode, size, times), so that an edit still takes effect
/// at the next run without a read of both files at every run. Blocking: stats (and reads) files.
fn system_dns_config() -> Result<Arc<SystemDnsConfig>, ProbeFailure> {
    dns_config_from(Path::new(RESOLV_CONF), Path::new(HOSTS_FILE))
}

/// [`system_dns_config`] for the files at `resolv_conf` and `hosts_file`.
fn dns_config_from(resolv_conf: &Path, hosts_file: &Path) -> Result<Arc<SystemDnsConfig>, ProbeFailure> {
    type Read = (Vec<Option<FileIdentity>>, Arc<SystemDnsConfig>);
    static LAST: Mutex<Option<HashMap<PathBuf, Read>>> = Mutex::new(None);
    let identity: Vec<Option<FileIdentity>> =
        [resolv_conf, hosts_file].iter().map(|path| FileIdentity::of_path(path).ok()).collect();
    let mut last = LAST.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cache = last.get_or_insert_with(HashMap::new);
    if let Some((seen, config)) = cache.get(resolv_conf) {
        if *seen == identity {
            return Ok(config.clone());
        }
    }
    let unreadable = |err: &dyn std::fmt::Display| {
        ProbeFailure::new(
            Cause::Io,
            format!("cannot read the system's resolver configuration {}: {err}", resolv_conf.display()),
        )
    };
    let text = std::fs::read(resolv_conf).map_err(|err| unreadable(&err))?;
    let (config, options) = hickory_resolver::system_conf::parse_resolv_conf(text).map_err(|err| unreadable(&err))?;
    let hosts = match options.use_hosts_file {
        ResolveHosts::Never => None,
        // No hosts file is no static host, as the resolver itself reads it.
        _ => {
            let mut hosts = Hosts::default();
            if let Ok(file) = std::fs::File::open(hosts_file) {
                let _ = hosts.read_hosts_conf(file);
            }
            Some(Arc::new(hosts))
        }
    };
    let read = Arc::new(SystemDnsConfig { config, options, hosts });
    cache.insert(resolv_conf.to_path_buf(), (identity, read.clone()));
    Ok(read)
}

/// `kind = "dns"`: `name` resolves to at least one address, and to every expected one.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsCheck {
    pub name: String,
    #[serde(default = "default_record_types")]
    pub record_types: Vec<DnsRecordType>,
    #[serde(default)]
    pub expect_addresses: Vec<IpAddr>,
    /// With `exact`, addresses beyond the expected ones fail the item too.
    #[serde(default)]
    pub exact: bool,
    /// Ask this server (`ip:port`) instead of the system's resolvers.
    pub nameserver: Option<SocketAddr>,
}

fn default_record_types() -> Vec<DnsRecordType> {
    vec![DnsRecordType::A, DnsRecordType::Aaaa]
}

/// The answer of one lookup, per record type.
#[derive(Clone, Debug, PartialEq)]
pub enum DnsAnswer {
    Addresses(Vec<IpAddr>),
    /// The name does not exist, or has no records of the asked types.
    NoRecords(String),
}

impl Check for DnsCheck {
    const KIND: &'static str = "dns";
    const ASPECTS: &'static [&'static str] = &["resolves"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&DNS_LOOKUP_DURATION, &DNS_ADDRESSES];
    type State = ();

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        let name = self.name.trim_end_matches('.');
        let valid_label = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(valid_label) {
            return Err(KeyError::new("name", format!("`{}` is not a DNS name", self.name)));
        }
        if self.record_types.is_empty() {
            return Err(KeyError::new("record_types", "name at least one of \"A\" and \"AAAA\""));
        }
        if self.exact && self.expect_addresses.is_empty() {
            return Err(KeyError::new("exact", "`exact = true` needs `expect_addresses`"));
        }
        Ok(())
    }

    fn target(&self) -> String {
        self.name.clone()
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let system = match self.nameserver {
            Some(_) => None,
            None => Some(ctx.blocking().run(system_dns_config).await??),
        };
        let resolver = self.resolver(system)?;
        let started = Instant::now();
        let mut addresses = Vec::new();
        let mut missing = Vec::new();
        for record_type in &self.record_types {
            let (rtype, label) = match record_type {
                DnsRecordType::A => (RecordType::A, "A"),
                DnsRecordType::Aaaa => (RecordType::AAAA, "AAAA"),
            };
            match resolver.lookup(self.name.as_str(), rtype).await {
                Ok(lookup) => addresses.extend(lookup.answers().iter().filter_map(|record| match &record.data {
                    hickory_resolver::proto::rr::RData::A(a) => Some(IpAddr::V4(a.0)),
                    hickory_resolver::proto::rr::RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                    _ => None,
                })),
                Err(err) if err.is_no_records_found() || err.is_nx_domain() => missing.push(label),
                Err(err) => {
                    return Err(ProbeFailure::new(
                        Cause::Unreachable,
                        format!("DNS lookup of {} ({label}) failed: {err}", self.name),
                    ))
                }
            }
        }
        let took = started.elapsed();
        let answer = if addresses.is_empty() {
            DnsAnswer::NoRecords(format!("no {} records", missing.join(" or ")))
        } else {
            DnsAnswer::Addresses(addresses)
        };
        Ok(self.decide(&answer, took))
    }
}

impl DnsCheck {
    /// A fresh resolver (so that no answer is cached between runs) asking `nameserver`, or the
    /// system's resolvers as `system` describes them.
    fn resolver(&self, system: Option<Arc<SystemDnsConfig>>) -> Result<TokioResolver, ProbeFailure> {
        let (builder, hosts) = match (self.nameserver, system) {
            (Some(server), _) => {
                let mut config = NameServerConfig::udp_and_tcp(server.ip());
                for connection in &mut config.connections {
                    connection.port = server.port();
                }
                let builder = TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![config]),
                    TokioRuntimeProvider::default(),
                );
                (builder, None)
            }
            (None, Some(system)) => {
                let mut options = system.options.clone();
                // The hosts file was read with the configuration; the builder would read it again.
                options.use_hosts_file = ResolveHosts::Never;
                let builder =
                    TokioResolver::builder_with_config(system.config.clone(), TokioRuntimeProvider::default())
                        .with_options(options);
                (builder, system.hosts.clone())
            }
            (None, None) => {
                return Err(ProbeFailure::new(
                    Cause::Io,
                    "no resolver configuration: neither `nameserver` nor the system's",
                ))
            }
        };
        let mut resolver = builder
            .build()
            .map_err(|err| ProbeFailure::new(Cause::Io, format!("cannot set up a DNS resolver: {err}")))?;
        if let Some(hosts) = hosts {
            resolver.set_hosts(hosts);
        }
        Ok(resolver)
    }

    pub fn decide(&self, answer: &DnsAnswer, took: Duration) -> Report {
        let name = &self.name;
        let mut report =
            Report::default().sample(Sample::new(&DNS_LOOKUP_DURATION, took.as_secs_f64()).label("name", name));
        let outcome = match answer {
            DnsAnswer::NoRecords(why) => {
                report = report.sample(Sample::new(&DNS_ADDRESSES, 0.0).label("name", name));
                Outcome::fail(Cause::NotFound, format!("{name} does not resolve: {why}"))
            }
            DnsAnswer::Addresses(found) => {
                report = report.sample(Sample::new(&DNS_ADDRESSES, found.len() as f64).label("name", name));
                let listed = join_addresses(found);
                let missing: Vec<IpAddr> =
                    self.expect_addresses.iter().filter(|a| !found.contains(a)).copied().collect();
                let extra: Vec<IpAddr> = found.iter().filter(|a| !self.expect_addresses.contains(a)).copied().collect();
                if !missing.is_empty() {
                    Outcome::fail(
                        Cause::Mismatch,
                        format!("{name} resolves to {listed}; missing expected {}", join_addresses(&missing)),
                    )
                } else if self.exact && !extra.is_empty() {
                    Outcome::fail(
                        Cause::Mismatch,
                        format!("{name} resolves to {listed}; not expected: {}", join_addresses(&extra)),
                    )
                } else {
                    Outcome::pass(format!("{name} resolves to {listed}"))
                }
            }
        };
        report.with("resolves", outcome)
    }
}

fn join_addresses(addresses: &[IpAddr]) -> String {
    addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    fn port(expect: PortExpectation) -> TcpPortCheck {
        TcpPortCheck { address: "127.0.0.1:5432".into(), expect, connect_timeout: default_connect_timeout() }
    }

    #[test]
    fn open_port_passes_only_when_connected() {
        let check = port(PortExpectation::Open);
        let connected = check.decide(&ConnectResult::Connected(Duration::from_millis(2)));
        assert_eq!(connected.outcome("state").unwrap().verdict, Verdict::Pass);
        assert_eq!(connected.samples.len(), 1);
        let refused = check.decide(&ConnectResult::Refused);
        assert_eq!(
            refused.outcome("state").cloned().unwrap(),
            Outcome::fail(Cause::Refused, "127.0.0.1:5432 refused the connection: nothing listens there")
        );
        assert!(refused.samples.is_empty());
    }

    #[test]
    fn closed_port_passes_when_refused_or_filtered_and_fails_when_open() {
        let check = port(PortExpectation::Closed);
        assert_eq!(check.decide(&ConnectResult::Refused).outcome("state").unwrap().verdict, Verdict::Pass);
        let silent = check.decide(&ConnectResult::Silent(Duration::from_secs(3)));
        assert_eq!(silent.outcome("state").unwrap().reason, "127.0.0.1:5432 did not answer within 3s (filtered)");
        let open = check.decide(&ConnectResult::Connected(Duration::from_millis(1)));
        assert_eq!(open.outcome("state").unwrap().cause, Some(Cause::Open));
    }

    #[test]
    fn port_address_must_be_host_and_port() {
        for bad in ["5432", "localhost:", ":80", "host:99999", "host:0"] {
            let mut check = port(PortExpectation::Open);
            check.address = bad.into();
            assert_eq!(check.validate("state").unwrap_err().key, "address", "{bad}");
        }
        let mut check = port(PortExpectation::Open);
        check.address = "[::1]:8443".into();
        assert!(check.validate("state").is_ok());
    }

    fn dns(expect: &[&str], exact: bool) -> DnsCheck {
        DnsCheck {
            name: "app.example.test".into(),
            record_types: default_record_types(),
            expect_addresses: expect.iter().map(|a| a.parse().unwrap()).collect(),
            exact,
            nameserver: None,
        }
    }

    #[test]
    fn dns_passes_when_every_expected_address_is_present() {
        let found = DnsAnswer::Addresses(vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()]);
        let report = dns(&["192.0.2.1"], false).decide(&found, Duration::from_millis(3));
        assert_eq!(report.outcome("resolves").unwrap().verdict, Verdict::Pass);
        let exact = dns(&["192.0.2.1"], true).decide(&found, Duration::from_millis(3));
        assert_eq!(
            exact.outcome("resolves").unwrap().reason,
            "app.example.test resolves to 192.0.2.1, 2001:db8::1; not expected: 2001:db8::1"
        );
    }

    #[test]
    fn dns_missing_expected_address_is_a_mismatch() {
        let found = DnsAnswer::Addresses(vec!["192.0.2.9".parse().unwrap()]);
        let outcome = dns(&["192.0.2.1"], false).decide(&found, Duration::ZERO).outcome("resolves").cloned().unwrap();
        assert_eq!(outcome.cause, Some(Cause::Mismatch));
        assert_eq!(outcome.reason, "app.example.test resolves to 192.0.2.9; missing expected 192.0.2.1");
    }

    #[test]
    fn dns_without_records_fails_as_not_found() {
        let report = dns(&[], false).decide(&DnsAnswer::NoRecords("no A or AAAA records".into()), Duration::ZERO);
        let outcome = report.outcome("resolves").unwrap();
        assert_eq!(outcome.cause, Some(Cause::NotFound));
        assert_eq!(outcome.reason, "app.example.test does not resolve: no A or AAAA records");
    }

    #[test]
    fn the_resolver_configuration_is_read_again_only_when_its_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (resolv, hosts) = (dir.path().join("resolv.conf"), dir.path().join("hosts"));
        std::fs::write(&resolv, "nameserver 192.0.2.1\n").unwrap();
        std::fs::write(&hosts, "192.0.2.7 app.example.test\n").unwrap();
        let servers = |config: &SystemDnsConfig| -> Vec<IpAddr> {
            config.config.name_servers().iter().map(|server| server.ip).collect()
        };
        let first = dns_config_from(&resolv, &hosts).unwrap();
        assert_eq!(servers(&first), ["192.0.2.1".parse::<IpAddr>().unwrap()]);
        assert!(Arc::ptr_eq(&first, &dns_config_from(&resolv, &hosts).unwrap()), "unchanged: not read again");
        std::fs::write(&resolv, "nameserver 192.0.2.22\n").unwrap();
        let second = dns_config_from(&resolv, &hosts).unwrap();
        assert_eq!(servers(&second), ["192.0.2.22".parse::<IpAddr>().unwrap()]);
        std::fs::remove_file(&resolv).unwrap();
        let failure = dns_config_from(&resolv, &hosts).unwrap_err();
        assert!(failure.reason.starts_with("cannot read the system's resolver configuration"), "{failure:?}");
    }

    #[test]
    fn dns_names_are_validated() {
        for bad in ["", "exa mple.com", "a..b"] {
            let mut check = dns(&[], false);
            check.name = bad.into();
            assert_eq!(check.validate("resolves").unwrap_err().key, "name", "{bad:?}");
        }
        assert_eq!(dns(&[], true).validate("resolves").unwrap_err().key, "exact");
    }
}
