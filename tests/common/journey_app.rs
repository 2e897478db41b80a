//! A small web app that behaves like the reference app's endpoints, for `http_journey` tests:
//! register (JSON) and log in (form) for a bearer token and a session cookie, upload audio
//! (multipart; audio types only, a size limit), a transcription job polled until done, stories
//! created, read and deleted, a rate-limited route that answers 429 with `Retry-After`, and an
//! OpenAI-like `/v1/models` that wants the key. It records what was deleted, so a test sees that
//! a journey's cleanup ran.
//!
//! Tokens and session ids it hands out start with [`TOKEN_CANARY`], so a test can assert that no
//! captured value reaches the exporter's output.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Response, StatusCode};

/// The prefix of every token and session id the app hands out.
pub const TOKEN_CANARY: &str = "tok-canary-5e1f";

/// How the app behaves; the defaults are a healthy app.
#[derive(Clone, Debug)]
pub struct Behaviour {
    /// Polls of a transcription job that answer `processing` before it is `done`; `u32::MAX`
    /// never finishes.
    pub polls_before_done: u32,
    /// Reading a story answers 500 (a step that fails midway).
    pub story_read_fails: bool,
    /// Requests to `/api/limited` answered before it answers 429.
    pub rate_limit: u32,
    /// The largest upload accepted.
    pub max_upload_bytes: usize,
    /// The key `/v1/models` wants as a bearer token.
    pub api_key: String,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            polls_before_done: 2,
            story_read_fails: false,
            rate_limit: 5,
            max_upload_bytes: 1 << 20,
            api_key: "sk-test-key".to_string(),
        }
    }
}

#[derive(Default)]
struct Data {
    users: HashMap<String, String>,
    tokens: HashMap<String, String>,
    jobs: HashMap<String, u32>,
    stories: HashMap<u64, String>,
    next_id: u64,
    limited_requests: u32,
    deleted: Vec<String>,
}

/// The running app on 127.0.0.1:0, stopped when dropped.
pub struct JourneyApp {
    pub address: SocketAddr,
    data: Arc<Mutex<Data>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl JourneyApp {
    pub fn start(behaviour: Behaviour) -> JourneyApp {
        let data = Arc::new(Mutex::new(Data::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = data.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let behaviour = Arc::new(behaviour);
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let (data, behaviour) = (shared.clone(), behaviour.clone());
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |request| {
                                    let (data, behaviour) = (data.clone(), behaviour.clone());
                                    async move { Ok::<_, std::convert::Infallible>(handle(request, &data, &behaviour).await) }
                                });
                                let io = hyper_util::rt::TokioIo::new(stream);
                                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                            });
                        }
                    }
                }
            });
        });
        JourneyApp { address, data, stop: Some(stop) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// What was deleted, in order (`story 3`).
    pub fn deleted(&self) -> Vec<String> {
        self.data.lock().unwrap().deleted.clone()
    }

    /// Whether user `email` is registered.
    pub fn has_user(&self, email: &str) -> bool {
        self.data.lock().unwrap().users.contains_key(email)
    }
}

impl Drop for JourneyApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, body: serde_json::Value) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-content-type-options", "nosniff")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn detail(status: StatusCode, text: &str) -> Answer {
    answer(status, serde_json::json!({ "detail": text }))
}

