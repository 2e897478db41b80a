//! The long-running mode: load the config, start the checks, serve HTTP, reload on SIGHUP or
//! `POST /-/reload`, stop cleanly on SIGTERM or Ctrl-C. A reload reads the checklist config and
//! the web config together and applies them only when both are valid.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::config::{self, ConfigError, Shard};
use crate::scheduler::Scheduler;
use crate::state::{SavedVerdict, Store};
use crate::web::attestations::{AttestationCall, AttestationSender, Refusal};
use crate::web::metrics::{Exposition, WebInfo};
use crate::web::server::{self, AppState, ReloadRequest, Routes, SharedWebSettings};
use crate::web::webconfig::{self, WebConfigError, WebSettings};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    #[error("--web.listen-address {address}: {reason}")]
    Listen { address: String, reason: String },
    #[error("cannot install a signal handler: {0}")]
    Signal(std::io::Error),
    #[error("--web.systemd-socket: {0}")]
    SystemdSocket(String),
    /// A bad `--web.external-url`, `--web.route-prefix` or `--web.telemetry-path`.
    #[error("{0}")]
    WebFlag(String),
}

#[derive(Clone, Debug)]
pub struct DaemonOptions {
    pub config_file: PathBuf,
    /// `--web.listen-address`, each given; ignored with `systemd_socket`.
    pub listen_addresses: Vec<String>,
    /// `--web.systemd-socket`: serve on the sockets systemd passed.
    pub systemd_socket: bool,
    /// `--web.telemetry-path`.
    pub telemetry_path: String,
    /// `--web.external-url`.
    pub external_url: Option<String>,
    /// `--web.route-prefix`; `None` takes the external URL's path.
    pub route_prefix: Option<String>,
    pub baseline_file: PathBuf,
    /// `--state.file`: the last verdicts, kept across restarts.
    pub state_file: PathBuf,
    /// `--web.config.file`; `None` serves plain HTTP without auth.
    pub web_config_file: Option<PathBuf>,
    /// `--web.enable-lifecycle`.
    pub lifecycle_enabled: bool,
    /// `--shard.index`/`--shard.count`: the part of the items this replica evaluates.
    pub shard: Shard,
    /// `--web.enable-attestation-api`.
    pub attestation_api_enabled: bool,
}

