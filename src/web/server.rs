//! The HTTP side: `/metrics` (or `--web.telemetry-path`), `/-/healthy`, `/-/ready`,
//! `/-/reload`, `/api/v1/items` and a landing page, all below `--web.route-prefix`, on every
//! listener. Handlers only read the store (and ask the reloader for a reload); no request can
//! make the daemon connect anywhere, unlike blackbox_exporter's `/probe?target=`.
//!
//! The [`WebSettings`] of `--web.config.file` apply twice: TLS (and client certificates) at
//! each connection's handshake, with the settings current when the connection was accepted;
//! the rate limit, basic auth and configured headers on each request, with the settings current
//! then, so a reload that changes users takes effect on kept-alive connections too.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, ACCEPT, ACCEPT_ENCODING, ALLOW, AUTHORIZATION, CONNECTION, CONTENT_ENCODING, CONTENT_TYPE, LOCATION,
    RETRY_AFTER, VARY, WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::state::Store;
use crate::web::connections::{Admission, ConnectionLimit};
use crate::web::metrics::{Exposition, Format};
use crate::web::report::ReportFormat;
use crate::web::webconfig::WebSettings;

/// A reload request: the reloader answers with the outcome (`Err` carries the refusal message).
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// What handlers share.
#[derive(Debug)]
pub struct AppState {
    pub store: Arc<Store>,
    pub exposition: Exposition,
    pub reload: mpsc::Sender<ReloadRequest>,
    pub baseline_file: std::path::PathBuf,
    /// TLS, auth, headers and rate limit; the reloader replaces the inner `Arc`.
    pub web: SharedWebSettings,
    /// `--web.enable-lifecycle`: whether `/-/reload` and `POST /api/v1/baseline` may be used.
    pub lifecycle_enabled: bool,
    /// `--web.route-prefix` and `--web.telemetry-path`.
    pub routes: Routes,
    /// `--web.enable-attestation-api`: where `POST /api/v1/attestations` hands its requests.
    pub attest: Option<crate::web::attestations::AttestationSender>,
}

/// Where the endpoints are: every route below `prefix`, the exposition at `telemetry_path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routes {
    /// `""`, or a path starting with `/` and not ending with one: `/checklist`.
    prefix: String,
    /// Below the prefix, starting with `/`: `/metrics`.
    telemetry_path: String,
}

/// Where a request's path falls against the route prefix.
#[derive(Debug, PartialEq, Eq)]
enum Placement<'a> {
    /// Below the prefix; the path with the prefix taken off.
    Inside(&'a str),
    /// The prefix itself without its `/`: redirected to the page, so relative links resolve.
    PrefixRoot,
    Outside,
}

impl Routes {
    /// `prefix` as `--web.route-prefix` takes it (`/`, `/checklist`, `checklist/`); the
    /// telemetry path must start with `/` and may not be `/`, where the page is.
    pub fn new(prefix: &str, telemetry_path: &str) -> Result<Routes, String> {
        if !telemetry_path.starts_with('/') || telemetry_path == "/" {
            return Err(format!(
                "--web.telemetry-path {telemetry_path:?}: want a path starting with / other than / itself, such as /metrics"
            ));
        }
        let trimmed = prefix.trim_matches('/');
        if trimmed.contains(['?', '#']) {
            return Err(format!("--web.route-prefix {prefix:?}: want a path, without ? or #"));
        }
        let prefix = if trimmed.is_empty() { String::new() } else { format!("/{trimmed}") };
        Ok(Routes { prefix, telemetry_path: telemetry_path.to_string() })
    }

    /// The exposition's path below the prefix.
    pub fn telemetry_path(&self) -> &str {
        &self.telemetry_path
    }

    /// The page's link to the exposition, relative to the page.
    pub fn telemetry_link(&self) -> &str {
        self.telemetry_path.trim_start_matches('/')
    }

    fn place<'a>(&self, path: &'a str) -> Placement<'a> {
        if self.prefix.is_empty() {
            return Placement::Inside(path);
        }
        match path.strip_prefix(self.prefix.as_str()) {
            Some("") => Placement::PrefixRoot,
            Some(rest) if rest.starts_with('/') => Placement::Inside(rest),
            _ => Placement::Outside,
        }
    }
}

impl Default for Routes {
    fn default() -> Self {
        Routes { prefix: String::new(), telemetry_path: "/metrics".to_string() }
    }
}

pub type SharedWebSettings = Arc<RwLock<Arc<WebSettings>>>;

