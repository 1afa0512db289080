//! axum extractor for [`AccessToken`] (feature `axum`).
//!
//! ```
//! use axum::{Router, routing::get};
//! use tower_mcp_auth::AccessToken;
//!
//! async fn me(token: AccessToken) -> String {
//!     format!("{} with {:?}", token.subject(), token.scopes())
//! }
//!
//! async fn maybe(token: Option<AccessToken>) -> &'static str {
//!     if token.is_some() { "signed in" } else { "anonymous" }
//! }
//!
//! // Put `BearerAuthLayer` on these routes; without it, `AccessToken` answers 500.
//! let app: Router = Router::new().route("/me", get(me)).route("/maybe", get(maybe));
//! ```

use std::convert::Infallible;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::challenge::{AuthError, Challenge, ErrorCode};
use crate::token::AccessToken;

impl<S: Send + Sync> FromRequestParts<S> for AccessToken {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AccessToken>()
            .cloned()
            .ok_or_else(|| {
                // The handler expects a verified token and the route has no bearer layer: a
                // deployment mistake, never something to answer as the client's fault.
                tracing::error!(
                    path = parts.uri.path(),
                    "AccessToken extractor used on a route without BearerAuthLayer"
                );
                AuthError::new(
                    ErrorCode::Misconfigured,
                    "This route is not protected as its handler expects",
                )
            })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AccessToken {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<AccessToken>().cloned())
    }
}

/// Renders the error with an empty [`Challenge`] (no `resource_metadata`); layers render their own
/// refusals with their configured challenge.
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let response = Challenge::new().response::<Infallible>(&self, &http::HeaderMap::new());
        response.map(|body| {
            axum_core::body::Body::new(body.cast::<http_body_util::Empty<bytes::Bytes>>())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    #[tokio::test]
    async fn missing_token_extension_is_a_500_misconfiguration() {
        let (mut parts, ()) = Request::new(()).into_parts();
        let error = <AccessToken as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::Misconfigured);
        let response = error.into_response();
        assert_eq!(response.status(), 500);
        let optional =
            <AccessToken as OptionalFromRequestParts<()>>::from_request_parts(&mut parts, &())
                .await
                .unwrap();
        assert!(optional.is_none());
    }

    #[tokio::test]
    async fn present_token_is_extracted() {
        let token = AccessToken::from_claims(serde_json::json!({
            "iss": "i", "sub": "me", "aud": "a", "exp": 1
        }))
        .unwrap();
        let mut request = Request::new(());
        request.extensions_mut().insert(token);
        let (mut parts, ()) = request.into_parts();
        let got = <AccessToken as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert_eq!(got.subject(), "me");
    }
}