pub async fn run(options: DaemonOptions) -> Result<(), DaemonError> {
    let config = config::load(&options.config_file)?.restricted_to(options.shard);
    let web = load_web_config(options.web_config_file.as_deref())?;
    let external_url = options.external_url.as_deref().map(parse_external_url).transpose()?;
    let prefix = match (&options.route_prefix, &external_url) {
        (Some(prefix), _) => prefix.as_str(),
        (None, Some(url)) => url.path.as_str(),
        (None, None) => "/",
    };
    let routes = Routes::new(prefix, &options.telemetry_path).map_err(DaemonError::WebFlag)?;
    crate::support::memory::release_freed_memory();
    let store = Store::new();
    match crate::persist::baseline::load(&options.baseline_file) {
        Ok(baseline) => store.set_baseline(baseline, true),
        Err(err) => {
            // Reported, never replaced: the file may be the only record of the go-live state.
            tracing::error!(error = %err, "the baseline cannot be used; regressions are not reported until it is fixed");
            store.set_baseline(None, false);
        }
    }
    store.install(&config);
    let restored = restore_verdicts(&store, &options.state_file);
    let (stop_saver, saver_stopped) = tokio::sync::oneshot::channel::<()>();
    let saver = tokio::spawn(save_verdicts_on_change(store.clone(), options.state_file.clone(), saver_stopped));
    let scheduler = Arc::new(Scheduler::new(store.clone()));
    scheduler.apply(&config);

    let listeners = if options.systemd_socket {
        systemd_listeners()?
    } else {
        let mut listeners = Vec::with_capacity(options.listen_addresses.len());
        for address in &options.listen_addresses {
            listeners.push(bind(address).await?);
        }
        listeners
    };
    let addresses: Vec<SocketAddr> = listeners.iter().filter_map(|l| l.local_addr().ok()).collect();
    let address = addresses.first().map(|a| a.to_string()).unwrap_or_default();
    let external_url = match external_url {
        Some(url) => url.url,
        None => default_external_url(addresses.first(), web.tls.is_some()),
    };
    tracing::info!(
        address = %address,
        addresses = %addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(","),
        external_url = %external_url,
        config = %options.config_file.display(),
        checks = config.deciders.len(),
        items = config.item_count(),
        version = crate::web::metrics::VERSION,
        web = %web.config.summary(),
        lifecycle = options.lifecycle_enabled,
        restored,
        shard = %options.shard,
        "listening"
    );
    // The store and the scheduler share what they need of it; the rest of the decoded file goes.
    drop(config);
    tokio::spawn(release_after_first_round(store.clone()));
    let web: SharedWebSettings = Arc::new(RwLock::new(Arc::new(web)));

    let (reload_tx, reload_rx) = mpsc::channel::<ReloadRequest>(8);
    let mut hangups = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;
    let from_signal = reload_tx.clone();
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let (answer_tx, _answer_rx) = tokio::sync::oneshot::channel();
            tracing::info!("SIGHUP received, reloading config");
            if from_signal.send(answer_tx).await.is_err() {
                break;
            }
        }
    });
    let reloader = tokio::spawn(reload_loop(
        reload_rx,
        ReloadTargets {
            config_file: options.config_file.clone(),
            web_config_file: options.web_config_file.clone(),
            web: web.clone(),
            shard: options.shard,
        },
        scheduler.clone(),
        store.clone(),
    ));

    let mut terminate = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received, shutting down"),
        }
    };
    let saver_store = store.clone();
    let attest = options
        .attestation_api_enabled
        .then(|| start_attestation_recorder(options.config_file.clone(), scheduler.clone()));
    let state = Arc::new(AppState {
        store: store.clone(),
        exposition: Exposition::with(store, Some(WebInfo { external_url }), options.shard),
        reload: reload_tx,
        baseline_file: options.baseline_file.clone(),
        web,
        lifecycle_enabled: options.lifecycle_enabled,
        routes,
        attest,
    });
    server::serve(listeners, state, shutdown).await;
    scheduler.stop();
    reloader.abort();
    // The saver finishes a save in flight, then writes the last verdicts once more: an abort
    // would leave a save running that could land after the final one with older verdicts.
    let _ = stop_saver.send(());
    let _ = saver.await;
    let state_file = options.state_file.clone();
    let _ = tokio::task::spawn_blocking(move || save_verdicts(&saver_store, &state_file)).await;
    tracing::info!("stopped");
    Ok(())
}

/// Puts the verdicts of the last run back, so that a restart neither blanks the exposition
/// (which would resolve firing alerts) nor pages again. A file that cannot be used is logged
/// and the daemon starts empty; the baseline is a separate file and is never touched here.
/// Returns how many items were restored (logged with "listening").
fn restore_verdicts(store: &Store, path: &std::path::Path) -> usize {
    match crate::persist::verdicts::load::<SavedVerdict>(path) {
        Ok(Some(saved)) => store.restore(saved),
        Ok(None) => 0,
        Err(err) => {
            tracing::error!(error = %err, "starting without the last verdicts; every item is pending until evaluated");
            0
        }
    }
}

fn save_verdicts(store: &Store, path: &std::path::Path) {
    let verdicts = store.saved_verdicts();
    let saved = crate::persist::verdicts::save(path, &verdicts, std::time::SystemTime::now());
    drop(verdicts);
    match saved {
        // The copies of thousands of verdicts and their encoding were freed among the store's
        // records: at 10,000 items, 7.8 MB stayed resident after each save until some other
        // trim (docs/benchmarks.md, "Scale", round 6).
        Ok(bytes) => crate::support::memory::release_after_large_output(bytes),
        Err(err) => {
            tracing::error!(error = %err, "the last verdicts are not kept; a restart will start with every item pending")
        }
    }
}