/// The settings in force now, for a new connection or a request.
fn current(web: &SharedWebSettings) -> Arc<WebSettings> {
    match web.read() {
        Ok(settings) => settings.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Slow clients may not hold a connection open without sending a request. The timer runs from
/// the moment a request head is awaited, so it also closes keep-alive connections left idle.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Nor without finishing the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head (request line and headers) served; a larger one is answered 431.
/// hyper's read buffer has the same size but lets somewhat larger heads through, so
/// [`head_too_large`] counts the head itself.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// No endpoint takes a body; a request announcing more than this is answered 413 unread.
pub const MAX_REQUEST_BODY_BYTES: u64 = 64 * 1024;
/// How long in-flight requests get to finish at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

type Body = Full<Bytes>;

/// Accepts on every listener into one queue; an accept error (out of file descriptors and the
/// like) backs off instead of spinning.
fn accept_all(
    listeners: Vec<TcpListener>,
) -> (mpsc::Receiver<(TcpStream, SocketAddr)>, Vec<tokio::task::JoinHandle<()>>) {
    let (accepted_tx, accepted_rx) = mpsc::channel(1);
    let acceptors = listeners
        .into_iter()
        .map(|listener| {
            let accepted_tx = accepted_tx.clone();
            tokio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok(pair) => {
                            if accepted_tx.send(pair).await.is_err() {
                                break;
                            }
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            })
        })
        .collect();
    (accepted_rx, acceptors)
}

/// Serves on every listener until `shutdown` resolves, then lets open requests finish within
/// [`SHUTDOWN_GRACE`].
pub async fn serve(listeners: Vec<TcpListener>, state: Arc<AppState>, shutdown: impl std::future::Future<Output = ()>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).max_buf_size(MAX_HEADER_BYTES);
    let limit = ConnectionLimit::for_this_process();
    let (mut accepted, acceptors) = accept_all(listeners);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            Some((stream, peer)) = accepted.recv() => {
                let (ticket, evicted) = match limit.admit() {
                    Admission::Admitted { ticket, closed } => (ticket, closed),
                    Admission::Refused => continue, // dropping the stream closes it
                };
                let state = state.clone();
                let tls = current(&state.web).tls.clone();
                let http = http.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let served = async move {
                        match tls {
                            None => serve_connection(stream, peer, state, &http, watcher, ticket).await,
                            Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(tls)) => serve_connection(tls, peer, state, &http, watcher, ticket).await,
                                Ok(Err(err)) => tracing::debug!(error = %err, %peer, "TLS handshake failed"),
                                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                            },
                        }
                    };
                    tokio::select! {
                        () = served => {}
                        // Closed to make room for a newer connection (see `connections`). The
                        // sender is dropped, not fired, once the client sent a request.
                        Ok(()) = evicted => {}
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    // Stop listening before the grace period: a closed port tells new scrapers at once.
    for acceptor in acceptors {
        acceptor.abort();
        let _ = acceptor.await;
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!(grace = ?SHUTDOWN_GRACE, "open connections did not finish in time; closing them");
    }
}

async fn serve_connection<IO>(
    io: IO,
    peer: SocketAddr,
    state: Arc<AppState>,
    http: &hyper::server::conn::http1::Builder,
    watcher: hyper_util::server::graceful::Watcher,
    ticket: Arc<crate::web::connections::Ticket>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        ticket.sent_request();
        let state = state.clone();
        async move { Ok::<_, Infallible>(guarded(&state, request, peer).await) }
    });
    if let Err(err) = watcher.watch(http.serve_connection(TokioIo::new(io), service)).await {
        tracing::debug!(error = %err, %peer, "connection ended with an error");
    }
}