async fn handle(request: Request<hyper::body::Incoming>, data: &Mutex<Data>, behaviour: &Behaviour) -> Answer {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (authorization, content_type) = (header("authorization"), header("content-type"));
    let Ok(body) = request.into_body().collect().await.map(|collected| collected.to_bytes()) else {
        return detail(StatusCode::BAD_REQUEST, "unreadable body");
    };
    let bearer = authorization.strip_prefix("Bearer ").unwrap_or_default().to_string();
    let mut data = data.lock().unwrap();
    let signed_in = data.tokens.contains_key(&bearer);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&method, segments.as_slice()) {
        (&Method::POST, ["api", "auth", "register"]) => {
            let Ok(user) = serde_json::from_slice::<serde_json::Value>(&body) else {
                return detail(StatusCode::UNPROCESSABLE_ENTITY, "the body is not JSON");
            };
            let (Some(email), Some(password)) = (user["email"].as_str(), user["password"].as_str()) else {
                return detail(StatusCode::UNPROCESSABLE_ENTITY, "email and password are required");
            };
            if !email.contains('@') || password.len() < 8 {
                return detail(StatusCode::UNPROCESSABLE_ENTITY, "invalid email or short password");
            }
            if data.users.contains_key(email) {
                return detail(StatusCode::CONFLICT, "already registered");
            }
            data.users.insert(email.to_string(), password.to_string());
            answer(StatusCode::CREATED, serde_json::json!({ "email": email }))
        }
        (&Method::POST, ["api", "auth", "login"]) => {
            let form: HashMap<String, String> = form_pairs(&body);
            let (user, password) = (form.get("username").cloned().unwrap_or_default(), form.get("password"));
            if data.users.get(&user) != password || password.is_none() {
                return detail(StatusCode::UNAUTHORIZED, "wrong user or password");
            }
            data.next_id += 1;
            let token = format!("{TOKEN_CANARY}-{}-{:x}", data.next_id, rand_part());
            data.tokens.insert(token.clone(), user);
            let mut response =
                answer(StatusCode::OK, serde_json::json!({ "access_token": token, "token_type": "bearer" }));
            let cookie = format!("session={TOKEN_CANARY}-session-{:x}; Path=/; HttpOnly", rand_part());
            response.headers_mut().insert("set-cookie", cookie.parse().unwrap());
            response
        }
        (&Method::GET, ["api", "me"]) if signed_in => {
            // Echoes the token, as a careless app might: a journey's reasons must not repeat it.
            answer(StatusCode::OK, serde_json::json!({ "user": data.tokens[&bearer], "token": bearer }))
        }
        (&Method::POST, ["api", "audio"]) if signed_in => {
            if body.len() > behaviour.max_upload_bytes {
                return detail(StatusCode::PAYLOAD_TOO_LARGE, "the upload is too large");
            }
            let Some(part_type) = file_part_type(&content_type, &body) else {
                return detail(StatusCode::UNPROCESSABLE_ENTITY, "no file part");
            };
            if !part_type.starts_with("audio/") {
                return detail(StatusCode::UNSUPPORTED_MEDIA_TYPE, "only audio files");
            }
            data.next_id += 1;
            let job = format!("job-{}", data.next_id);
            data.jobs.insert(job.clone(), 0);
            let mut response = answer(StatusCode::CREATED, serde_json::json!({ "id": job }));
            response.headers_mut().insert("location", format!("/api/audio/{job}").parse().unwrap());
            response
        }
        (&Method::GET, ["api", "audio", job]) if signed_in => {
            let Some(polls) = data.jobs.get_mut(*job) else { return detail(StatusCode::NOT_FOUND, "no such job") };
            *polls += 1;
            if *polls <= behaviour.polls_before_done {
                answer(StatusCode::OK, serde_json::json!({ "status": "processing" }))
            } else {
                answer(StatusCode::OK, serde_json::json!({ "status": "done", "text": "the dragon sleeps" }))
            }
        }
        (&Method::POST, ["api", "stories"]) if signed_in => {
            let story: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let Some(title) = story["title"].as_str().filter(|t| !t.trim().is_empty() && t.len() <= 200) else {
                return detail(StatusCode::UNPROCESSABLE_ENTITY, "title: 1 to 200 characters");
            };
            data.next_id += 1;
            let id = data.next_id;
            data.stories.insert(id, title.to_string());
            answer(StatusCode::CREATED, serde_json::json!({ "id": id, "title": title }))
        }
        (&Method::GET, ["api", "stories", id]) if signed_in => {
            if behaviour.story_read_fails {
                return detail(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
            match id.parse().ok().and_then(|id: u64| data.stories.get(&id).map(|title| (id, title))) {
                Some((id, title)) => answer(StatusCode::OK, serde_json::json!({ "id": id, "title": title })),
                None => detail(StatusCode::NOT_FOUND, "no such story"),
            }
        }
        (&Method::DELETE, ["api", "stories", id]) if signed_in => {
            match id.parse().ok().and_then(|id: u64| data.stories.remove(&id)) {
                Some(_) => {
                    data.deleted.push(format!("story {id}"));
                    Response::builder().status(StatusCode::NO_CONTENT).body(Full::new(Bytes::new())).unwrap()
                }
                None => detail(StatusCode::NOT_FOUND, "no such story"),
            }
        }
        (&Method::GET, ["api", "limited"]) => {
            data.limited_requests += 1;
            if data.limited_requests > behaviour.rate_limit {
                let mut response = detail(StatusCode::TOO_MANY_REQUESTS, "slow down");
                response.headers_mut().insert("retry-after", "30".parse().unwrap());
                return response;
            }
            answer(StatusCode::OK, serde_json::json!({ "ok": true }))
        }
        (&Method::GET, ["v1", "models"]) if bearer == behaviour.api_key => {
            answer(StatusCode::OK, serde_json::json!({ "object": "list", "data": [{ "id": "whisper-1" }] }))
        }
        (&Method::GET, ["v1", "models"]) => detail(StatusCode::UNAUTHORIZED, "invalid api key"),
        (_, ["api", ..]) if !signed_in => detail(StatusCode::UNAUTHORIZED, "not signed in"),
        _ => detail(StatusCode::NOT_FOUND, "not found"),
    }
}

fn rand_part() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    hasher.finish()
}

/// The pairs of an `application/x-www-form-urlencoded` body.
fn form_pairs(body: &[u8]) -> HashMap<String, String> {
    let decode = |text: &str| {
        let bytes = text.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 3 <= bytes.len() {
                if let Ok(byte) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    out.push(byte);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (decode(name), decode(value)))
        .collect()
}

/// The `Content-Type` of the multipart part that carries a file name.
fn file_part_type(content_type: &str, body: &[u8]) -> Option<String> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let text = String::from_utf8_lossy(body);
    text.split(&format!("--{boundary}")).find_map(|part| {
        let head = part.split("\r\n\r\n").next()?;
        if !head.contains("filename=") {
            return None;
        }
        head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim().eq_ignore_ascii_case("content-type").then(|| value.trim().to_string())
        })
    })
}