/// How often the saver looks for new verdicts. A crash loses at most this much; a normal stop
/// saves at exit.
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Saves the verdicts whenever the store changed since the last save, at most every
/// [`SAVE_EVERY`], until `stop` fires (between saves, never during one).
async fn save_verdicts_on_change(store: Arc<Store>, path: PathBuf, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let mut saved_generation = store.generation();
    let mut ticks = tokio::time::interval(SAVE_EVERY);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut stop => return,
        }
        let generation = store.generation();
        if generation == saved_generation {
            continue;
        }
        saved_generation = generation;
        let (store, path) = (store.clone(), path.clone());
        // Serialising and fsync block: off the runtime threads.
        let _ = tokio::task::spawn_blocking(move || save_verdicts(&store, &path)).await;
    }
}

/// Records the attestations `POST /api/v1/attestations` hands over, one at a time (the file's
/// lock orders them with `attest` commands too), and runs the attested item's check at once.
fn start_attestation_recorder(config_file: PathBuf, scheduler: Arc<Scheduler>) -> AttestationSender {
    let (sender, mut calls) = mpsc::channel::<AttestationCall>(8);
    tokio::spawn(async move {
        while let Some(AttestationCall { request, answer }) = calls.recv().await {
            let config_file = config_file.clone();
            let recorded =
                tokio::task::spawn_blocking(move || crate::cli::attest::record_for_api(&config_file, request))
                    .await
                    .unwrap_or_else(|err| {
                        Err(Refusal::new(
                            hyper::StatusCode::INTERNAL_SERVER_ERROR,
                            None,
                            format!("recording failed: {err}"),
                        ))
                    });
            match &recorded {
                Ok(done) => {
                    tracing::info!(item = %done.item, environments = ?done.environments, by = %done.by, evidence = ?done.evidence_url, "attestation recorded through the API");
                    scheduler.run_item_now(&done.item);
                }
                Err(refusal) => tracing::warn!(error = %refusal.error, "attestation refused"),
            }
            let _ = answer.send(recorded);
        }
    });
    sender
}

/// What a reload reads, and where the new web settings go.
struct ReloadTargets {
    config_file: PathBuf,
    web_config_file: Option<PathBuf>,
    web: SharedWebSettings,
    shard: Shard,
}

/// Reads the web config file, if any, and logs what it warns about.
fn load_web_config(path: Option<&std::path::Path>) -> Result<WebSettings, WebConfigError> {
    let Some(path) = path else { return Ok(WebSettings::plain()) };
    let settings = webconfig::load(path)?;
    for warning in &settings.config.warnings {
        tracing::warn!(file = %path.display(), "{warning}");
    }
    Ok(settings)
}

/// Applies reloads one at a time. A refused config (checklist or web) leaves the running ones
/// in place.
async fn reload_loop(
    mut requests: mpsc::Receiver<ReloadRequest>,
    targets: ReloadTargets,
    scheduler: Arc<Scheduler>,
    store: Arc<Store>,
) {
    while let Some(answer) = requests.recv().await {
        let web_file = targets.web_config_file.clone();
        let shard = targets.shard;
        // Reading certificates and preparing bcrypt take a moment: off the runtime threads.
        let loaded = tokio::task::spawn_blocking({
            let config_file = targets.config_file.clone();
            move || -> Result<_, String> {
                let config = config::load(&config_file).map_err(|e| e.to_string())?.restricted_to(shard);
                let web = load_web_config(web_file.as_deref()).map_err(|e| e.to_string())?;
                Ok((config, web))
            }
        })
        .await
        .unwrap_or_else(|err| Err(format!("the reload task failed: {err}")));
        let result = match loaded {
            Ok((config, web)) => {
                crate::support::memory::release_freed_memory();
                scheduler.apply(&config);
                let summary = web.config.summary();
                match targets.web.write() {
                    Ok(mut current) => *current = Arc::new(web),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(web),
                }
                store.set_reload_succeeded();
                // After the new config is in use, so that its code stays mapped; reading smaps
                // and dropping pages is blocking work.
                tokio::task::spawn_blocking(crate::support::memory::release_code_pages);
                tracing::info!(checks = config.deciders.len(), items = config.item_count(), web = %summary, "config reloaded");
                Ok(())
            }
            Err(err) => {
                store.set_reload_refused(err.to_string());
                tracing::error!(error = %err, "config reload refused; the previous config keeps running");
                Err(err)
            }
        };
        let _ = answer.send(result);
    }
}

