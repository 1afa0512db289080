//! Sessions belong to their user: an `Mcp-Session-Id` (MCP 2025 revisions) is bound to the
//! issuer and subject of the token whose request got it issued, learned from the response that
//! carries the new id, and a request naming that session with another user's token is refused
//! 404 (as the Python SDK does; MCP clients then start a new session).
//!
//! Memory is bounded: at most [`SessionBinding::capacity`] sessions are remembered (least
//! recently and least frequently used go first), each as two SHA-256 digests and a time, about
//! 100 bytes; a binding unused for [`SessionBinding::idle_timeout`] is forgotten, and one is
//! removed when its session is deleted (`DELETE` answered 2xx). A request naming a session the
//! guard does not know (never issued through it, forgotten, expired) is refused the same way:
//! the guard cannot tell whose it is.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use http::{HeaderMap, HeaderName, Method, StatusCode};

use crate::challenge::{AuthError, ErrorCode};
use crate::scope::header_scan;
use crate::token::AccessToken;

/// The MCP session header (streamable HTTP, MCP 2025-03-26 to 2025-11-25).
pub const MCP_SESSION_ID: &str = "mcp-session-id";

/// The same, parsed once: a lookup by `&str` would parse the name on every request.
const SESSION_HEADER: HeaderName = HeaderName::from_static(MCP_SESSION_ID);

/// How the guard binds MCP sessions to users. On by default
/// ([`ScopeGuardLayer::session_binding`](crate::ScopeGuardLayer::session_binding)).
///
/// ```
/// use std::time::Duration;
/// use tower_mcp_auth::scope::SessionBinding;
///
/// let binding = SessionBinding::new()
///     .capacity(50_000)
///     .idle_timeout(Duration::from_secs(8 * 3600));
/// assert_eq!(binding.get_capacity(), 50_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionBinding {
    capacity: usize,
    idle_timeout: Duration,
}

impl Default for SessionBinding {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionBinding {
    /// 10 000 sessions, forgotten after 24 hours unused.
    pub const fn new() -> Self {
        Self {
            capacity: 10_000,
            idle_timeout: Duration::from_secs(24 * 3600),
        }
    }

    /// Remembers at most `sessions` sessions (at least one). A session forgotten to make room
    /// is refused 404 on its next use, and its client starts a new one.
    pub const fn capacity(mut self, sessions: usize) -> Self {
        self.capacity = if sessions == 0 { 1 } else { sessions };
        self
    }

    /// Forgets a session unused for `idle`.
    pub const fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// The number of sessions remembered at most.
    pub const fn get_capacity(&self) -> usize {
        self.capacity
    }