/// The web config's rate limit and basic auth in front of [`route`], its headers on every answer.
async fn guarded(state: &AppState, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let web = current(&state.web);
    let mut response = if let Some(size) = head_too_large(&request) {
        let message = format!(
            "request head of {size} bytes refused: this server takes heads (request line and headers) of at most {MAX_HEADER_BYTES} bytes\n"
        );
        let mut response = text(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, message);
        response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        secure(&mut response);
        response
    } else if !web.admit() {
        let mut response = text(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n");
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
        secure(&mut response);
        response
    } else {
        let authorized = match &web.auth {
            None => true,
            Some(auth) => auth.authorize(request.headers().get(AUTHORIZATION)).await,
        };
        if authorized {
            route(state, request, peer).await
        } else {
            tracing::debug!(%peer, path = request.uri().path(), "basic auth refused");
            let mut response = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(WWW_AUTHENTICATE_VALUE));
            secure(&mut response);
            response
        }
    };
    // Configured headers win over the built-in ones: the operator asked for them.
    for (name, value) in &web.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

const WWW_AUTHENTICATE_VALUE: &str = "Basic realm=\"checklist-exporter\", charset=\"UTF-8\"";

/// The answer to a lifecycle endpoint while `--web.enable-lifecycle` is off.
const LIFECYCLE_DISABLED: &str =
    "lifecycle endpoints are disabled; start the daemon with --web.enable-lifecycle to use them (SIGHUP still reloads the config)\n";

async fn route(state: &AppState, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    if let Some(mut refusal) = refuse_large_body(&request) {
        secure(&mut refusal);
        return refusal;
    }
    let method = request.method();
    let path = match state.routes.place(request.uri().path()) {
        Placement::Inside(path) => path,
        Placement::PrefixRoot => {
            let query = request.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
            let mut response = redirect(&format!("{}/{query}", state.routes.prefix));
            secure(&mut response);
            return response;
        }
        Placement::Outside => {
            let message = format!("Not found: every endpoint is below {}/.\n", state.routes.prefix);
            let mut response = text(StatusCode::NOT_FOUND, message);
            secure(&mut response);
            return response;
        }
    };
    let mut response = match path {
        path if path == state.routes.telemetry_path => only_get(method).unwrap_or_else(|| exposition(state, &request)),
        "/-/healthy" => only_get(method).unwrap_or_else(|| text(StatusCode::OK, "Healthy\n")),
        "/-/ready" => only_get(method).unwrap_or_else(|| {
            let pending = state.store.pending();
            if pending == 0 {
                text(StatusCode::OK, "Ready\n")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, format!("Not ready: {pending} items not evaluated yet\n"))
            }
        }),
        "/-/reload" => {
            if method != Method::POST && method != Method::PUT {
                not_allowed("POST, PUT")
            } else if !state.lifecycle_enabled {
                text(StatusCode::FORBIDDEN, LIFECYCLE_DISABLED)
            } else {
                reload(state).await
            }
        }
        "/api/v1/items" => only_get(method).unwrap_or_else(|| {
            let encoded = {
                let mut inner = state.store.snapshot();
                let asked = query_param(request.uri().query(), "environment");
                if let Err(reason) = crate::web::page::select_environment(&mut inner, asked, false) {
                    return text(StatusCode::NOT_FOUND, format!("{reason}\n"));
                }
                serde_json::to_vec_pretty(&crate::web::api::items_document(&inner))
            };
            match encoded {
                Ok(json) => {
                    // The snapshot is dropped: give the holes it leaves back.
                    crate::support::memory::release_after_large_output(json.len());
                    with_type(StatusCode::OK, "application/json", json)
                }
                Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode items: {err}\n")),
            }
        }),
        "/" => only_get(method).unwrap_or_else(|| {
            let query = request.uri().query();
            checklist_page(state, crate::web::page::Filters::from_query(query), query_param(query, "environment"))
        }),
        "/static/page.css" => {
            only_get(method).unwrap_or_else(|| static_asset("text/css; charset=utf-8", crate::web::page::STYLESHEET))
        }
        "/static/page.js" => {
            only_get(method).unwrap_or_else(|| static_asset("text/javascript; charset=utf-8", crate::web::page::SCRIPT))
        }
        "/api/v1/baseline" => {
            if method != Method::POST {
                not_allowed("POST")
            } else if !state.lifecycle_enabled {
                text(StatusCode::FORBIDDEN, LIFECYCLE_DISABLED)
            } else {
                let force = query_param(request.uri().query(), "force") == Some("true");
                take_baseline(state, force).await
            }
        }
        "/api/v1/attestations" if method != Method::POST => not_allowed("POST"),
        "/api/v1/attestations" => {
            let auth = current(&state.web).auth.is_some();
            let body = request.into_body();
            let (status, json) = crate::web::attestations::handle(state.attest.as_ref(), auth, peer, body).await;
            with_type(status, "application/json", json)
        }
        "/api/v1/report" => only_get(method).unwrap_or_else(|| {
            let name = query_param(request.uri().query(), "format").unwrap_or("markdown");
            match ReportFormat::parse(name) {
                Some(format) => {
                    let mut inner = state.store.snapshot();
                    let asked = query_param(request.uri().query(), "environment");
                    if let Err(reason) = crate::web::page::select_environment(&mut inner, asked, false) {
                        return text(StatusCode::NOT_FOUND, format!("{reason}\n"));
                    }
                    let mut response = with_type(
                        StatusCode::OK,
                        format.content_type(),
                        crate::web::report::render(&inner, format, SystemTime::now()),
                    );
                    if format == ReportFormat::Html {
                        // Its own inline style and nothing else: no script, no fetch, no frame.
                        response.headers_mut().insert("content-security-policy", HeaderValue::from_static(REPORT_CSP));
                    }
                    response
                }
                None => {
                    text(StatusCode::BAD_REQUEST, "unknown report format; use format=junit, markdown, html or json\n")
                }
            }
        }),
        _ => {
            let (prefix, metrics) = (&state.routes.prefix, &state.routes.telemetry_path);
            let message = format!(
                "Not found. Try {prefix}/, {prefix}{metrics}, {prefix}/api/v1/items, {prefix}/-/healthy or {prefix}/-/ready.\n"
            );
            text(StatusCode::NOT_FOUND, message)
        }
    };
    secure(&mut response);
    response
}

