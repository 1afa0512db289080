//! The `params` of a JSON-RPC message, as far as authorization cares: `name` and `uri` (tools,
//! prompts, resources, skills), `ref.name` / `ref.uri` (`completion/complete`), and
//! `notifications.resourceSubscriptions` (`subscriptions/listen`, MCP 2026-07-28). Anything
//! else is skipped unbuilt; a value of another shape than expected names nothing (the server
//! refuses such params).

use std::borrow::Cow;

use crate::scope::json_read::{Malformed, Reader};
use crate::scope::jsonrpc::set_once;

/// `params` of one message.
#[derive(Default)]
pub(super) struct Params<'a> {
    pub(super) name: Option<Cow<'a, str>>,
    pub(super) uri: Option<Cow<'a, str>>,
    pub(super) ref_name: Option<Cow<'a, str>>,
    pub(super) ref_uri: Option<Cow<'a, str>>,
    pub(super) subscriptions: Vec<Cow<'a, str>>,
    pub(super) ambiguous: bool,
}

impl<'a> Params<'a> {
    /// Reads the value of `params`.
    pub(super) fn read(reader: &mut Reader<'a>) -> Result<Self, Malformed> {
        let mut params = Params::default();
        if reader.peek() != Some(b'{') {
            reader.other()?;
            return Ok(params);
        }
        let (mut seen_name, mut seen_uri) = (false, false);
        let (mut seen_ref, mut seen_notifications) = (false, false);
        reader.object(|reader, key| {
            let ambiguous = &mut params.ambiguous;
            match key.as_ref() {
                "name" => {
                    let value = reader.maybe_string()?;
                    set_once(&mut params.name, &mut seen_name, ambiguous, value);
                }
                "uri" => {
                    let value = reader.maybe_string()?;
                    set_once(&mut params.uri, &mut seen_uri, ambiguous, value);
                }
                "ref" => {
                    *ambiguous |= std::mem::replace(&mut seen_ref, true);
                    let reference = Reference::read(reader)?;
                    params.ref_name = reference.name;
                    params.ref_uri = reference.uri;
                    *ambiguous |= reference.ambiguous;
                }
                "notifications" => {
                    *ambiguous |= std::mem::replace(&mut seen_notifications, true);
                    let filter = Filter::read(reader)?;
                    params.subscriptions = filter.subscriptions;
                    *ambiguous |= filter.ambiguous;
                }
                _ => reader.skip()?,
            }
            Ok(())
        })?;
        Ok(params)
    }
}

/// `params.ref` of `completion/complete`: `{"type": "ref/prompt", "name"}` or
/// `{"type": "ref/resource", "uri"}`. Both members are kept whatever `type` says: the guard
/// checks every name the server might resolve.
#[derive(Default)]
struct Reference<'a> {
    name: Option<Cow<'a, str>>,
    uri: Option<Cow<'a, str>>,
    ambiguous: bool,
}

impl<'a> Reference<'a> {
    fn read(reader: &mut Reader<'a>) -> Result<Self, Malformed> {
        let mut reference = Reference::default();
        if reader.peek() != Some(b'{') {
            reader.other()?;
            return Ok(reference);
        }
        let (mut seen_name, mut seen_uri) = (false, false);
        reader.object(|reader, key| {
            let ambiguous = &mut reference.ambiguous;
            match key.as_ref() {
                "name" => {
                    let value = reader.maybe_string()?;
                    set_once(&mut reference.name, &mut seen_name, ambiguous, value);
                }
                "uri" => {
                    let value = reader.maybe_string()?;
                    set_once(&mut reference.uri, &mut seen_uri, ambiguous, value);
                }
                _ => reader.skip()?,
            }
            Ok(())
        })?;
        Ok(reference)
    }
}

/// `params.notifications` of `subscriptions/listen`: the resource URIs of
/// `resourceSubscriptions` (string elements; others name nothing).
#[derive(Default)]
struct Filter<'a> {
    subscriptions: Vec<Cow<'a, str>>,
    ambiguous: bool,
}

impl<'a> Filter<'a> {
    fn read(reader: &mut Reader<'a>) -> Result<Self, Malformed> {
        let mut filter = Filter::default();
        if reader.peek() != Some(b'{') {
            reader.other()?;
            return Ok(filter);
        }
        let mut seen = false;
        reader.object(|reader, key| {
            if key != "resourceSubscriptions" {
                return reader.skip();
            }
            filter.ambiguous |= std::mem::replace(&mut seen, true);
            filter.subscriptions = uri_list(reader)?;
            Ok(())
        })?;
        Ok(filter)
    }
}

/// The strings of a JSON array; nothing from any other value.
fn uri_list<'a>(reader: &mut Reader<'a>) -> Result<Vec<Cow<'a, str>>, Malformed> {
    let mut uris = Vec::new();
    if reader.peek() != Some(b'[') {
        reader.other()?;
        return Ok(uris);
    }
    reader.array(|reader| {
        uris.extend(reader.maybe_string()?);
        Ok(())
    })?;
    Ok(uris)
}