/// Binds `address`; `:PORT` means every interface, IPv6 and IPv4 where the host has both.
async fn bind(address: &str) -> Result<TcpListener, DaemonError> {
    let listen_error = |reason: String| DaemonError::Listen { address: address.to_string(), reason };
    let candidates: Vec<String> = match address.strip_prefix(':') {
        Some(port) => vec![format!("[::]:{port}"), format!("0.0.0.0:{port}")],
        None => vec![address.to_string()],
    };
    let mut last_error = String::from("no address to listen on");
    for candidate in candidates {
        let parsed: Result<SocketAddr, _> = candidate.parse();
        let result = match parsed {
            Ok(socket) => TcpListener::bind(socket).await,
            Err(_) => TcpListener::bind(candidate.as_str()).await,
        };
        match result {
            Ok(listener) => return Ok(listener),
            Err(err) => last_error = err.to_string(),
        }
    }
    Err(listen_error(last_error))
}

/// `--web.external-url`, checked: the URL with a trailing `/`, and its path.
#[derive(Debug, PartialEq, Eq)]
struct ExternalUrl {
    url: String,
    path: String,
}

fn parse_external_url(url: &str) -> Result<ExternalUrl, DaemonError> {
    // Checked before anything quotes the URL: a password in it must not reach the error either.
    let authority = url.split("://").nth(1).unwrap_or(url).split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(DaemonError::WebFlag(
            "--web.external-url: want a URL without a user name or password; it is exported in checklist_web_info and logged".to_string(),
        ));
    }
    let refuse = |why: &str| DaemonError::WebFlag(format!("--web.external-url {url:?}: {why}"));
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| refuse("want an absolute http:// or https:// URL"))?;
    if url.contains(['?', '#']) || url.chars().any(char::is_whitespace) {
        return Err(refuse("want a URL without query, fragment or spaces"));
    }
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if host.is_empty() {
        return Err(refuse("want a host after the scheme"));
    }
    let path = format!("/{}", path.trim_matches('/'));
    let url = format!(
        "{}{}",
        &url[..url.len() - rest.len() + host.len()],
        if path == "/" { "/".to_string() } else { format!("{path}/") }
    );
    Ok(ExternalUrl { url, path })
}

/// `http://<first listen address>/` as Prometheus builds it: an address on every interface
/// is named by this host's name.
fn default_external_url(first: Option<&SocketAddr>, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    let Some(address) = first else { return format!("{scheme}://localhost/") };
    if address.ip().is_unspecified() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string());
        let host = host.ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".to_string());
        format!("{scheme}://{host}:{}/", address.port())
    } else {
        format!("{scheme}://{address}/")
    }
}

