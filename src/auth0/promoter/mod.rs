//! [`DcrPromoter`]: makes one client that ChatGPT registered work with the protected API —
//! writing only what Auth0 allows for that kind of client — idempotently.
//!
//! For one `client_id`:
//!
//! 1. read the client (`GET /api/v2/clients/{id}`); a client that no longer exists is skipped;
//! 2. act only on a client that a registration made ([`made_by_registration`]: Auth0's
//!    `external_metadata_type`, else the log event), **every one of whose callbacks is on the
//!    [`CallbackAllowList`]** (default: ChatGPT's documented redirect URIs) and, when a
//!    [`NameFilter`] is set, whose name passes it; never touch a first-party client that does
//!    not carry this promoter's marker (a hand-made application). A client with a foreign
//!    callback is logged at WARN as a possible attack;
//! 3. then, by [`ClientPopulation`]:
//!    - **strict and CIMD** (every DCR client since April 2026), and **permissive** unless
//!      [`DcrPromoterBuilder::promote_permissive`] is on: no client PATCH (ownership and security
//!      mode are immutable) and no per-client connection (third-party apps log in only through
//!      domain-level connections). Ensure a `subject_type: "user"` grant for the audience with
//!      every scope, unless the tenant's default third-party user grant already holds them;
//!    - **legacy** (no security mode): the seeds' promotion — PATCH only the
//!      [`PromotionTarget`] fields that differ (`is_first_party: true` only with
//!      [`DcrPromoterBuilder::promote_first_party`]) plus the marker
//!      `client_metadata.tower_mcp_auth` = `dcr-promoted`; enable the connections per client
//!      once it is first-party; ensure the user grant;
//! 4. a third-party client whose configured connection is not domain-level cannot log in
//!    whatever is written for it: that is [`PromotionOutcome::LoginBlocked`], logged at WARN
//!    with the fix.
//!
//! **"Already promoted"** means every write above already holds: then only reads are sent, and
//! the outcome is [`PromotionOutcome::AlreadyPromoted`].
//!
//! ```no_run
//! use tower_mcp_auth::ClientSecret;
//! use tower_mcp_auth::auth0::{DcrPromoter, DcrSignal, ManagementClient};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mgmt = ManagementClient::builder("dev-xxxxxx.us.auth0.com")
//!     .client_credentials("M2M_ID", ClientSecret::new("M2M_SECRET"))
//!     .build()?;
//! let promoter = DcrPromoter::builder(mgmt, "https://api.example.com", ["tools:read", "tools:write"])
//!     .connections(["google-oauth2"])
//!     .build();
//! let outcome = promoter.promote("tpc_new_dcr_client_id", DcrSignal::SapiDescription).await?;
//! println!("{outcome:?}");
//! # Ok(()) }
//! ```

mod grant;
mod legacy;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Mutex;

use super::callbacks::CallbackAllowList;
use super::log_event::DcrSignal;
use super::management::{Client, ManagementClient, ManagementError};
use super::population::{ClientPopulation, made_by_registration};
use super::promotion::{
    LoginBlocked, NameFilter, PROMOTED_MARKER_KEY, PROMOTED_MARKER_VALUE, PromotionChanges,
    PromotionOutcome, PromotionTarget, SkipReason,
};

/// Promotes registered clients; see the [module docs](self). Cheap to clone.
#[derive(Clone, Debug)]
pub struct DcrPromoter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    mgmt: ManagementClient,
    audience: String,
    scopes: Vec<String>,
    connections: Vec<String>,
    target: PromotionTarget,
    filter: Option<NameFilter>,
    callbacks: CallbackAllowList,
    permissive_as_legacy: bool,
    // Connection ids by name: looked up once, they never change for a name.
    connection_ids: Mutex<HashMap<String, String>>,
}

/// Configures a [`DcrPromoter`].
#[derive(Debug)]
pub struct DcrPromoterBuilder {
    mgmt: ManagementClient,
    audience: String,
    scopes: Vec<String>,
    connections: Vec<String>,
    target: PromotionTarget,
    filter: Option<NameFilter>,
    callbacks: CallbackAllowList,
    permissive_as_legacy: bool,
}

impl DcrPromoterBuilder {
    /// The login connections (`GOOGLE_CONNECTION_NAME`); default none. A third-party client
    /// can log in only through a domain-level one, which the promoter checks; a legacy client
    /// made first-party is enabled on each.
    pub fn connections(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.connections = names.into_iter().map(Into::into).collect();
        self
    }

