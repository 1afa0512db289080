//! The issuer's signing keys, held parsed in memory and refreshed without ever blocking requests
//! whose key is already known.
//!
//! - Reads take a snapshot (`Arc` clone under a lock held for nanoseconds, never across I/O).
//! - An unknown `kid` triggers a refresh; concurrent requests for unknown kids wait for that same
//!   refresh (single flight), and refreshes for unknown kids happen at most once per cooldown, so
//!   a flood of random `kid`s cannot hammer the issuer.
//! - A failed fetch keeps the last good keys (stale-if-error).
//! - Keys older than the refresh interval are refreshed in the background, so removed keys stop
//!   verifying without any request waiting; each replacement bumps a version, so cached tokens
//!   whose key was withdrawn are noticed (`still_holds`).
//!
//! Keys are read from the JWKS by [`jwk`](crate::token::jwk); fetching, caching and the
//! guarantees above are here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use url::Url;

use crate::token::algorithm::Algorithm;
use crate::token::jwk::{KeySet, VerifyKey, parse_key_set};

/// The keys of one successful fetch, and when it was made.
#[derive(Default)]
struct Snapshot {
    set: KeySet,
    fetched_at: Option<Instant>,
}

/// What a health endpoint shows about the JWKS.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
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
    /// The token names no `kid` and the JWKS holds several keys.
    KidRequired,
    /// The key is not held and the JWKS endpoint is failing.
    Unavailable(String),
}

/// Which key a token asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyChoice<'a> {
    /// The key with this `kid`.
    Kid(&'a str),
    /// The only key of the set (a token without `kid`).
    Sole,
}

impl KeyChoice<'_> {
    fn pick(self, set: &KeySet) -> Result<&Arc<VerifyKey>, KeyLookupError> {
        match self {
            Self::Kid(kid) => set.by_kid.get(kid).ok_or(KeyLookupError::Unknown),
            Self::Sole => match &set.sole {
                Some(key) => Ok(key),
                None if set.len > 1 => Err(KeyLookupError::KidRequired),
                None => Err(KeyLookupError::Unknown),
            },
        }
    }
}

pub(crate) struct KeyStore {
    /// Where the keys are fetched; `None` for a fixed key set given as a document, which is
    /// never fetched (an unknown `kid` is simply unknown).
    remote: Option<Remote>,
    /// The algorithms keys are parsed for.
    algorithms: Box<[Algorithm]>,
    fetch_timeout: Duration,
    cooldown: Duration,
    refresh_interval: Duration,
    keys: RwLock<Arc<Snapshot>>,
    /// Bumped after every fetch attempt, so waiters know a refresh happened while they queued.
    generation: AtomicU64,
    /// Bumped each time a fetched key set replaces the held one: a cached token whose key was
    /// checked at this version needs no new look.
    key_version: AtomicU64,
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
        algorithms: &[Algorithm],
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
            algorithms: algorithms.into(),
            fetch_timeout,
            cooldown,
            refresh_interval,
            keys: RwLock::new(Arc::new(Snapshot::default())),
            generation: AtomicU64::new(0),
            key_version: AtomicU64::new(0),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            status: Mutex::new(status),
        }
    }

    /// A store holding the keys of `document` for good: no fetch, no refresh, no network.
    pub(crate) fn fixed(document: &[u8], algorithms: &[Algorithm]) -> Result<Self, String> {
        let set = parse_key_set(document, algorithms)?;
        if set.usable() == 0 {
            return Err("the JWKS has no usable signing key".to_owned());
        }
        let status = JwksStatus {
            jwks_uri: String::new(),
            key_count: set.usable(),
            last_fetch_at: None,
            last_success_at: Some(SystemTime::now()),
            last_error: None,
            fetch_count: 0,
        };
        Ok(Self {
            remote: None,
            algorithms: algorithms.into(),
            fetch_timeout: Duration::ZERO,
            cooldown: Duration::ZERO,
            refresh_interval: Duration::MAX,
            keys: RwLock::new(Arc::new(Snapshot {
                set,
                fetched_at: Some(Instant::now()),
            })),
            generation: AtomicU64::new(0),
            key_version: AtomicU64::new(0),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            status: Mutex::new(status),
        })
    }

    /// The JWKS URL; `None` for a fixed key set.
    pub(crate) fn url(&self) -> Option<&Url> {
        self.remote.as_ref().map(|remote| &remote.url)
    }

    fn snapshot(&self) -> Arc<Snapshot> {
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

    /// The version of the held key set (see `key_version`).
    pub(crate) fn key_version(&self) -> u64 {
        self.key_version.load(Ordering::Acquire)
    }

    /// True when `choice` still picks `key` (same public parameters) in the held key set: a
    /// withdrawn or replaced key no longer vouches for the tokens it signed.
    pub(crate) fn still_holds(&self, choice: KeyChoice<'_>, key: &VerifyKey) -> bool {
        choice
            .pick(&self.snapshot().set)
            .is_ok_and(|held| held.fingerprint == key.fingerprint)
    }

    /// The key `choice` asks for: from memory, else after (at most) one shared refresh.
    pub(crate) async fn key(
        self: &Arc<Self>,
        choice: KeyChoice<'_>,
    ) -> Result<Arc<VerifyKey>, KeyLookupError> {
        let snapshot = self.snapshot();
        match choice.pick(&snapshot.set) {
            Ok(key) => {
                if snapshot
                    .fetched_at
                    .is_some_and(|at| at.elapsed() > self.refresh_interval)
                {
                    self.refresh_in_background();
                }
                Ok(Arc::clone(key))
            }
            // Several keys and no `kid`: no refresh can help.
            Err(KeyLookupError::KidRequired) => Err(KeyLookupError::KidRequired),
            Err(_) => self.refresh_for_unknown(choice).await,
        }
    }

    async fn refresh_for_unknown(
        &self,
        choice: KeyChoice<'_>,
    ) -> Result<Arc<VerifyKey>, KeyLookupError> {
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
        match choice.pick(&self.snapshot().set) {
            Ok(key) => Ok(Arc::clone(key)),
            Err(KeyLookupError::Unknown) if failed => Err(KeyLookupError::Unavailable(
                self.status().last_error.unwrap_or_default(),
            )),
            Err(error) => Err(error),
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
            return Ok(self.snapshot().set.usable());
        };
        let result = fetch_key_set(remote, &self.algorithms, self.fetch_timeout).await;
        let now = SystemTime::now();
        let mut status = match self.status.lock() {
            Ok(status) => status,
            Err(poisoned) => poisoned.into_inner(),
        };
        status.fetch_count += 1;
        status.last_fetch_at = Some(now);
        let outcome = match result {
            Ok(set) if set.usable() == 0 => Err("the JWKS has no usable signing key".to_owned()),
            Ok(set) => {
                let count = set.usable();
                let snapshot = Arc::new(Snapshot {
                    set,
                    fetched_at: Some(Instant::now()),
                });
                match self.keys.write() {
                    Ok(mut keys) => *keys = snapshot,
                    Err(poisoned) => *poisoned.into_inner() = snapshot,
                }
                self.key_version.fetch_add(1, Ordering::AcqRel);
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
    remote: &Remote,
    algorithms: &[Algorithm],
    timeout: Duration,
) -> Result<KeySet, String> {
    let fetch = async {
        let response = remote
            .client
            .get(remote.url.clone())
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
        parse_key_set(&bytes, algorithms)
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}
