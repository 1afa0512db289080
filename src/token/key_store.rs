//! The issuer's signing keys, held parsed in memory and refreshed without ever blocking requests
//! whose key is already known.
//!
//! - Reads take a snapshot (`Arc` clone under a lock held for nanoseconds, never across I/O).
//! - An unknown `kid` triggers a refresh; concurrent requests for unknown kids wait for that same
//!   refresh (single flight), and refreshes for unknown kids happen at most once per cooldown, so
//!   a flood of random `kid`s cannot hammer the issuer.
//! - A failed fetch keeps the last good keys (stale-if-error).
//! - Keys older than the refresh interval are refreshed in the background, so removed keys stop
//!   verifying without any request waiting.
//!
//! `jwks_client_rs` parses each JWK; fetching, caching and the guarantees above are ours (its own
//! client refreshes under a write lock that stalls known-key requests and has no cooldown).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use jwks_client_rs::JsonWebKey;
use serde::Serialize;
use url::Url;

/// A verification key with what the JWK says about its use.
pub(crate) struct VerifyKey {
    pub(crate) key: DecodingKey,
    /// The JWK's `alg`, when it names one: tokens must then use exactly it.
    pub(crate) alg: Option<Algorithm>,
    /// For RSA keys, the key parsed once for RS256, the common case: verifying with it skips the
    /// per-signature key construction that `DecodingKey` (n, e) costs.
    pub(crate) rs256: Option<ParsedPublicKey>,
}

/// The keys of one successful fetch.
#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<VerifyKey>>,
    fetched_at: Option<Instant>,
}

/// What a health endpoint shows about the JWKS.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JwksStatus {
    /// Where the keys come from.
    pub jwks_uri: String,
    /// How many signing keys are held now.
    pub key_count: usize,
    /// When the last fetch attempt ended (success or not).
    pub last_fetch_at: Option<SystemTime>,
    /// When keys were last fetched successfully.
    pub last_success_at: Option<SystemTime>,
    /// Why the last fetch failed, if it did.
    pub last_error: Option<String>,
    /// How many fetches were made since start.
    pub fetch_count: u64,
}

/// Why a key could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyLookupError {
    /// The JWKS answered, and has no key with that `kid`.
    Unknown,
    /// The key is not held and the JWKS endpoint is failing.
    Unavailable(String),
}

pub(crate) struct KeyStore {
    /// Where the keys are fetched; `None` for a fixed key set given as a document, which is
    /// never fetched (an unknown `kid` is simply unknown).
    remote: Option<Remote>,
    fetch_timeout: Duration,
    cooldown: Duration,
    refresh_interval: Duration,
    keys: RwLock<Arc<KeySet>>,
    /// Bumped after every fetch attempt, so waiters know a refresh happened while they queued.
    generation: AtomicU64,
    /// Held for the duration of one fetch: the single flight.
    refresh: tokio::sync::Mutex<RefreshState>,
    status: Mutex<JwksStatus>,
}

#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    last_failed: bool,
}

struct Remote {
    url: Url,
    client: reqwest::Client,
}

impl KeyStore {
    pub(crate) fn new(
        url: Url,
        client: reqwest::Client,
        fetch_timeout: Duration,
        cooldown: Duration,
        refresh_interval: Duration,
    ) -> Self {
        let status = JwksStatus {
            jwks_uri: url.to_string(),
            key_count: 0,
            last_fetch_at: None,
            last_success_at: None,
            last_error: None,
            fetch_count: 0,
        };
        Self {
            remote: Some(Remote { url, client }),
            fetch_timeout,
            cooldown,
            refresh_interval,
            keys: RwLock::new(Arc::new(KeySet::default())),
            generation: AtomicU64::new(0),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            status: Mutex::new(status),
        }
    }

    /// A store holding `by_kid` for good: no fetch, no refresh, no network.
    pub(crate) fn fixed(by_kid: HashMap<String, Arc<VerifyKey>>) -> Self {
        let now = SystemTime::now();
        let status = JwksStatus {
            jwks_uri: String::new(),
            key_count: by_kid.len(),
            last_fetch_at: None,
            last_success_at: Some(now),
            last_error: None,
            fetch_count: 0,
        };
        Self {
            remote: None,
            fetch_timeout: Duration::ZERO,
            cooldown: Duration::ZERO,
            refresh_interval: Duration::MAX,
            keys: RwLock::new(Arc::new(KeySet {
                by_kid,
                fetched_at: Some(Instant::now()),
            })),
            generation: AtomicU64::new(0),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            status: Mutex::new(status),
        }
    }