/// The size of the request head as sent (`METHOD target HTTP/1.1`, `name: value` lines, each
/// with CRLF, and the empty line), when it is over [`MAX_HEADER_BYTES`].
fn head_too_large(request: &Request<Incoming>) -> Option<usize> {
    let target = request.uri().path_and_query().map_or(1, |p| p.as_str().len());
    let request_line = request.method().as_str().len() + 1 + target + " HTTP/1.1\r\n".len();
    let headers: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + 2 + value.len() + 2).sum();
    let size = request_line + headers + 2;
    (size > MAX_HEADER_BYTES).then_some(size)
}

/// Whether the client takes gzip: `Accept-Encoding` names `gzip` with a non-zero weight.
fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.unwrap_or_default().split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let weight = parts.find_map(|p| p.strip_prefix("q=")).map_or(Some(1.0), |q| q.parse::<f64>().ok());
        (name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip")) && weight.is_some_and(|q| q > 0.0)
    })
}

/// The exposition, negotiated: OpenMetrics when asked for, gzip when the scraper takes it.
fn exposition(state: &AppState, request: &Request<Incoming>) -> Response<Body> {
    let header = |name| request.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let format = Format::negotiate(header(ACCEPT));
    let gzip = accepts_gzip(header(ACCEPT_ENCODING));
    let body = if gzip { state.exposition.render_gzip(format) } else { state.exposition.render(format) };
    let mut response = with_type(StatusCode::OK, format.content_type(), body);
    let headers = response.headers_mut();
    // Caches between scraper and exporter must not hand one format or encoding to another asker.
    headers.insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// Answers 413 to a request announcing a body over [`MAX_REQUEST_BODY_BYTES`], without reading
/// it; hyper then closes the connection rather than read the unread body.
fn refuse_large_body(request: &Request<Incoming>) -> Option<Response<Body>> {
    let announced = hyper::body::Body::size_hint(request.body()).lower();
    (announced > MAX_REQUEST_BODY_BYTES).then(|| {
        let message = format!(
            "request body of {announced} bytes refused: this server takes at most {MAX_REQUEST_BODY_BYTES} bytes\n"
        );
        let mut response = text(StatusCode::PAYLOAD_TOO_LARGE, message);
        response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        response
    })
}

async fn reload(state: &AppState) -> Response<Body> {
    let (answer_tx, answer_rx) = oneshot::channel();
    if state.reload.send(answer_tx).await.is_err() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    }
    match answer_rx.await {
        Ok(Ok(())) => text(StatusCode::OK, "config reloaded\n"),
        Ok(Err(message)) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {message}\n")),
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
    }
}

