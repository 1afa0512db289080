//! [`ToolsListBody`]: the response body of [`ToolsListFilter`](crate::scope::ToolsListFilter),
//! trimming the one `tools/list` result in it.
//!
//! - JSON: the body is read whole (it is the `tools/list` page, bounded by
//!   [`MAX_PAGE_BYTES`]), trimmed and sent as one frame.
//! - SSE: events are sent on as soon as each is complete; the first event that is the result
//!   for the request's `id` is trimmed, after which bytes pass through as they arrive.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use serde_json::Value;

use crate::scope::ScopePolicy;
use crate::token::AccessToken;

/// A `tools/list` page larger than this is passed on unfiltered: 8 MiB.
pub const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;

/// Who asks, and for which request.
#[derive(Debug, Clone)]
pub(crate) struct Visibility {
    pub(crate) policy: Arc<ScopePolicy>,
    /// `None`: a caller without a token.
    pub(crate) token: Option<AccessToken>,
    pub(crate) id: Value,
    /// Hide the tools the caller cannot call.
    pub(crate) trim: bool,
    /// Set each tool's `securitySchemes` from the policy.
    pub(crate) annotate: bool,
}

impl Visibility {
    fn may_call(&self, tool: &str) -> bool {
        match &self.token {
            Some(token) => self.policy.check_tool(token, tool).is_ok(),
            None => self.policy.is_public_tool(tool),
        }
    }

    /// Trims `message` if it is the result for this request; `None` when it is not that
    /// result (or not JSON-RPC at all).
    fn trim(&self, message: &[u8]) -> Option<Vec<u8>> {
        let mut message: Value = serde_json::from_slice(message).ok()?;
        if message.get("id") != Some(&self.id) {
            return None;
        }
        let result = message.get_mut("result")?.as_object_mut()?;
        let tools = result.get_mut("tools")?.as_array_mut()?;
        let before = tools.len();
        if self.trim {
            tools.retain(|tool| {
                // A descriptor without a name is not ours to judge: it stays.
                tool.get("name")
                    .and_then(Value::as_str)
                    .is_none_or(|name| self.may_call(name))
            });
        }
        if self.annotate {
            for tool in tools.iter_mut().filter_map(Value::as_object_mut) {
                self.policy.annotate_tool(tool);
            }
        }
        let hidden = before - tools.len();
        // A trimmed list differs per caller: no shared cache may keep it (MCP 2026-07-28).
        if self.trim && result.contains_key("cacheScope") {
            result.insert("cacheScope".to_owned(), "private".into());
        }
        tracing::debug!(
            hidden,
            shown = before - hidden,
            "tools/list trimmed to the caller"
        );
        serde_json::to_vec(&message).ok()
    }
}

/// How the `tools/list` response is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Json,
    Sse,
}

enum Mode {
    Pass,
    Json { visibility: Visibility },
    Sse { visibility: Visibility },
}

pin_project! {
    /// The inner response body, passed through, or the `tools/list` response being trimmed.
    pub struct ToolsListBody<B> {
        #[pin]
        inner: B,
        mode: Mode,
        buffer: BytesMut,
        // A trailers frame that arrived while data was held: sent after that data.
        trailers: Option<Frame<Bytes>>,
        ended: bool,
    }
}

impl<B> ToolsListBody<B> {
    pub(crate) fn pass(inner: B) -> Self {
        Self {
            inner,
            mode: Mode::Pass,
            buffer: BytesMut::new(),
            trailers: None,
            ended: false,
        }
    }

    pub(crate) fn filter(inner: B, framing: Framing, visibility: Visibility) -> Self {
        let mode = match framing {
            Framing::Json => Mode::Json { visibility },
            Framing::Sse => Mode::Sse { visibility },
        };
        Self {
            inner,
            mode,
            buffer: BytesMut::new(),
            trailers: None,
            ended: false,
        }
    }
}

impl<B> std::fmt::Debug for ToolsListBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.mode {
            Mode::Pass => "pass",
            Mode::Json { .. } => "json",
            Mode::Sse { .. } => "sse",
        };
        f.debug_struct("ToolsListBody")
            .field("mode", &mode)
            .finish()
    }
}

/// The end of the first complete SSE event in `buf` (just after its blank line): lines end in
/// `\r\n`, `\n` or `\r` (WHATWG HTML, "Server-sent events", parsing).
fn event_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = true;
    let mut i = 0;
    while i < buf.len() {
        let eol = match buf[i] {
            b'\r' if buf.get(i + 1) == Some(&b'\n') => 2,
            b'\r' if i + 1 == buf.len() => return None, // a `\n` may follow
            b'\r' | b'\n' => 1,
            _ => 0,
        };
        if eol == 0 {
            line_start = false;
            i += 1;
            continue;
        }
        i += eol;
        if line_start {
            return Some(i);
        }
        line_start = true;
    }
    None
}

