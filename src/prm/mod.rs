//! RFC 9728 protected resource metadata: [`ProtectedResourceMetadata`] and [`PrmRoute`], which
//! serves it at the well-known URLs that every 401 and 403 of the auth layers points to.
//!
//! - [`metadata_url`] derives the metadata URL from the resource identifier (RFC 9728 §3.1);
//! - [`PrmRoute::challenge`] gives the [`Challenge`](crate::Challenge) naming that URL, so the
//!   `resource_metadata` of the challenges and the route always agree.

mod as_mirror;
mod metadata;
mod route;

pub use as_mirror::AUTHORIZATION_SERVER_PATH;
pub use metadata::{PrmError, ProtectedResourceMetadata, WELL_KNOWN_PATH, metadata_url};
pub use route::{DEFAULT_MAX_AGE, NotFound, PrmRoute, ResponseFuture};
