//! HTTP basic auth against the bcrypt hashes of `basic_auth_users`, the way exporter-toolkit
//! does it: every attempt costs one bcrypt verification (against a dummy hash of the same cost
//! for an unknown user, so timing does not tell which users exist), and a successful
//! (user, hash, password) is cached so a scraper pays bcrypt once, not on every scrape.
//!
//! bcrypt is deliberately slow, so it runs on the blocking pool, at most [`BCRYPT_SLOTS`] at a
//! time: a flood of wrong passwords queues behind those slots instead of taking every runtime
//! thread, and clients whose password is cached never wait for them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use base64::Engine;
use hyper::header::HeaderValue;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::support::secret::Secret;

/// bcrypt verifications running at once, over all connections (the machine's cores are shared
/// with the checks).
pub const BCRYPT_SLOTS: usize = 2;
static BCRYPT: Semaphore = Semaphore::const_new(BCRYPT_SLOTS);

pub struct BasicAuth {
    users: BTreeMap<String, Secret>,
    /// A hash of a random password at the highest cost of the configured hashes.
    dummy_hash: Secret,
    /// Per-process key of the cache digests, so the cache holds nothing a dictionary attack
    /// could use if memory leaked.
    cache_key: [u8; 32],
    /// User name to the digest of its last successful (hash, password). One entry per
    /// configured user at most.
    cache: Mutex<HashMap<String, [u8; 32]>>,
}

impl BasicAuth {
    /// Prepares the dummy hash; `users` hold hashes [`crate::web::webconfig::parse`] validated.
    pub fn new(users: BTreeMap<String, Secret>) -> Result<BasicAuth, String> {
        let cost = users
            .values()
            .filter_map(|hash| hash.expose().parse::<bcrypt::HashParts>().ok())
            .map(|parts| parts.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let random: [u8; 16] = rand::random();
        let dummy_hash = bcrypt::hash(random, cost).map_err(|err| format!("cannot prepare bcrypt: {err}"))?;
        Ok(BasicAuth {
            users,
            dummy_hash: Secret::new(dummy_hash),
            cache_key: rand::random(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn digest(&self, user: &str, hash: &Secret, password: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for part in [&self.cache_key[..], user.as_bytes(), hash.expose().as_bytes(), password.as_bytes()] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        hasher.finalize().into()
    }

    /// True when `authorization` carries a configured user and that user's password.
    pub async fn authorize(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = authorization.and_then(credentials) else { return false };
        let (known, hash) = match self.users.get(&user) {
            Some(hash) => (true, hash.clone()),
            None => (false, self.dummy_hash.clone()),
        };
        let digest = self.digest(&user, &hash, password.expose());
        if known {
            let cached = self.cache.lock().ok().and_then(|cache| cache.get(&user).copied());
            if cached.is_some_and(|cached| bool::from(cached.ct_eq(&digest))) {
                return true;
            }
        }
        let Ok(_slot) = BCRYPT.acquire().await else { return false };
        // Non-truncating, as Go's bcrypt: a password too long for bcrypt (72 bytes with its NUL
        // terminator) never matches, rather than matching whatever shares its first 72 bytes.
        let verified =
            tokio::task::spawn_blocking(move || bcrypt::non_truncating_verify(password.expose(), hash.expose()))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(false);
        let granted = known && verified;
        if granted {
            if let Ok(mut cache) = self.cache.lock() {
                cache.insert(user, digest);
            }
        }
        granted
    }
}

/// The user and password of a `Basic` authorization header.
fn credentials(header: &HeaderValue) -> Option<(String, Secret)> {
    let text = header.to_str().ok()?;
    let (scheme, encoded) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), Secret::new(password)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> HeaderValue {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    fn auth() -> BasicAuth {
        let hash = bcrypt::hash("right horse", 4).unwrap();
        BasicAuth::new(BTreeMap::from([("alice".to_string(), Secret::new(hash))])).unwrap()
    }

    #[test]
    fn credentials_are_read_from_a_basic_header_only() {
        let (user, password) = credentials(&header("alice", "pa:ss")).unwrap();
        assert_eq!((user.as_str(), password.expose()), ("alice", "pa:ss"));
        assert!(credentials(&HeaderValue::from_static("Bearer abc")).is_none());
        assert!(credentials(&HeaderValue::from_static("Basic !!!")).is_none());
    }

    #[tokio::test]
    async fn the_right_password_passes_and_is_cached() {
        let auth = auth();
        assert!(auth.authorize(Some(&header("alice", "right horse"))).await);
        assert_eq!(auth.cache.lock().unwrap().len(), 1);
        assert!(auth.authorize(Some(&header("alice", "right horse"))).await, "from the cache");
        assert!(!auth.authorize(Some(&header("alice", "wrong horse"))).await, "the cache holds only the right one");
    }

    #[tokio::test]
    async fn wrong_passwords_unknown_users_and_no_header_are_refused() {
        let auth = auth();
        assert!(!auth.authorize(Some(&header("alice", "wrong"))).await);
        assert!(!auth.authorize(Some(&header("mallory", "right horse"))).await);
        assert!(!auth.authorize(None).await);
        assert!(auth.cache.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_password_longer_than_bcrypt_reads_never_matches() {
        let longest = "x".repeat(71);
        let hash = bcrypt::hash(&longest, 4).unwrap();
        let auth = BasicAuth::new(BTreeMap::from([("alice".to_string(), Secret::new(hash))])).unwrap();
        assert!(auth.authorize(Some(&header("alice", &longest))).await, "71 bytes still work");
        // A hash of 80 bytes holds only the first 72: a truncating check would let in any
        // password that starts with them.
        let hash = bcrypt::hash("x".repeat(80), 4).unwrap();
        let auth = BasicAuth::new(BTreeMap::from([("alice".to_string(), Secret::new(hash))])).unwrap();
        assert!(!auth.authorize(Some(&header("alice", &format!("{}{}", "x".repeat(72), "whatever")))).await);
    }

    #[test]
    fn the_dummy_hash_has_the_cost_of_the_real_ones() {
        let auth = auth();
        let parts: bcrypt::HashParts = auth.dummy_hash.expose().parse().unwrap();
        assert_eq!(parts.get_cost(), 4);
    }
}
