//! [`LayerBody`]: the one body type the layers hand on, in both directions.
//!
//! - Responses ([`ResponseBody`]): the inner service's body, or an answer the layer wrote. Error
//!   answers carry a JSON body, which a body type that only implements `Default` cannot hold, so
//!   the layers map the inner body into this type (as tower-http's compression and timeout layers
//!   do).
//! - Requests behind the scope guard ([`GuardedBody`](crate::scope::GuardedBody)): the original
//!   body when the guard did not read it, or the exact bytes it read, without a copy.
//!
//! It is an `http_body::Body` with `Data = Bytes` whenever the wrapped body is, so it works under
//! axum, tonic and hyper alike (they all accept any such body).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// Either the body a layer wraps, passed through untouched, or complete bytes the layer holds
    /// (an answer it wrote, or a request body it has read).
    pub struct LayerBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        // The inner service's body, passed through untouched.
        Inner { #[pin] body: B },
        // A complete body (an error answer, a metadata document) written by a layer.
        Full { data: Option<Bytes> },
    }
}

/// The response body of every layer: the inner service's body or an answer the layer wrote.
pub type ResponseBody<B> = LayerBody<B>;

impl<B> LayerBody<B> {
    /// Wraps the inner service's body.
    pub fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    /// A complete body holding `data`.
    pub fn full(data: Bytes) -> Self {
        Self {
            kind: Kind::Full {
                data: (!data.is_empty()).then_some(data),
            },
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self {
            kind: Kind::Full { data: None },
        }
    }
}

impl LayerBody<std::convert::Infallible> {
    /// A body written by a layer, as the body type of any inner service.
    pub(crate) fn cast<B>(self) -> LayerBody<B> {
        match self.kind {
            Kind::Full { data } => LayerBody {
                kind: Kind::Full { data },
            },
            Kind::Inner { body } => match body {},
        }
    }
}

impl<B> std::fmt::Debug for LayerBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("LayerBody::Inner"),
            Kind::Full { data } => f
                .debug_struct("LayerBody::Full")
                .field("len", &data.as_ref().map_or(0, Bytes::len))
                .finish(),
        }
    }
}

impl<B> Default for LayerBody<B> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<B> Body for LayerBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Full { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn full_body_yields_its_bytes_once() {
        let body: ResponseBody<Full<Bytes>> = ResponseBody::full(Bytes::from_static(b"{}"));
        assert_eq!(body.size_hint().exact(), Some(2));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"{}");
    }

    #[tokio::test]
    async fn inner_body_passes_through() {
        let body = ResponseBody::inner(Full::new(Bytes::from_static(b"hello")));
        assert_eq!(&body.collect().await.unwrap().to_bytes()[..], b"hello");
    }
}
