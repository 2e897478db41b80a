//! The long-running mode: load the config, start the checks, serve HTTP, reload on SIGHUP or
//! `POST /-/reload`, stop cleanly on SIGTERM or Ctrl-C. A reload reads the checklist config and
//! the web config together and applies them only when both are valid.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::config::{self, ConfigError};
use crate::scheduler::Scheduler;
use crate::state::Store;
use crate::web::attestations::{AttestationCall, AttestationSender, Refusal};
use crate::web::metrics::Exposition;
use crate::web::server::{self, AppState, ReloadRequest, SharedWebSettings};
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
}

#[derive(Clone, Debug)]
pub struct DaemonOptions {
    pub config_file: PathBuf,
    pub listen_address: String,
    pub baseline_file: PathBuf,
    /// `--web.config.file`; `None` serves plain HTTP without auth.
    pub web_config_file: Option<PathBuf>,
    /// `--web.enable-lifecycle`.
    pub lifecycle_enabled: bool,
    /// `--web.enable-attestation-api`.
    pub attestation_api_enabled: bool,
}

pub async fn run(options: DaemonOptions) -> Result<(), DaemonError> {
    let config = config::load(&options.config_file)?;
    let web = load_web_config(options.web_config_file.as_deref())?;
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
    let scheduler = Arc::new(Scheduler::new(store.clone()));
    scheduler.apply(&config);

    let listener = bind(&options.listen_address).await?;
    let address = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(
        address = %address,
        config = %options.config_file.display(),
        checks = config.deciders.len(),
        items = config.item_count(),
        version = crate::web::metrics::VERSION,
        web = %web.config.summary(),
        lifecycle = options.lifecycle_enabled,
        "listening"
    );
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
    let attest = options
        .attestation_api_enabled
        .then(|| start_attestation_recorder(options.config_file.clone(), scheduler.clone()));
    let state = Arc::new(AppState {
        store: store.clone(),
        exposition: Exposition::new(store),
        reload: reload_tx,
        baseline_file: options.baseline_file.clone(),
        web,
        lifecycle_enabled: options.lifecycle_enabled,
        attest,
    });
    server::serve(listener, state, shutdown).await;
    scheduler.stop();
    reloader.abort();
    tracing::info!("stopped");
    Ok(())
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
                    tracing::info!(item = %done.item, by = %done.by, evidence = ?done.evidence_url, "attestation recorded through the API");
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
        // Reading certificates and preparing bcrypt take a moment: off the runtime threads.
        let loaded = tokio::task::spawn_blocking({
            let config_file = targets.config_file.clone();
            move || -> Result<_, String> {
                let config = config::load(&config_file).map_err(|e| e.to_string())?;
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
                store.set_reload_result(true);
                tracing::info!(checks = config.deciders.len(), items = config.item_count(), web = %summary, "config reloaded");
                Ok(())
            }
            Err(err) => {
                store.set_reload_result(false);
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