/// The event, trimmed if its data is the `tools/list` result: its `data` lines replaced by
/// one line with the trimmed JSON, every other line kept.
fn trim_event(event: &[u8], visibility: &Visibility) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(event).ok()?;
    let lines: Vec<&str> = text
        .split_terminator(['\n'])
        .map(|l| l.trim_end_matches('\r'))
        .collect();
    let mut data = String::new();
    let mut has_data = false;
    for line in &lines {
        if let Some(value) = line.strip_prefix("data")
            && let Some(value) = value.strip_prefix(':').or(value.is_empty().then_some(""))
        {
            if has_data {
                data.push('\n');
            }
            data.push_str(value.strip_prefix(' ').unwrap_or(value));
            has_data = true;
        }
    }
    if !has_data {
        return None;
    }
    let trimmed = visibility.trim(data.as_bytes())?;
    let mut out = Vec::with_capacity(trimmed.len() + 64);
    let mut written = false;
    for line in lines.iter().filter(|line| !line.is_empty()) {
        if line.starts_with("data") && (line.len() == 4 || line.as_bytes()[4] == b':') {
            if !written {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(&trimmed);
                out.push(b'\n');
                written = true;
            }
        } else {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    out.push(b'\n');
    Some(out)
}

impl<B> Body for ToolsListBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let mut this = self.project();
        loop {
            if *this.ended {
                return Poll::Ready(None);
            }
            if let Mode::Pass = this.mode {
                if !this.buffer.is_empty() {
                    return Poll::Ready(Some(Ok(Frame::data(this.buffer.split().freeze()))));
                }
                if let Some(trailers) = this.trailers.take() {
                    return Poll::Ready(Some(Ok(trailers)));
                }
                return this.inner.as_mut().poll_frame(cx);
            }
            let frame = match this.inner.as_mut().poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(frame) => frame,
            };
            match frame {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.buffer.extend_from_slice(&data),
                    // Trailers: whatever is held goes first, then everything passes through.
                    Err(frame) => {
                        if !this.buffer.is_empty() {
                            tracing::warn!("tools/list response has trailers; passed unfiltered");
                        }
                        *this.mode = Mode::Pass;
                        *this.trailers = Some(frame);
                        continue;
                    }
                },
                Some(Err(error)) => {
                    *this.mode = Mode::Pass;
                    return Poll::Ready(Some(Err(error)));
                }
                None => {
                    *this.ended = true;
                    let held = this.buffer.split().freeze();
                    let out = match &*this.mode {
                        Mode::Json { visibility } => visibility.trim(&held).map(Bytes::from).unwrap_or_else(|| {
                            tracing::warn!("tools/list response is not a JSON-RPC result with tools; passed unfiltered");
                            held
                        }),
                        _ => held,
                    };
                    return Poll::Ready((!out.is_empty()).then(|| Ok(Frame::data(out))));
                }
            }
            match &*this.mode {
                Mode::Json { .. } if this.buffer.len() > MAX_PAGE_BYTES => {
                    tracing::warn!(
                        limit = MAX_PAGE_BYTES,
                        "tools/list page too large to filter; passed unfiltered"
                    );
                    *this.mode = Mode::Pass;
                }
                Mode::Sse { visibility } => {
                    let mut out = BytesMut::new();
                    let mut found = false;
                    while let Some(end) = event_end(this.buffer) {
                        let event = this.buffer.split_to(end);
                        match trim_event(&event, visibility) {
                            Some(trimmed) => {
                                out.extend_from_slice(&trimmed);
                                found = true;
                                break;
                            }
                            None => out.extend_from_slice(&event),
                        }
                    }
                    if found {
                        // The rest of the stream passes through untouched.
                        out.extend_from_slice(&this.buffer.split());
                        *this.mode = Mode::Pass;
                    } else if this.buffer.len() > MAX_PAGE_BYTES {
                        tracing::warn!(
                            limit = MAX_PAGE_BYTES,
                            "SSE event too large to filter; passed unfiltered"
                        );
                        out.extend_from_slice(&this.buffer.split());
                        *this.mode = Mode::Pass;
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(out.freeze()))));
                    }
                }
                _ => {}
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
            || (matches!(self.mode, Mode::Pass)
                && self.buffer.is_empty()
                && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        match self.mode {
            Mode::Pass if self.buffer.is_empty() => self.inner.size_hint(),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_ends_after_a_blank_line_whatever_the_line_endings() {
        assert_eq!(event_end(b"data: x\n\nrest"), Some(9));
        assert_eq!(event_end(b"data: x\r\n\r\nrest"), Some(11));
        assert_eq!(event_end(b"data: x\r\rrest"), Some(9));
        assert_eq!(event_end(b"data: x\n"), None);
        assert_eq!(event_end(b"data: x\r\n\r"), None);
    }

    fn visibility() -> Visibility {
        let policy = ScopePolicy::builder()
            .tool("search", ["docs:read"])
            .tool("admin", ["admin"])
            .public_tool("echo")
            .build()
            .unwrap();
        Visibility {
            policy: Arc::new(policy),
            token: None,
            id: json!(2),
            trim: true,
            annotate: false,
        }
    }

    #[test]
    fn an_sse_result_event_keeps_its_other_lines() {
        let result = json!({"jsonrpc": "2.0", "id": 2, "result": {"tools": [
            {"name": "search"}, {"name": "echo"}, {"name": "admin"}
        ]}});
        let event = format!("event: message\ndata: {result}\nid: 7\n\n");
        let trimmed =
            String::from_utf8(trim_event(event.as_bytes(), &visibility()).unwrap()).unwrap();
        let lines: Vec<&str> = trimmed.split('\n').collect();
        assert_eq!(lines.len(), 5, "{trimmed}");
        assert_eq!(
            (lines[0], lines[2], lines[3], lines[4]),
            ("event: message", "id: 7", "", "")
        );
        let data: Value = serde_json::from_str(lines[1].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(
            data,
            json!({"jsonrpc": "2.0", "id": 2, "result": {"tools": [{"name": "echo"}]}})
        );
        // Another request's message, a priming event, a non-JSON event: not this result.
        let other = format!(
            "data: {}\n\n",
            json!({"jsonrpc": "2.0", "id": 3, "result": {"tools": []}})
        );
        assert!(trim_event(other.as_bytes(), &visibility()).is_none());
        assert!(trim_event(b"data:\nid: 0\nretry: 3000\n\n", &visibility()).is_none());
        assert!(trim_event(b"data: {not json\n\n", &visibility()).is_none());
    }
}
