//! Recording into the installed recorder (feature `metrics`).
//!
//! The per-request metrics (decisions, cache look-ups) use keys of static parts, built once and
//! kept in statics: no label is allocated, copied or hashed per request, and without a recorder a call costs one
//! thread-local and one atomic load. The rare events (JWKS fetches, webhook batches, Management
//! API calls) use the macros.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ::metrics::{Key, Label, Level, Metadata, Unit, with_recorder};

use super::*;

static METADATA: Metadata<'static> =
    Metadata::new("tower_mcp_auth", Level::INFO, Some(module_path!()));

/// More slots than [`ErrorCode`] has variants; a code past them (never today) gets a fresh key.
const SLOTS: usize = 64;

/// One lazily built key per slot.
struct Keys([OnceLock<Key>; SLOTS]);

impl Keys {
    const fn new() -> Self {
        Self([const { OnceLock::new() }; SLOTS])
    }

    /// The key of `slot`, built by `build` once; `None` past the slots.
    fn get(&self, slot: usize, build: impl FnOnce() -> Key) -> Option<&Key> {
        self.0.get(slot).map(|cell| cell.get_or_init(build))
    }
}

/// Each layer's refusal keys, by code.
static BEARER_REFUSALS: Keys = Keys::new();
static GUARD_REFUSALS: Keys = Keys::new();

/// The `outcome` label of a decision.
pub(crate) const fn outcome(code: Option<ErrorCode>) -> &'static str {
    match code {
        None => "allowed",
        Some(code) => code.as_str(),
    }
}

// Each layer's "allowed" key, counted on almost every request: a static, so it costs no look-up.
static BEARER_ALLOWED_LABELS: [Label; 2] = [
    Label::from_static_parts("layer", Decider::Bearer.as_str()),
    Label::from_static_parts("outcome", outcome(None)),
];
static GUARD_ALLOWED_LABELS: [Label; 2] = [
    Label::from_static_parts("layer", Decider::ScopeGuard.as_str()),
    Label::from_static_parts("outcome", outcome(None)),
];
static BEARER_ALLOWED: Key = Key::from_static_parts(REQUESTS_TOTAL, &BEARER_ALLOWED_LABELS);
static GUARD_ALLOWED: Key = Key::from_static_parts(REQUESTS_TOTAL, &GUARD_ALLOWED_LABELS);

/// Counts one decision of a layer: allowed (`None`) or refused with `code`.
pub(crate) fn decision(layer: Decider, code: Option<ErrorCode>) {
    let Some(code) = code else {
        let key = match layer {
            Decider::Bearer => &BEARER_ALLOWED,
            Decider::ScopeGuard => &GUARD_ALLOWED,
        };
        with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
        return;
    };
    let table = match layer {
        Decider::Bearer => &BEARER_REFUSALS,
        Decider::ScopeGuard => &GUARD_REFUSALS,
    };
    let labels = || {
        [
            Label::from_static_parts("layer", layer.as_str()),
            Label::from_static_parts("outcome", code.as_str()),
        ]
    };
    // Leaked once per (layer, code), at most 2 × SLOTS small slices: a key of static parts is
    // what recorders copy for free (`Key::to_retained`); an owned one they clone, an allocation
    // per request.
    let build = || Key::from_static_parts(REQUESTS_TOTAL, Box::leak(Box::new(labels())));
    let owned;
    // A fieldless enum's discriminant: a dense index, whatever variants are added later.
    let key = match table.get(code as usize, build) {
        Some(key) => key,
        None => {
            owned = Key::from_parts(REQUESTS_TOTAL, labels().to_vec());
            &owned
        }
    };
    with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
}

static CACHE_HIT_LABELS: [Label; 1] = [Label::from_static_parts("result", "hit")];
static CACHE_MISS_LABELS: [Label; 1] = [Label::from_static_parts("result", "miss")];
static CACHE_HIT: Key = Key::from_static_parts(TOKEN_CACHE_REQUESTS_TOTAL, &CACHE_HIT_LABELS);
static CACHE_MISS: Key = Key::from_static_parts(TOKEN_CACHE_REQUESTS_TOTAL, &CACHE_MISS_LABELS);

/// Counts one verified-token cache look-up.
pub(crate) fn token_cache(hit: bool) {
    let key = if hit { &CACHE_HIT } else { &CACHE_MISS };
    with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
}

