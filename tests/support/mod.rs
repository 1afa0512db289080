//! What the integration tests share: fakes of the systems the library talks to (an issuer, an
//! introspection endpoint, Auth0), apps with the layers mounted, signers, a log capture, the
//! forbidden-call suite and the gateway process. Each `tests/*.rs` file declares `mod support;`
//! and uses the parts it needs.
//!
//! Every test file is its own crate, so each compiles the whole of this module and uses only a
//! part of it: what one binary leaves unused is not dead code, hence the allowances below, here
//! once instead of in every file.
#![allow(dead_code, unused_imports)]

pub mod closed_port;
// The fake Auth0 models the Management API through the library's `auth0` types.
#[cfg(feature = "auth0")]
pub mod fake_auth0;
pub mod forbidden_call;
pub mod gateway;
pub mod introspection_server;
pub mod issuer_server;
pub mod log_capture;
#[cfg(feature = "auth0")]
pub mod log_webhook;
pub mod mcp;
pub mod protected_app;
pub mod scoped_app;
pub mod signers;