/// The HTML sign-off sheet's policy: its inline stylesheet, nothing else.
const REPORT_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The content security policy of the page: its own script, style and API, nothing else.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Records the current verdicts as the go-live baseline. Refused while items are unevaluated,
/// and when the file on disk exists but cannot be read (unless `force=true`).
async fn take_baseline(state: &AppState, force: bool) -> Response<Body> {
    let path = state.baseline_file.clone();
    let checked = path.clone();
    let existing = tokio::task::spawn_blocking(move || crate::persist::baseline::load(&checked)).await;
    if let Ok(Err(err)) = existing {
        if !force {
            return text(StatusCode::CONFLICT, format!("{err}\nadd ?force=true to replace it\n"));
        }
    }
    let (baseline, applicable) = {
        let store = state.store.read();
        match store.take_baseline(SystemTime::now()) {
            Ok(baseline) => (baseline, store.applicable()),
            Err(reason) => return text(StatusCode::CONFLICT, format!("{reason}\n")),
        }
    };
    let to_save = baseline.clone();
    let saved = tokio::task::spawn_blocking(move || crate::persist::baseline::save(&path, &to_save)).await;
    match saved {
        Ok(Ok(())) => {
            let message =
                format!("baseline recorded: {} of {applicable} applicable items pass\n", baseline.passing_count());
            tracing::info!(passing = baseline.passing_count(), items = baseline.items.len(), "baseline recorded");
            state.store.set_baseline(Some(baseline), true);
            text(StatusCode::OK, message)
        }
        Ok(Err(err)) => {
            // The operator who asked sees the answer; whoever reads the logs later sees this.
            tracing::error!(error = %err, "recording the baseline failed; the previous baseline file is unchanged");
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n"))
        }
        Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("writing the baseline failed: {err}\n")),
    }
}

fn checklist_page(state: &AppState, filters: crate::web::page::Filters, environment: Option<&str>) -> Response<Body> {
    let mut inner = state.store.snapshot();
    let (environments, environment) = match crate::web::page::select_environment(&mut inner, environment, true) {
        Ok(selected) => selected,
        Err(reason) => return text(StatusCode::NOT_FOUND, format!("{reason}\n")),
    };
    let mut page = crate::web::page::build(&inner, filters, SystemTime::now());
    page.metrics_link = state.routes.telemetry_link();
    (page.environments, page.environment) = (environments, environment);
    let rendered = askama::Template::render(&page);
    drop(page);
    drop(inner);
    let mut response = match rendered {
        Ok(html) => with_type(StatusCode::OK, "text/html; charset=utf-8", html),
        Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot render the page: {err}\n")),
    };
    response.headers_mut().insert("content-security-policy", HeaderValue::from_static(PAGE_CSP));
    response
}

fn redirect(location: &str) -> Response<Body> {
    let mut response = text(StatusCode::FOUND, "Found\n");
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

fn static_asset(content_type: &'static str, body: &'static str) -> Response<Body> {
    let mut response = with_type(StatusCode::OK, content_type, body);
    response.headers_mut().insert("cache-control", HeaderValue::from_static("max-age=300"));
    response
}

/// The value of `name` in a query string (`filter=attention&x=1`); values are plain words here,
/// so no percent-decoding is needed.
fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').filter_map(|pair| pair.split_once('=')).find(|(key, _)| *key == name).map(|(_, value)| value)
}

/// The headers the exporter checks other services for, on its own responses too.
fn secure(response: &mut Response<Body>) {
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
}

fn only_get(method: &Method) -> Option<Response<Body>> {
    (method != Method::GET && method != Method::HEAD).then(|| not_allowed("GET, HEAD"))
}

fn not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    response
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    with_type(status, "text/plain; charset=utf-8", body)
}

fn with_type(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_sit_below_the_prefix_and_the_prefix_alone_redirects() {
        let routes = Routes::new("checklist/", "/metrics").unwrap();
        assert_eq!(routes.place("/checklist/metrics"), Placement::Inside("/metrics"));
        assert_eq!(routes.place("/checklist/"), Placement::Inside("/"));
        assert_eq!(routes.place("/checklist"), Placement::PrefixRoot);
        assert_eq!(routes.place("/checklists/"), Placement::Outside);
        assert_eq!(routes.place("/metrics"), Placement::Outside);
        let root = Routes::new("/", "/metrics").unwrap();
        assert_eq!(root.place("/metrics"), Placement::Inside("/metrics"));
        assert_eq!(root, Routes::default());
    }

    #[test]
    fn a_telemetry_path_must_be_a_path_other_than_the_page() {
        assert!(Routes::new("", "metrics").unwrap_err().contains("--web.telemetry-path \"metrics\""));
        assert!(Routes::new("", "/").is_err());
        assert_eq!(Routes::new("", "/probe/metrics").unwrap().telemetry_link(), "probe/metrics");
    }

    #[test]
    fn gzip_is_taken_unless_refused_with_a_zero_weight() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, GZIP;q=0.5")));
        assert!(accepts_gzip(Some("identity;q=1, x-gzip")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("br, deflate")));
        assert!(!accepts_gzip(None));
    }
}