/// The listening sockets systemd passed (sd_listen_fds(3)): descriptors 3 to 3 + LISTEN_FDS - 1,
/// when LISTEN_PID names this process. The variables are removed so that the commands checks
/// run do not take the sockets for theirs.
fn systemd_listeners() -> Result<Vec<TcpListener>, DaemonError> {
    const FIRST_FD: i32 = 3;
    let refuse = |why: String| DaemonError::SystemdSocket(why);
    let pid = std::env::var("LISTEN_PID")
        .map_err(|_| refuse("LISTEN_PID is not set: was the daemon started by a systemd socket unit?".into()))?;
    if pid.trim() != std::process::id().to_string() {
        return Err(refuse(format!("LISTEN_PID is {pid}, not this process ({})", std::process::id())));
    }
    let count: i32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| refuse("LISTEN_FDS does not give a number of sockets above 0".into()))?;
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    let mut listeners = Vec::new();
    for fd in FIRST_FD..FIRST_FD + count {
        // Checked before taking ownership: a descriptor that is not ours to close (the runtime's
        // own, when systemd passed fewer than promised) must stay open.
        if !is_listening_socket(fd) {
            return Err(refuse(format!("descriptor {fd} is not a listening socket")));
        }
        // SAFETY: systemd hands descriptors 3.. to this process, which owns them from here on;
        // nothing else in the process uses them. FD_CLOEXEC keeps them from child processes.
        let listener = unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            <std::net::TcpListener as std::os::fd::FromRawFd>::from_raw_fd(fd)
        };
        let listening = listener.local_addr().and_then(|_| listener.set_nonblocking(true));
        let listener = listening.and_then(|()| TcpListener::from_std(listener));
        listeners
            .push(listener.map_err(|err| refuse(format!("descriptor {fd} is not a TCP listening socket: {err}")))?);
    }
    Ok(listeners)
}

/// Whether `fd` is a socket in the listening state (SO_ACCEPTCONN).
fn is_listening_socket(fd: i32) -> bool {
    let mut accepting: libc::c_int = 0;
    let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `size` bytes into `accepting`; a bad descriptor is an error.
    let result =
        unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN, (&raw mut accepting).cast(), &mut size) };
    result == 0 && accepting == 1
}

/// Hands the memory freed during the first round of evaluations back once every item has been
/// evaluated: thousands of probes' buffers and connections are freed between the verdicts that
/// stay, and glibc would keep the holes. Checked once a second; gives up after a day (an item
/// that never finishes its first evaluation).
async fn release_after_first_round(store: Arc<Store>) {
    for _ in 0..24 * 60 * 60 {
        if store.pending() == 0 {
            let _ = tokio::task::spawn_blocking(|| {
                crate::support::memory::release_freed_memory();
                crate::support::memory::release_code_pages();
            })
            .await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_external_url_gives_the_route_prefix_and_ends_in_a_slash() {
        let url = parse_external_url("https://ops.example.com/checklist").unwrap();
        assert_eq!(url, ExternalUrl { url: "https://ops.example.com/checklist/".into(), path: "/checklist".into() });
        let root = parse_external_url("http://host:9847").unwrap();
        assert_eq!(root, ExternalUrl { url: "http://host:9847/".into(), path: "/".into() });
        let error = parse_external_url("host:9847/x").unwrap_err().to_string();
        assert_eq!(error, "--web.external-url \"host:9847/x\": want an absolute http:// or https:// URL");
        assert!(parse_external_url("https:///x").is_err());
        let error = parse_external_url("https://admin:hunter2@ops.example.com/").unwrap_err().to_string();
        assert!(error.contains("user name or password") && !error.contains("hunter2"), "{error}");
    }

    #[test]
    fn the_default_external_url_names_the_first_address_or_this_host() {
        let loopback: SocketAddr = "127.0.0.1:9847".parse().unwrap();
        assert_eq!(default_external_url(Some(&loopback), false), "http://127.0.0.1:9847/");
        let v6: SocketAddr = "[::1]:9847".parse().unwrap();
        assert_eq!(default_external_url(Some(&v6), true), "https://[::1]:9847/");
        let any: SocketAddr = "0.0.0.0:9847".parse().unwrap();
        let url = default_external_url(Some(&any), false);
        assert!(url.starts_with("http://") && url.ends_with(":9847/") && !url.contains("0.0.0.0"), "{url}");
    }
}
