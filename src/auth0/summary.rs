//! The webhook's answer body: what happened to each client and entry of a batch.

use serde::{Deserialize, Serialize};

/// The count and ids of the clients in one outcome class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct WebhookSummary {
    /// Clients this batch changed.
    pub promoted: ClientList,
    /// Clients that needed no change.
    pub already_promoted: ClientList,
    /// Clients left alone (name filter, hand-made app, deleted).
    pub skipped: ClientList,
    /// Clients whose promotion failed after retries (then the answer is 503).
    pub failed: ClientList,
    /// How the batch's entries were sorted.
    pub entries: EntryCounts,
}
