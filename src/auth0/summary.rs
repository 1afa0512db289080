//! The webhook's answer body: what happened to each client and entry of a batch.

use serde::{Deserialize, Serialize};

/// The count and ids of the clients in one outcome class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientList {
    /// How many clients.
    pub count: usize,
    /// Their ids, in the order they finished.
    pub client_ids: Vec<String>,
}

impl ClientList {
    pub(crate) fn push(&mut self, id: String) {
        self.count += 1;
        self.client_ids.push(id);
    }
}

/// How the entries of a batch were sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EntryCounts {
    /// Entries in the batch.
    pub received: usize,
    /// Entries that are not `{log_id, data: {…}}`.
    pub malformed: usize,
    /// Entries whose `log_id` was completed before (redelivery): no work done.
    pub already_processed: usize,
    /// Entries that are not DCR events.
    pub ignored: usize,
    /// DCR entries that name no client id: logged, not promoted.
    pub dcr_without_client_id: usize,
}

/// The webhook's answer body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct WebhookSummary {
    /// Clients this batch changed.
    pub promoted: ClientList,
    /// Clients that needed no change.
    pub already_promoted: ClientList,
    /// Clients left alone: not registered by DCR or CIMD, a callback off the allow-list, the
    /// name filter, a hand-made app, deleted.
    pub skipped: ClientList,
    /// Clients done as far as Auth0 allows, who still cannot log in: the login connection is not
    /// domain-level (a tenant fix; no redelivery helps).
    pub login_blocked: ClientList,
    /// Clients whose promotion Auth0 refused in a way no redelivery can fix (a 400 on a field,
    /// a 404): logged with the reason, acknowledged.
    pub refused: ClientList,
    /// Clients not attempted because the promotion budget
    /// ([`max_promotions_per_minute`](super::Auth0LogWebhookServiceBuilder::max_promotions_per_minute))
    /// is spent: then the answer is 503 and the stream delivers them again later.
    pub deferred: ClientList,
    /// Clients whose promotion failed in a way a redelivery can fix (429, 5xx, timeouts, the
    /// Management token, a missing Management API scope): then the answer is 503.
    pub failed: ClientList,
    /// How the batch's entries were sorted.
    pub entries: EntryCounts,
}