/// Counts a cache hit the bearer layer let through: the look-up and the decision, with one
/// look-up of the recorder instead of two (the repeated-token path, every request).
pub(crate) fn bearer_cache_hit_allowed() {
    with_recorder(|recorder| {
        recorder
            .register_counter(&CACHE_HIT, &METADATA)
            .increment(1);
        recorder
            .register_counter(&BEARER_ALLOWED, &METADATA)
            .increment(1);
    });
}

static VALID_LABELS: [Label; 1] = [Label::from_static_parts("result", "valid")];
static INVALID_LABELS: [Label; 1] = [Label::from_static_parts("result", "invalid")];
static VERIFY_VALID: Key = Key::from_static_parts(TOKEN_VERIFICATION_SECONDS, &VALID_LABELS);
static VERIFY_INVALID: Key = Key::from_static_parts(TOKEN_VERIFICATION_SECONDS, &INVALID_LABELS);

/// Times one token verification (cache misses only).
pub(crate) struct VerifyTimer(Instant);

impl VerifyTimer {
    pub(crate) fn start() -> Self {
        Self(Instant::now())
    }

    pub(crate) fn stop(self, valid: bool) {
        let seconds = self.0.elapsed().as_secs_f64();
        let key = if valid {
            &VERIFY_VALID
        } else {
            &VERIFY_INVALID
        };
        with_recorder(|recorder| recorder.register_histogram(key, &METADATA).record(seconds));
    }
}

/// Records one JWKS fetch attempt and the key store's state after it.
pub(crate) fn jwks_fetch(
    jwks_uri: &str,
    success: bool,
    keys: usize,
    last_success: Option<SystemTime>,
) {
    let uri = Label::new("jwks_uri", jwks_uri.to_owned());
    let result = if success { "success" } else { "failure" };
    let fetches = Key::from_parts(
        JWKS_FETCHES_TOTAL,
        vec![uri.clone(), Label::from_static_parts("result", result)],
    );
    with_recorder(|recorder| {
        recorder.register_counter(&fetches, &METADATA).increment(1);
        recorder
            .register_gauge(&Key::from_parts(JWKS_KEYS, vec![uri.clone()]), &METADATA)
            .set(keys as f64);
        if let Some(at) = last_success.and_then(|at| at.duration_since(UNIX_EPOCH).ok()) {
            let key = Key::from_parts(JWKS_LAST_SUCCESS_TIMESTAMP_SECONDS, vec![uri]);
            recorder
                .register_gauge(&key, &METADATA)
                .set(at.as_secs_f64());
        }
    });
}

#[cfg(feature = "auth0")]
pub(crate) use auth0::*;

#[cfg(feature = "auth0")]
mod auth0 {
    use ::metrics::counter;
    use http::StatusCode;

    use super::super::*;
    use crate::auth0::ManagementError;
    use crate::auth0::promotion::{PromotionOutcome, SkipReason};
    use crate::auth0::summary::WebhookSummary;

    /// Counts one log-stream delivery by the status it was answered with.
    pub(crate) fn webhook_delivery(status: StatusCode) {
        let status = match status.as_u16() {
            200 => "200",
            400 => "400",
            401 => "401",
            403 => "403",
            405 => "405",
            413 => "413",
            503 => "503",
            _ => "other",
        };
        counter!(WEBHOOK_DELIVERIES_TOTAL, "status" => status).increment(1);
    }

    /// Counts the entries of one accepted batch by how they were sorted, and the clients the
    /// promotion budget deferred to a redelivery.
    pub(crate) fn webhook_batch(summary: &WebhookSummary) {
        let entries = &summary.entries;
        let kinds = [
            ("received", entries.received),
            ("malformed", entries.malformed),
            ("already_processed", entries.already_processed),
            ("ignored", entries.ignored),
            ("dcr_without_client_id", entries.dcr_without_client_id),
        ];
        for (kind, count) in kinds {
            counter!(WEBHOOK_ENTRIES_TOTAL, "kind" => kind).increment(count as u64);
        }
        counter!(WEBHOOK_CLIENTS_TOTAL, "outcome" => "deferred", "reason" => "none")
            .increment(summary.deferred.count as u64);
    }