    /// The settings a legacy client gets (default [`PromotionTarget::default`]).
    pub fn target(mut self, target: PromotionTarget) -> Self {
        self.target = target;
        self
    }

    /// Makes legacy clients first-party (`is_first_party: true`, the seeds' promotion; off by
    /// default). A first-party client skips the consent screen: with open DCR that is only as
    /// safe as the callback allow-list. Strict and CIMD clients are never made first-party
    /// (Auth0 refuses it).
    pub fn promote_first_party(mut self, on: bool) -> Self {
        self.target.is_first_party = on.then_some(true);
        self
    }

    /// Gives permissive DCR clients the legacy promotion (client PATCH, per-client connection)
    /// instead of the strict one; off by default.
    pub fn promote_permissive(mut self, on: bool) -> Self {
        self.permissive_as_legacy = on;
        self
    }

    /// The callbacks a client may have (default [`CallbackAllowList::chatgpt`]).
    pub fn callbacks(mut self, callbacks: CallbackAllowList) -> Self {
        self.callbacks = callbacks;
        self
    }

    /// An extra condition on the client's name (default none).
    pub fn name_filter(mut self, filter: NameFilter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Builds the promoter.
    pub fn build(self) -> DcrPromoter {
        DcrPromoter {
            inner: Arc::new(Inner {
                mgmt: self.mgmt,
                audience: self.audience,
                scopes: self.scopes,
                connections: self.connections,
                target: self.target,
                filter: self.filter,
                callbacks: self.callbacks,
                permissive_as_legacy: self.permissive_as_legacy,
                connection_ids: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl DcrPromoter {
    /// A promoter granting `scopes` on the API `audience` (`OAUTH_AUDIENCE`). Pass the scope
    /// policy's complete list, e.g. `ScopePolicy::all_scopes()`.
    pub fn builder(
        mgmt: ManagementClient,
        audience: impl Into<String>,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> DcrPromoterBuilder {
        let mut list: Vec<String> = Vec::new();
        for scope in scopes {
            let scope = scope.into();
            if !scope.is_empty() && !list.contains(&scope) {
                list.push(scope);
            }
        }
        DcrPromoterBuilder {
            mgmt,
            audience: audience.into(),
            scopes: list,
            connections: Vec::new(),
            target: PromotionTarget::default(),
            filter: None,
            callbacks: CallbackAllowList::default(),
            permissive_as_legacy: false,
        }
    }

    /// The API audience grants are made for.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// The scopes every grant must hold.
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// Promotes one client named by a log event matched as `signal`; see the
    /// [module docs](self) for the steps.
    pub async fn promote(
        &self,
        client_id: &str,
        signal: DcrSignal,
    ) -> Result<PromotionOutcome, ManagementError> {
        let inner = &self.inner;
        let client = match inner.mgmt.get_client(client_id).await {
            Ok(c) => c,
            Err(e) if e.is_not_found() => return Ok(self.skip(client_id, SkipReason::NotFound)),
            Err(e) => return Err(e),
        };
        if client.client_id != client_id {
            // `Client` fields all have defaults, so `{}` or `[]` decode; an answer that does not
            // name the client asked for is no answer (it would read as a nameless client and be
            // skipped for good).
            return Err(ManagementError::Inconsistent {
                operation: "get_client",
                detail: format!(
                    "asked for client {client_id:?}, the answer names {:?}",
                    client.client_id
                ),
            });
        }
        if let Some(reason) = self.refusal(&client, signal) {
            return Ok(self.skip(client_id, reason));
        }
        let population = ClientPopulation::of(&client);
        let legacy = population == ClientPopulation::Legacy
            || (population == ClientPopulation::Permissive && inner.permissive_as_legacy);

        let mut changes = PromotionChanges::default();
        let result = if legacy {
            self.promote_legacy(&client, &mut changes).await
        } else {
            self.promote_third_party(&client, &mut changes).await
        };
        let blocked = match result {
            Ok(blocked) => blocked,
            Err(error) => {
                // Steps already done stay done (each is idempotent, a redelivery redoes the
                // rest): say which, so a half-promoted client is never a silent state.
                if changes != PromotionChanges::default() {
                    tracing::warn!(client_id, changes = ?changes, error = %error,
                        "client partially promoted; a redelivery of the batch finishes it");
                }
                return Err(error);
            }
        };
        if !blocked.is_empty() {
            tracing::warn!(
                client_id,
                population = population.name(),
                connections = ?blocked,
                "users cannot log in through this third-party client: the connection is not domain-level; \
                 promote it (Authentication → the connection → Settings → Advanced → Promote Connection to Domain Level, \
                 or PATCH /api/v2/connections/{{id}} {{\"is_domain_connection\": true}})"
            );
            return Ok(PromotionOutcome::LoginBlocked(LoginBlocked {
                changes,
                connections_not_domain_level: blocked,
            }));
        }
        if changes == PromotionChanges::default() {
            tracing::debug!(client_id, "client already promoted");
            return Ok(PromotionOutcome::AlreadyPromoted);
        }
        tracing::info!(
            client_id,
            population = population.name(),
            audience = %inner.audience,
            scopes = ?inner.scopes,
            changes = ?changes,
            "client promoted"
        );
        Ok(PromotionOutcome::Promoted(changes))
    }

    /// Why this client must not be touched, if it must not.
    fn refusal(&self, client: &Client, signal: DcrSignal) -> Option<SkipReason> {
        let population = ClientPopulation::of(client);
        if let ClientPopulation::Unknown(mode) = &population {
            return Some(SkipReason::UnknownSecurityMode { mode: mode.clone() });
        }
        if !made_by_registration(client, signal) {
            return Some(SkipReason::NotRegistered {
                population: population.name().to_owned(),
            });
        }
        if !self.inner.callbacks.allows_all(&client.callbacks) {
            tracing::warn!(
                client_id = %client.client_id,
                client_name = %client.name,
                callbacks = ?client.callbacks,
                "possible attack: a registered client has a callback outside the allow-list; nothing written"
            );
            return Some(SkipReason::CallbacksNotAllowed {
                callbacks: client.callbacks.clone(),
            });
        }
        if let Some(filter) = &self.inner.filter
            && !filter.matches(&client.name)
        {
            return Some(SkipReason::NameNotMatched {
                name: client.name.clone(),
            });
        }
        if client.is_first_party == Some(true) && !has_marker(client) {
            return Some(SkipReason::HandMadeFirstParty);
        }
        None
    }

    /// Strict, CIMD and (by default) permissive clients: only the user grant is written.
    /// Returns the configured connections that are not domain-level.
    async fn promote_third_party(
        &self,
        client: &Client,
        changes: &mut PromotionChanges,
    ) -> Result<Vec<String>, ManagementError> {
        let blocked = self.connections_not_domain_level().await?;
        self.ensure_grant(&client.client_id, true, changes).await?;
        Ok(blocked)
    }

    /// The configured connections a third-party client cannot log in through.
    async fn connections_not_domain_level(&self) -> Result<Vec<String>, ManagementError> {
        let mut blocked = Vec::new();
        for name in &self.inner.connections {
            let connection = self
                .inner
                .mgmt
                .find_connection(name)
                .await?
                .ok_or_else(|| ManagementError::ConnectionNotFound {
                    name: name.to_owned(),
                })?;
            if !connection.is_domain_connection {
                blocked.push(name.clone());
            }
        }
        Ok(blocked)
    }

    fn skip(&self, client_id: &str, reason: SkipReason) -> PromotionOutcome {
        tracing::info!(client_id, reason = %reason, "skipped client");
        PromotionOutcome::Skipped(reason)
    }
}

fn has_marker(client: &Client) -> bool {
    client
        .client_metadata
        .get(PROMOTED_MARKER_KEY)
        .and_then(Value::as_str)
        == Some(PROMOTED_MARKER_VALUE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientSecret;

    #[test]
    fn builder_dedupes_scopes_and_drops_empty_ones() {
        let mgmt = ManagementClient::builder("t.example.com")
            .client_credentials("id", ClientSecret::new("s"))
            .build()
            .expect("valid");
        let promoter = DcrPromoter::builder(mgmt, "https://api", ["a", "b", "a", ""]).build();
        assert_eq!(promoter.scopes(), ["a", "b"]);
        assert_eq!(promoter.audience(), "https://api");
    }

    #[test]
    fn first_party_is_opt_in() {
        let mgmt = ManagementClient::builder("t.example.com")
            .client_credentials("id", ClientSecret::new("s"))
            .build()
            .expect("valid");
        let promoter = DcrPromoter::builder(mgmt.clone(), "https://api", ["a"]).build();
        assert_eq!(promoter.inner.target.is_first_party, None);
        let opted = DcrPromoter::builder(mgmt, "https://api", ["a"])
            .promote_first_party(true)
            .build();
        assert_eq!(opted.inner.target.is_first_party, Some(true));
    }
}
