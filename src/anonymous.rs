//! [`Anonymous`]: the mark of a request that came without credentials through an optional
//! [`BearerAuthLayer`](crate::BearerAuthLayer).

/// Put in a request's extensions by [`BearerAuthLayer::optional`](crate::BearerAuthLayer::optional)
/// when the request carries no credentials at all (a request with a credential that fails
/// verification is refused as always). The [`ScopeGuardLayer`](crate::ScopeGuardLayer) then
/// lets only public operations through; a handler can tell the caller is anonymous.
///
/// Without this mark and without an [`AccessToken`](crate::AccessToken), the guard answers 500
/// `SERVER_MISCONFIGURED`: the layers are assembled wrongly, and no request passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Anonymous;
