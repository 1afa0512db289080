//! One batch's entries: sorted, deduplicated per client, promoted within the budget and the
//! concurrency bound, each result settled by its outcome class, completed entries remembered.

use std::collections::HashMap;
use std::sync::PoisonError;

use futures_util::StreamExt;

use super::Shared;
use crate::auth0::acknowledge::settle;
use crate::auth0::log_event::{DcrSignal, LogEntry, MalformedEntry, match_dcr};
use crate::auth0::summary::WebhookSummary;

impl Shared {
    pub(super) async fn process(
        &self,
        entries: Vec<Result<LogEntry, MalformedEntry>>,
    ) -> WebhookSummary {
        let mut summary = WebhookSummary::default();
        summary.entries.received = entries.len();
        tracing::info!(entries = entries.len(), "received log batch");
        let mut done: Vec<String> = Vec::new();
        // Distinct clients of the batch, in first-seen order, with the log_ids that named them
        // and the rule that first matched.
        let mut order: Vec<(String, DcrSignal)> = Vec::new();
        let mut by_client: HashMap<String, Vec<String>> = HashMap::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(bad) => {
                    tracing::warn!(
                        index = bad.index,
                        reason = bad.reason,
                        "skipping malformed log entry"
                    );
                    summary.entries.malformed += 1;
                    continue;
                }
            };
            if entry
                .log_id
                .as_deref()
                .is_some_and(|id| self.is_completed(id))
            {
                summary.entries.already_processed += 1;
                continue;
            }
            let Some(event) = match_dcr(&entry.data) else {
                summary.entries.ignored += 1;
                done.extend(entry.log_id);
                continue;
            };
            let Some((client_id, source)) = event.client else {
                tracing::warn!(log_id = ?entry.log_id, signal = ?event.signal,
                    "DCR log entry names no client id; skipped (no created-at lookup exists to find it)");
                summary.entries.dcr_without_client_id += 1;
                done.extend(entry.log_id);
                continue;
            };
            tracing::debug!(client_id = %client_id, signal = ?event.signal, source = ?source, "DCR event");
            let log_ids = by_client.entry(client_id.clone()).or_insert_with(|| {
                order.push((client_id, event.signal));
                Vec::new()
            });
            log_ids.extend(entry.log_id);
        }

        let order: Vec<(String, DcrSignal)> = {
            let mut budget = self.budget.lock().unwrap_or_else(PoisonError::into_inner);
            let (now, later): (Vec<_>, Vec<_>) = order.into_iter().partition(|_| budget.take());
            for (client_id, _) in later {
                summary.deferred.push(client_id);
            }
            now
        };
        if summary.deferred.count > 0 {
            tracing::warn!(
                deferred = summary.deferred.count,
                "promotion budget spent; these clients wait for the stream's redelivery"
            );
        }
        let promoter = &self.promoter;
        let mut results =
            futures_util::stream::iter(order.into_iter().map(|(client_id, signal)| {
                let log_ids = by_client.remove(&client_id).unwrap_or_default();
                async move {
                    let outcome = promoter.promote(&client_id, signal).await;
                    (client_id, log_ids, outcome)
                }
            }))
            .buffer_unordered(self.concurrency);
        while let Some((client_id, log_ids, outcome)) = results.next().await {
            crate::metrics::webhook_client(&outcome);
            if settle(&mut summary, &self.health, client_id, outcome) {
                done.extend(log_ids);
            }
        }
        self.complete(done);
        crate::metrics::webhook_batch(&summary);
        summary
    }

    fn is_completed(&self, log_id: &str) -> bool {
        self.completed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(log_id)
    }

    fn complete(&self, log_ids: Vec<String>) {
        let mut completed = self
            .completed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for id in log_ids {
            completed.insert(id);
        }
    }
}