    /// The JWKS URL; `None` for a fixed key set.
    pub(crate) fn url(&self) -> Option<&Url> {
        self.remote.as_ref().map(|remote| &remote.url)
    }

    fn snapshot(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            // A panic elsewhere while holding the lock cannot corrupt an `Arc` swap.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) fn status(&self) -> JwksStatus {
        match self.status.lock() {
            Ok(status) => status.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The key for `kid`: from memory, else after (at most) one shared refresh.
    pub(crate) async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<VerifyKey>, KeyLookupError> {
        let snapshot = self.snapshot();
        if let Some(key) = snapshot.by_kid.get(kid) {
            if snapshot
                .fetched_at
                .is_some_and(|at| at.elapsed() > self.refresh_interval)
            {
                self.refresh_in_background();
            }
            return Ok(Arc::clone(key));
        }
        self.refresh_for_unknown(kid).await
    }

    async fn refresh_for_unknown(&self, kid: &str) -> Result<Arc<VerifyKey>, KeyLookupError> {
        let seen = self.generation.load(Ordering::Acquire);
        let mut state = self.refresh.lock().await;
        if self.generation.load(Ordering::Acquire) == seen {
            // No refresh finished while we waited: this request may start one, unless the last
            // one was too recent (the cooldown that stops random-kid floods).
            let cooling = state
                .last_attempt
                .is_some_and(|at| at.elapsed() < self.cooldown);
            if !cooling {
                state.last_attempt = Some(Instant::now());
                state.last_failed = self.fetch_and_store().await.is_err();
            }
        }
        let failed = state.last_failed;
        drop(state);
        match self.snapshot().by_kid.get(kid) {
            Some(key) => Ok(Arc::clone(key)),
            None if failed => Err(KeyLookupError::Unavailable(
                self.status().last_error.unwrap_or_default(),
            )),
            None => Err(KeyLookupError::Unknown),
        }
    }

    /// Starts a refresh unless one is running or the last attempt is within the cooldown.
    fn refresh_in_background(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = Arc::clone(self);
        handle.spawn(async move {
            let Ok(mut state) = store.refresh.try_lock() else {
                return; // a refresh is already running
            };
            if state
                .last_attempt
                .is_some_and(|at| at.elapsed() < store.cooldown)
            {
                return;
            }
            state.last_attempt = Some(Instant::now());
            state.last_failed = store.fetch_and_store().await.is_err();
        });
    }

    /// Fetches the key set now (start-up, or a caller's refresh); keeps the old keys on failure.
    pub(crate) async fn refresh_now(&self) -> Result<usize, String> {
        let mut state = self.refresh.lock().await;
        state.last_attempt = Some(Instant::now());
        let result = self.fetch_and_store().await;
        state.last_failed = result.is_err();
        result
    }

    async fn fetch_and_store(&self) -> Result<usize, String> {
        let Some(remote) = &self.remote else {
            // A fixed key set: nothing to fetch, the keys held are all there is.
            return Ok(self.snapshot().by_kid.len());
        };
        let result = fetch_key_set(&remote.client, &remote.url, self.fetch_timeout).await;
        let now = SystemTime::now();
        let mut status = match self.status.lock() {
            Ok(status) => status,
            Err(poisoned) => poisoned.into_inner(),
        };
        status.fetch_count += 1;
        status.last_fetch_at = Some(now);
        let outcome = match result {
            Ok(by_kid) if by_kid.is_empty() => Err("the JWKS has no usable signing key".to_owned()),
            Ok(by_kid) => {
                let count = by_kid.len();
                let set = Arc::new(KeySet {
                    by_kid,
                    fetched_at: Some(Instant::now()),
                });
                match self.keys.write() {
                    Ok(mut keys) => *keys = set,
                    Err(poisoned) => *poisoned.into_inner() = set,
                }
                status.key_count = count;
                status.last_success_at = Some(now);
                status.last_error = None;
                tracing::info!(jwks_uri = %remote.url, keys = count, "JWKS fetched");
                Ok(count)
            }
            Err(error) => Err(error),
        };
        if let Err(error) = &outcome {
            status.last_error = Some(error.clone());
            tracing::warn!(jwks_uri = %remote.url, error = %error, kept_keys = status.key_count,
                "JWKS fetch failed; keeping the last good keys");
        }
        crate::metrics::jwks_fetch(
            remote.url.as_str(),
            outcome.is_ok(),
            status.key_count,
            status.last_success_at,
        );
        drop(status);
        self.generation.fetch_add(1, Ordering::AcqRel);
        outcome
    }
}

/// The most a JWKS document may weigh; real ones are a few KiB.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

async fn fetch_key_set(
    client: &reqwest::Client,
    url: &Url,
    timeout: Duration,
) -> Result<HashMap<String, Arc<VerifyKey>>, String> {
    let fetch = async {
        let response = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
        {
            return Err("the JWKS document is larger than 1 MiB".to_owned());
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("reading the body failed: {e}"))?;
        if bytes.len() > MAX_JWKS_BYTES {
            return Err("the JWKS document is larger than 1 MiB".to_owned());
        }
        parse_key_set(&bytes)
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}

/// Parses a JWKS document, keeping every usable signing key and skipping (with a log line) the
/// ones that are not: encryption keys, keys without `kid`, unknown key types, bad parameters.
pub(crate) fn parse_key_set(bytes: &[u8]) -> Result<HashMap<String, Arc<VerifyKey>>, String> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let document: Document =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut by_kid = HashMap::new();
    for raw in document.keys {
        if raw.get("use").and_then(|u| u.as_str()) == Some("enc") {
            continue;
        }
        match parse_key(raw) {
            Ok((kid, key)) => {
                by_kid.insert(kid, Arc::new(key));
            }
            Err(reason) => tracing::warn!(reason = %reason, "skipping a JWKS key"),
        }
    }
    Ok(by_kid)
}

fn parse_key(raw: serde_json::Value) -> Result<(String, VerifyKey), String> {
    let jwk: JsonWebKey =
        serde_json::from_value(raw).map_err(|e| format!("unreadable JWK: {e}"))?;
    let alg = jwk
        .alg()
        .map(|alg| {
            alg.parse::<Algorithm>()
                .map_err(|_| format!("unknown alg {alg}"))
        })
        .transpose()?;
    let rs256 = match &jwk {
        JsonWebKey::Rsa(rsa) => parse_rs256(rsa.modulus(), rsa.exponent()),
        _ => None,
    };
    let key = match &jwk {
        JsonWebKey::Rsa(rsa) => DecodingKey::from_rsa_components(rsa.modulus(), rsa.exponent()),
        JsonWebKey::Ec(ec) => DecodingKey::from_ec_components(ec.x(), ec.y()),
        JsonWebKey::Okp(okp) => DecodingKey::from_ed_components(okp.x()),
    }
    .map_err(|e| format!("bad key parameters for kid {}: {e}", jwk.key_id()))?;
    Ok((jwk.key_id().to_owned(), VerifyKey { key, alg, rs256 }))
}

fn parse_rs256(n: &str, e: &str) -> Option<ParsedPublicKey> {
    let n = URL_SAFE_NO_PAD.decode(n).ok()?;
    let e = URL_SAFE_NO_PAD.decode(e).ok()?;
    // aws-lc wants big-endian integers without leading zero bytes.
    let strip = |b: &[u8]| b.iter().position(|x| *x != 0).map(|i| b[i..].to_vec());
    RsaPublicKeyComponents {
        n: strip(&n)?,
        e: strip(&e)?,
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_N: &str = "qjNzuylUQpyU9qX3_bMGpiRUO1G_xKbB0fyqQy0naETviHIqPS2D3lGcfK9XIFLZOq1O7K2KRXEE5nSDTf-S9qc0nPRkS38CXK4DBKPTBXtjufLK3e9lN9dh8Ehazx8xNmdCc6aocVKKlamOJv7Qr_UgmoFllq7W-UQ0YK2qfN8WgqxOQUPrss-40RWslCAKpjZmMOpIpRXQLGmR-GGZUdQZXnTUhnhRyDz5VcXHH--o1PkH_F0rlabMxgNFfsCIWKWbGy8G89bNrvoeVKq15QPCeaGBV13f2Do6XHGt0l2M3eYz85wyz1pISvjQuR4PrtJr6VsuHz3Puh_KgY8GqQ";

    #[test]
    fn odd_keys_are_skipped_not_fatal() {
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "good", "alg": "RS256", "use": "sig", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "n": RSA_N, "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "weird-alg", "alg": "XX999", "n": RSA_N, "e": "AQAB"},
            "not an object"
        ]});
        let keys = parse_key_set(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["good"]);
        assert_eq!(keys["good"].alg, Some(Algorithm::RS256));
        assert!(keys["good"].rs256.is_some());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_key_set(b"<html>").is_err());
        assert!(parse_key_set(b"{\"keys\": 5}").is_err());
        assert!(parse_key_set(b"{\"keys\": []}").unwrap().is_empty());
    }
}