    /// Counts one client's promotion by its outcome.
    pub(crate) fn webhook_client(result: &Result<PromotionOutcome, ManagementError>) {
        let (outcome, reason) = match result {
            Ok(PromotionOutcome::Promoted(_)) => ("promoted", "none"),
            Ok(PromotionOutcome::AlreadyPromoted) => ("already_promoted", "none"),
            Ok(PromotionOutcome::Skipped(reason)) => ("skipped", skip_reason(reason)),
            Ok(PromotionOutcome::LoginBlocked(_)) => ("login_blocked", "none"),
            // As the webhook settles them: 503 and a redelivery, or acknowledged for good.
            Err(error) if error.redelivery_can_fix() => ("failed", "none"),
            Err(_) => ("refused", "none"),
        };
        counter!(WEBHOOK_CLIENTS_TOTAL, "outcome" => outcome, "reason" => reason).increment(1);
    }

    fn skip_reason(reason: &SkipReason) -> &'static str {
        match reason {
            SkipReason::NotFound => "not_found",
            SkipReason::NameNotMatched { .. } => "name_not_matched",
            SkipReason::HandMadeFirstParty => "hand_made_first_party",
            SkipReason::NotRegistered { .. } => "not_registered",
            SkipReason::CallbacksNotAllowed { .. } => "callbacks_not_allowed",
            SkipReason::UnknownSecurityMode { .. } => "unknown_security_mode",
        }
    }

    /// Counts one Management API call (after its retries) by status class.
    pub(crate) fn management_call<T>(
        operation: &'static str,
        result: &Result<(StatusCode, T), ManagementError>,
    ) {
        let status = match result {
            Ok((status, _)) => status_class(status.as_u16()),
            Err(error) => match error.status() {
                Some(status) => status_class(status),
                None => match error {
                    ManagementError::Timeout { .. } => "timeout",
                    ManagementError::Transport { .. } => "transport",
                    _ => "error",
                },
            },
        };
        counter!(MANAGEMENT_REQUESTS_TOTAL, "operation" => operation, "status" => status)
            .increment(1);
    }

    fn status_class(status: u16) -> &'static str {
        match status {
            429 => "429",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            500..=599 => "5xx",
            _ => "error",
        }
    }

    /// Counts one retried Management API attempt.
    pub(crate) fn management_retry(operation: &'static str) {
        counter!(MANAGEMENT_RETRIES_TOTAL, "operation" => operation).increment(1);
    }
}

/// Registers every metric's unit and description.
pub(super) fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        REQUESTS_TOTAL,
        Unit::Count,
        "Decisions of the tower-mcp-auth layers, by layer and outcome (allowed or the refusal code)"
    );
    describe_counter!(
        TOKEN_CACHE_REQUESTS_TOTAL,
        Unit::Count,
        "Verified-token cache look-ups of the bearer layer, by result (hit, miss)"
    );
    describe_histogram!(
        TOKEN_VERIFICATION_SECONDS,
        Unit::Seconds,
        "Token verification time on a cache miss, by result (valid, invalid)"
    );
    describe_counter!(
        JWKS_FETCHES_TOTAL,
        Unit::Count,
        "JWKS fetch attempts, by result (success, failure)"
    );
    describe_gauge!(JWKS_KEYS, Unit::Count, "Signing keys held from the JWKS");
    describe_gauge!(
        JWKS_LAST_SUCCESS_TIMESTAMP_SECONDS,
        Unit::Seconds,
        "Unix time of the last successful JWKS fetch"
    );
    describe_counter!(
        WEBHOOK_DELIVERIES_TOTAL,
        Unit::Count,
        "Auth0 log-stream batches answered, by HTTP status"
    );
    describe_counter!(
        WEBHOOK_ENTRIES_TOTAL,
        Unit::Count,
        "Log entries of accepted batches, by kind"
    );
    describe_counter!(
        WEBHOOK_CLIENTS_TOTAL,
        Unit::Count,
        "DCR clients handled by the webhook, by outcome and skip reason"
    );
    describe_counter!(
        MANAGEMENT_REQUESTS_TOTAL,
        Unit::Count,
        "Auth0 Management API calls after retries, by operation and status class"
    );
    describe_counter!(
        MANAGEMENT_RETRIES_TOTAL,
        Unit::Count,
        "Auth0 Management API attempts retried, by operation"
    );
}