    /// How long an unused session is remembered.
    pub const fn get_idle_timeout(&self) -> Duration {
        self.idle_timeout
    }
}

type Digest = [u8; 32];

fn sha256(parts: &[&[u8]]) -> Digest {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") never share a digest.
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// A user is (issuer, subject); a caller without a token (public operations, mixed auth) is
/// one digest of three parts, which no two-part user digest can equal.
fn owner_of(token: Option<&AccessToken>) -> Digest {
    match token {
        Some(token) => sha256(&[token.issuer().as_bytes(), token.subject().as_bytes()]),
        None => *ANONYMOUS,
    }
}

/// The owner of sessions started without a token, hashed once.
static ANONYMOUS: std::sync::LazyLock<Digest> =
    std::sync::LazyLock::new(|| sha256(&[b"", b"", b"anonymous"]));

#[derive(Debug, Clone, Copy)]
struct Binding {
    owner: Digest,
    last_used: Instant,
}

/// The bindings of one guard (shared by its clones).
#[derive(Debug)]
pub(crate) struct SessionStore {
    bindings: quick_cache::sync::Cache<Digest, Binding>,
    idle_timeout: Duration,
}

/// What the guard keeps of a request to learn from its response.
#[derive(Debug)]
pub(crate) struct Observation {
    store: Arc<SessionStore>,
    token: Option<AccessToken>,
    /// The digest of the session the request named, if any.
    session: Option<Digest>,
    delete: bool,
}

impl SessionStore {
    pub(crate) fn new(binding: SessionBinding) -> Self {
        Self {
            bindings: quick_cache::sync::Cache::new(binding.capacity),
            idle_timeout: binding.idle_timeout,
        }
    }

    /// Checks the session a request names, if any, against its token; on success, what to
    /// learn from the response (`None` for methods whose answers cannot issue or end one).
    pub(crate) fn check(
        self: &Arc<Self>,
        method: &Method,
        headers: &HeaderMap,
        token: Option<&AccessToken>,
    ) -> Result<Option<Observation>, AuthError> {
        // Most requests name no session: the lookup runs only when the name is there.
        let mut values = header_scan::get_all(headers, &SESSION_HEADER);
        let session = match (values.next(), values.next()) {
            (None, _) => None,
            (Some(_), Some(_)) => {
                return Err(not_found("The request names more than one MCP session"));
            }
            (Some(id), None) => {
                let key = sha256(&[id.as_bytes()]);
                let now = Instant::now();
                let owner = owner_of(token);
                match self.bindings.get(&key) {
                    Some(binding) if now.duration_since(binding.last_used) > self.idle_timeout => {
                        self.bindings.remove(&key);
                        return Err(unknown());
                    }
                    // A session started without a token (public discovery, then a login: how
                    // Claude and ChatGPT drive mixed auth) goes to the first user who brings a
                    // token to it; it holds nothing but public operations. From then on it is
                    // that user's alone, and the tokenless caller is refused like anyone else.
                    Some(binding) if token.is_some() && binding.owner == *ANONYMOUS => {
                        let binding = Binding {
                            owner,
                            last_used: now,
                        };
                        self.bindings.insert(key, binding);
                        Some(key)
                    }
                    Some(binding) if binding.owner == owner => {
                        // Refreshing costs a write: do it at most once a minute per session.
                        if now.duration_since(binding.last_used) > Duration::from_secs(60) {
                            self.bindings.insert(
                                key,
                                Binding {
                                    last_used: now,
                                    ..binding
                                },
                            );
                        }
                        Some(key)
                    }
                    // Another user's session answers exactly as an unknown one: nothing tells
                    // the caller that the id exists.
                    Some(_) | None => return Err(unknown()),
                }
            }
        };
        // The streamable HTTP transport issues a session only in the answer to `initialize` (a
        // POST) and ends one only by a DELETE: other answers teach nothing, and are not read. A
        // server that put a new id on another answer would find that id refused as unknown.
        if method != Method::POST && method != Method::DELETE {
            return Ok(None);
        }
        Ok(Some(Observation {
            store: Arc::clone(self),
            token: token.cloned(),
            session,
            delete: method == Method::DELETE,
        }))
    }

    /// How many sessions are bound now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.bindings.len()
    }
}

impl Observation {
    /// Learns from the inner service's answer: a new session id is bound to the request's user;
    /// a session deleted is forgotten.
    pub(crate) fn learn(self, status: StatusCode, headers: &HeaderMap) {
        if self.delete && status.is_success() {
            if let Some(session) = self.session {
                self.store.bindings.remove(&session);
            }
            return;
        }
        // Most answers issue no session: the lookup runs only when the name is there.
        let Some(issued) = header_scan::get(headers, &SESSION_HEADER) else {
            return;
        };
        let key = sha256(&[issued.as_bytes()]);
        if Some(key) == self.session {
            return;
        }
        // A server never reissues a live session to someone else; should it, the first binding
        // stands (the other user is refused).
        if self.store.bindings.get(&key).is_none() {
            let binding = Binding {
                owner: owner_of(self.token.as_ref()),
                last_used: Instant::now(),
            };
            self.store.bindings.insert(key, binding);
            tracing::debug!(
                subject = self.token.as_ref().map(AccessToken::subject),
                "MCP session bound to its user"
            );
        }
    }
}

fn unknown() -> AuthError {
    not_found("Session not found: unknown, expired, or started with another user's token")
}

fn not_found(description: &'static str) -> AuthError {
    AuthError::new(ErrorCode::SessionNotFound, description)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use serde_json::json;

    fn token(iss: &str, sub: &str) -> AccessToken {
        AccessToken::from_claims(
            json!({"iss": iss, "sub": sub, "aud": "a", "exp": 4_102_444_800u64}),
        )
        .unwrap()
    }

    fn with_session(id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(MCP_SESSION_ID, HeaderValue::from_str(id).unwrap());
        headers
    }

    /// A store in which alice's `POST` was answered with session `id`, and alice's token.
    fn store_with_session_of_alice(id: &str) -> (Arc<SessionStore>, AccessToken) {
        let store = Arc::new(SessionStore::new(SessionBinding::new()));
        let alice = token("https://a/", "alice");
        let started = store
            .check(&Method::POST, &HeaderMap::new(), Some(&alice))
            .unwrap()
            .expect("a POST or DELETE answer is observed");
        started.learn(StatusCode::OK, &with_session(id));
        (store, alice)
    }

    #[test]
    fn a_session_is_bound_to_the_issuer_and_subject_that_started_it() {
        let (store, alice) = store_with_session_of_alice("s-1");
        assert!(
            store
                .check(&Method::POST, &with_session("s-1"), Some(&alice))
                .is_ok()
        );
        for other in [token("https://a/", "bob"), token("https://b/", "alice")] {
            let err = store
                .check(&Method::GET, &with_session("s-1"), Some(&other))
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::SessionNotFound);
        }
        let err = store
            .check(&Method::GET, &with_session("s-2"), Some(&alice))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::SessionNotFound);
    }

    /// The session header is found among any other headers, standard or custom, whatever its
    /// place; two of them are refused.
    #[test]
    fn the_session_header_is_found_among_others_and_two_are_refused() {
        let (store, alice) = store_with_session_of_alice("s-1");
        let others = [
            ("accept", "application/json"),
            ("mcp-protocol-version", "2025-11-25"),
            ("x-mcp-session-i", "s-1"),
            ("mcp-session-idx", "s-1"),
        ];
        for place in 0..=others.len() {
            let mut headers = HeaderMap::new();
            for (at, (name, value)) in others.iter().enumerate() {
                if at == place {
                    headers.insert(MCP_SESSION_ID, HeaderValue::from_static("s-2"));
                }
                headers.insert(*name, HeaderValue::from_static(value));
            }
            if place == others.len() {
                headers.insert(MCP_SESSION_ID, HeaderValue::from_static("s-2"));
            }
            // `s-2` was never issued: found, it is refused; missed, it would pass as none.
            let err = store
                .check(&Method::POST, &headers, Some(&alice))
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::SessionNotFound, "at {place}");
            headers.remove(MCP_SESSION_ID);
            assert!(store.check(&Method::POST, &headers, Some(&alice)).is_ok());
        }
        let mut twice = with_session("s-1");
        twice.append(MCP_SESSION_ID, HeaderValue::from_static("s-1"));
        let err = store
            .check(&Method::POST, &twice, Some(&alice))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::SessionNotFound);
        assert!(
            store
                .check(&Method::POST, &with_session("s-1"), Some(&alice))
                .is_ok()
        );
    }

    #[test]
    fn a_session_started_without_a_token_goes_to_the_first_user_who_brings_one() {
        let store = Arc::new(SessionStore::new(SessionBinding::new()));
        let (alice, bob) = (token("https://a/", "alice"), token("https://a/", "bob"));
        let started = store
            .check(&Method::POST, &HeaderMap::new(), None)
            .unwrap()
            .expect("a POST answer is observed");
        started.learn(StatusCode::OK, &with_session("public"));
        // Public operations on it go on without a token…
        assert!(
            store
                .check(&Method::POST, &with_session("public"), None)
                .is_ok()
        );
        // …until a user logs in: the session is theirs alone from then on.
        assert!(
            store
                .check(&Method::POST, &with_session("public"), Some(&alice))
                .is_ok()
        );
        for other in [Some(&bob), None] {
            let err = store
                .check(&Method::POST, &with_session("public"), other)
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::SessionNotFound);
        }
        assert!(
            store
                .check(&Method::POST, &with_session("public"), Some(&alice))
                .is_ok()
        );
    }

    #[test]
    fn deleting_a_session_forgets_it_and_memory_is_bounded() {
        let store = Arc::new(SessionStore::new(SessionBinding::new().capacity(8)));
        let alice = token("https://a/", "alice");
        for i in 0..100 {
            let seen = store
                .check(&Method::POST, &HeaderMap::new(), Some(&alice))
                .unwrap()
                .expect("a POST or DELETE answer is observed");
            seen.learn(StatusCode::OK, &with_session(&format!("s-{i}")));
        }
        assert!(store.len() <= 8, "{} bindings", store.len());
        let seen = store
            .check(&Method::POST, &HeaderMap::new(), Some(&alice))
            .unwrap()
            .expect("a POST or DELETE answer is observed");
        seen.learn(StatusCode::OK, &with_session("kept"));
        let deleted = store
            .check(&Method::DELETE, &with_session("kept"), Some(&alice))
            .unwrap()
            .expect("a POST or DELETE answer is observed");
        deleted.learn(StatusCode::NO_CONTENT, &HeaderMap::new());
        assert!(
            store
                .check(&Method::POST, &with_session("kept"), Some(&alice))
                .is_err()
        );
    }

    #[test]
    fn only_post_and_delete_answers_are_observed_and_an_id_issued_elsewhere_stays_unknown() {
        let store = Arc::new(SessionStore::new(SessionBinding::new()));
        let alice = token("https://a/", "alice");
        for method in [Method::GET, Method::PUT, Method::PATCH, Method::HEAD] {
            let seen = store
                .check(&method, &HeaderMap::new(), Some(&alice))
                .unwrap();
            assert!(seen.is_none(), "{method} answers are not read");
        }
        // Not even by the user whose GET got it: a session the guard did not see issued is
        // refused, as any unknown id is.
        let err = store
            .check(&Method::POST, &with_session("from-a-get"), Some(&alice))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::SessionNotFound);
    }

    #[test]
    fn an_idle_session_expires() {
        let store = Arc::new(SessionStore::new(
            SessionBinding::new().idle_timeout(Duration::ZERO),
        ));
        let alice = token("https://a/", "alice");
        let seen = store
            .check(&Method::POST, &HeaderMap::new(), Some(&alice))
            .unwrap()
            .expect("a POST or DELETE answer is observed");
        seen.learn(StatusCode::OK, &with_session("s"));
        std::thread::sleep(Duration::from_millis(2));
        let err = store
            .check(&Method::POST, &with_session("s"), Some(&alice))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::SessionNotFound);
    }
}
