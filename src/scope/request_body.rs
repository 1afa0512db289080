//! [`GuardedBody`]: the request body the service behind the scope guard receives.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The request body behind [`ScopeGuard`](crate::scope::ScopeGuard): the original body,
    /// untouched, when the guard did not need to read it, or the exact bytes it read (a JSON-RPC
    /// `POST`), handed on without a copy.
    ///
    /// axum's `Router`, tonic's servers, rmcp's `StreamableHttpService` and hyper services accept
    /// any request body with `Bytes` data, so this type composes with `Router::layer` and
    /// `tower::ServiceBuilder` without a conversion.
    pub struct GuardedBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Original { #[pin] body: B },
        Buffered { data: Option<Bytes> },
    }
}

impl<B> GuardedBody<B> {
    /// The original body, not read by the guard.
    pub fn original(body: B) -> Self {
        Self {
            kind: Kind::Original { body },
        }
    }

    /// A body the guard has read completely.
    pub fn buffered(data: Bytes) -> Self {
        Self {
            kind: Kind::Buffered {
                data: (!data.is_empty()).then_some(data),
            },
        }
    }
}

impl<B> std::fmt::Debug for GuardedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Original { .. } => f.write_str("GuardedBody::Original"),
            Kind::Buffered { data } => f
                .debug_struct("GuardedBody::Buffered")
                .field("len", &data.as_ref().map_or(0, Bytes::len))
                .finish(),
        }
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Original { body } => body.poll_frame(cx),
            KindProj::Buffered { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Original { body } => body.is_end_stream(),
            Kind::Buffered { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Original { body } => body.size_hint(),
            Kind::Buffered { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}
