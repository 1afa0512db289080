//! Acknowledgement by outcome class: which promotion results make the webhook answer 503 (the
//! log stream delivers the batch again) and which are settled with 200.
//!
//! Auth0 redelivers an errored batch "until the problem is resolved" and pauses the stream
//! after seven days of failures (Auth0 docs, log streams). So a 503 is right only where a
//! redelivery can succeed ([`ManagementError::redelivery_can_fix`]); a refusal that comes back
//! the same every time is logged with its reason, counted, shown in the health state and
//! acknowledged — else one bad client would stall the stream for every other.

use super::health::Auth0Health;
use super::management::ManagementError;
use super::promotion::PromotionOutcome;
use super::summary::WebhookSummary;

/// Files one client's result in the summary and the health state; returns whether the client's
/// log entries are complete (to be remembered, not redone).
pub(super) fn settle(
    summary: &mut WebhookSummary,
    health: &Auth0Health,
    client_id: String,
    outcome: Result<PromotionOutcome, ManagementError>,
) -> bool {
    match outcome {
        Ok(PromotionOutcome::Promoted(_)) => summary.promoted.push(client_id),
        Ok(PromotionOutcome::AlreadyPromoted) => summary.already_promoted.push(client_id),
        Ok(PromotionOutcome::Skipped(_)) => summary.skipped.push(client_id),
        Ok(PromotionOutcome::LoginBlocked(blocked)) => {
            health.record_login_blocked(
                &client_id,
                format!(
                    "connection(s) {:?} not domain-level: promote them to domain level",
                    blocked.connections_not_domain_level
                ),
            );
            summary.login_blocked.push(client_id);
        }
        Err(e) if e.redelivery_can_fix() => {
            match e.missing_scope() {
                Some(scope) => {
                    tracing::error!(client_id = %client_id, missing_scope = scope, error = %e,
                    "promotion failed: the Management API application lacks a scope; grant it and the redelivery completes")
                }
                None => tracing::error!(client_id = %client_id, error = %e,
                    "promotion failed; the batch will be redelivered"),
            }
            summary.failed.push(client_id);
            // Not complete: a redelivery must do this work again.
            return false;
        }
        Err(e) => {
            tracing::warn!(client_id = %client_id, error = %e, status = ?e.status(),
                "Auth0 refused the promotion and a redelivery cannot change that; acknowledged");
            health.record_refusal(&client_id, e.to_string());
            summary.refused.push(client_id);
        }
    }
    true
}
