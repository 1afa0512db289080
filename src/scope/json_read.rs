//! A strict RFC 8259 reader over a request body already checked to be UTF-8: the cursor the
//! JSON-RPC reading walks ([`jsonrpc`](super::jsonrpc)).
//!
//! It accepts exactly what `serde_json` 1.0 accepts where the guard used to read with it (its
//! `Deserializer::from_str`; the differential test in `jsonrpc` holds it to that), so the
//! guard's reading of a body did not change when this reader replaced it; what changed is the
//! cost of a long string. `serde_json` scans strings eight bytes at a time; here the end of a
//! string is found by `memchr` (SIMD) and its control bytes by one pass for the least byte,
//! which the compiler vectorizes: on the load run's 1 KiB `tools/call`, whose `arguments` are
//! one long string, that was most of the guard's reading.
//!
//! Two readings of a string, as in `serde_json`:
//! - [`Reader::string`], where a value or a key is read: unescaped, and an escape of a lone
//!   UTF-16 surrogate is refused (no `str` holds one);
//! - [`Reader::skip`], where a value is skipped: escapes are checked for form only (`\u` and four
//!   hex digits), as `serde_json`'s `IgnoredAny` does, so lone surrogates there are read.
//!
//! And two of a number: skipped numbers are only scanned (`1e400` is valid JSON), while one read
//! where a name is wanted ([`Reader::other`]) must be a finite `f64`, as `serde_json` requires of
//! a number it converts.

use std::borrow::Cow;

/// The body is not one RFC 8259 JSON value (or not one `serde_json` reads: a number beyond
/// `f64` where a name is wanted, a lone surrogate in a key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Malformed;

/// The reading position in a body.
pub(super) struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub(super) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte after whitespace (RFC 8259's four: a form feed is none), not consumed.
    pub(super) fn peek(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        while let Some(&byte) = bytes.get(self.pos) {
            if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(byte);
            }
            self.pos += 1;
        }
        None
    }

    /// Whether only whitespace is left.
    pub(super) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Consumes `byte` after whitespace, or fails.
    fn expect(&mut self, byte: u8) -> Result<(), Malformed> {
        if self.peek() != Some(byte) {
            return Err(Malformed);
        }
        self.pos += 1;
        Ok(())
    }

    /// Reads an object (the next value must be one): each member's key, unescaped, goes to
    /// `member`, which must read or skip the member's value.
    pub(super) fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Result<(), Malformed>,
    ) -> Result<(), Malformed> {
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(Malformed);
            }
            let key = self.string()?;
            self.expect(b':')?;
            member(self, key)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(Malformed),
            }
        }
    }

    /// Reads an array (the next value must be one): `element` must read or skip each element.
    pub(super) fn array(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<(), Malformed>,
    ) -> Result<(), Malformed> {
        self.expect(b'[')?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            element(self)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(Malformed),
            }
        }
    }

    /// Reads a string (the next value must be one), unescaped; borrowed when it has no escape.
    pub(super) fn string(&mut self) -> Result<Cow<'a, str>, Malformed> {
        self.expect(b'"')?;
        let start = self.pos;
        let stop = string_stop(self.bytes(), start);
        if self.bytes().get(stop) == Some(&b'"') {
            self.pos = stop + 1;
            return self
                .text
                .get(start..stop)
                .map(Cow::Borrowed)
                .ok_or(Malformed);
        }
        // An escape (or no end): find the end, then let `serde_json` unescape the string with
        // the checks it makes of a string it reads (surrogates paired).
        self.skip_string_rest()?;
        let quoted = self.text.get(start - 1..self.pos).ok_or(Malformed)?;
        serde_json::from_str::<String>(quoted)
            .map(Cow::Owned)
            .map_err(|_| Malformed)
    }

    /// Reads a string where one is wanted, `None` for any other value (read by
    /// [`Reader::other`]).
    pub(super) fn maybe_string(&mut self) -> Result<Option<Cow<'a, str>>, Malformed> {
        if self.peek() == Some(b'"') {
            self.string().map(Some)
        } else {
            self.other().map(|()| None)
        }
    }

    /// Reads a value of another shape than the one wanted, as `serde_json` reads a value it is
    /// asked to convert: an object's own keys unescaped, its values and an array's elements
    /// skipped, a string unescaped, a number converted to `f64` (refused beyond it).
    pub(super) fn other(&mut self) -> Result<(), Malformed> {
        match self.peek().ok_or(Malformed)? {
            b'{' => self.object(|reader, _| reader.skip()),
            b'[' => self.array(Self::skip),
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => {
                let start = self.pos;
                self.skip_number()?;
                let number = self.text.get(start..self.pos).ok_or(Malformed)?;
                serde_json::from_str::<f64>(number)
                    .map(drop)
                    .map_err(|_| Malformed)
            }
            _ => self.skip_literal(),
        }
    }

    /// Skips one value, checking that it is JSON, however deep (no recursion: the open
    /// containers are a stack of bits).
    pub(super) fn skip(&mut self) -> Result<(), Malformed> {
        let mut open = OpenContainers::default();
        loop {
            // A value: a scalar is skipped whole; a container is entered.
            match self.peek().ok_or(Malformed)? {
                b'{' => {
                    self.pos += 1;
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        open.push(true);
                        self.skip_key()?;
                        continue;
                    }
                }
                b'[' => {
                    self.pos += 1;
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        open.push(false);
                        continue;
                    }
                }
                b'"' => {
                    self.pos += 1;
                    self.skip_string_rest()?;
                }
                b'-' | b'0'..=b'9' => self.skip_number()?,
                _ => self.skip_literal()?,
            }
            // After a value: the containers it closes, then the next member or element.
            loop {
                let Some(in_object) = open.innermost() else {
                    return Ok(());
                };
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if in_object {
                            self.skip_key()?;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {
                        self.pos += 1;
                        open.pop();
                    }
                    Some(b']') if !in_object => {
                        self.pos += 1;
                        open.pop();
                    }
                    _ => return Err(Malformed),
                }
            }
        }
    }

    /// Skips a key of a skipped object and its colon.
    fn skip_key(&mut self) -> Result<(), Malformed> {
        self.expect(b'"')?;
        self.skip_string_rest()?;
        self.expect(b':')
    }

    /// Skips the rest of a string whose opening quote is consumed: escapes checked for form.
    fn skip_string_rest(&mut self) -> Result<(), Malformed> {
        let bytes = self.bytes();
        loop {
            self.pos = string_stop(bytes, self.pos);
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match bytes.get(self.pos) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1;
                        }
                        Some(b'u') => {
                            let hex = bytes.get(self.pos + 1..self.pos + 5).ok_or(Malformed)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Malformed);
                            }
                            self.pos += 5;
                        }
                        _ => return Err(Malformed),
                    }
                }
                // A control byte, or the body ends inside the string.
                _ => return Err(Malformed),
            }
        }
    }

    /// Skips a number: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)? ([eE] [+-]? [0-9]+)?
    fn skip_number(&mut self) -> Result<(), Malformed> {
        let bytes = self.bytes();
        let mut pos = self.pos;
        if bytes.get(pos) == Some(&b'-') {
            pos += 1;
        }
        match bytes.get(pos) {
            // One leading zero, and no digit after it.
            Some(b'0') => {
                pos += 1;
                if bytes.get(pos).is_some_and(u8::is_ascii_digit) {
                    return Err(Malformed);
                }
            }
            Some(b'1'..=b'9') => pos = digits_end(bytes, pos + 1),
            _ => return Err(Malformed),
        }
        if bytes.get(pos) == Some(&b'.') {
            let end = digits_end(bytes, pos + 1);
            if end == pos + 1 {
                return Err(Malformed);
            }
            pos = end;
        }
        if matches!(bytes.get(pos), Some(b'e' | b'E')) {
            pos += 1;
            if matches!(bytes.get(pos), Some(b'+' | b'-')) {
                pos += 1;
            }
            let end = digits_end(bytes, pos);
            if end == pos {
                return Err(Malformed);
            }
            pos = end;
        }
        self.pos = pos;
        Ok(())
    }

    /// Skips `true`, `false` or `null`.
    fn skip_literal(&mut self) -> Result<(), Malformed> {
        let rest = self.bytes().get(self.pos..).unwrap_or_default();
        let length = [&b"true"[..], b"false", b"null"]
            .into_iter()
            .find(|literal| rest.starts_with(literal))
            .ok_or(Malformed)?
            .len();
        self.pos += length;
        Ok(())
    }
}

/// The index of the first byte at or after `from` that ends a run of plain string bytes: a
/// quote, a backslash or a control byte (`bytes.len()` when there is none).
fn string_stop(bytes: &[u8], from: usize) -> usize {
    let rest = bytes.get(from..).unwrap_or_default();
    // Most keys and values are short: two words of eight bytes end them before `memchr` would
    // have started.
    let mut at = 0;
    while at < HEAD {
        let Some(word) = rest
            .get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
        else {
            // Fewer than eight bytes left in the body.
            let last = rest.get(at..).unwrap_or_default();
            let end = last.iter().position(|&byte| ends_plain_run(byte));
            return from + at + end.unwrap_or(last.len());
        };
        let stops = word_stops(u64::from_le_bytes(word));
        if stops != 0 {
            return from + at + (stops.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let tail = rest.get(HEAD..).unwrap_or_default();
    let end = memchr::memchr2(b'"', b'\\', tail).unwrap_or(tail.len());
    let run = &tail[..end];
    // The least byte in one pass (vectorized); only when it is a control byte, where it is.
    if run.iter().fold(u8::MAX, |least, &byte| least.min(byte)) < 0x20 {
        let at = run.iter().position(|&byte| byte < 0x20).unwrap_or(end);
        return from + HEAD + at;
    }
    from + HEAD + end
}

/// The bytes [`string_stop`] reads a word at a time before it hands the rest to `memchr`.
const HEAD: usize = 16;

fn ends_plain_run(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

/// The high bit of each byte of `word` (little-endian) that ends a run of plain string bytes;
/// the lowest one set is exact (a borrow only marks bytes above a real stop). Mycroft's
/// zero-byte test, as `serde_json` does it.
fn word_stops(word: u64) -> u64 {
    const ONES: u64 = u64::MAX / 255;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & (ONES << 7)
}

/// The index of the first non-digit at or after `from`.
fn digits_end(bytes: &[u8], from: usize) -> usize {
    let rest = bytes.get(from..).unwrap_or_default();
    from + rest
        .iter()
        .position(|byte| !byte.is_ascii_digit())
        .unwrap_or(rest.len())
}

/// The containers [`Reader::skip`] is inside, innermost last: one bit each, set for an object.
/// The first 64 levels need no allocation.
#[derive(Default)]
struct OpenContainers {
    depth: usize,
    first: u64,
    deeper: Vec<u64>,
}

impl OpenContainers {
    fn push(&mut self, object: bool) {
        let (word, bit) = (self.depth / 64, self.depth % 64);
        while self.deeper.len() < word {
            self.deeper.push(0);
        }
        let slot = match word.checked_sub(1) {
            None => &mut self.first,
            Some(index) => match self.deeper.get_mut(index) {
                Some(slot) => slot,
                None => return,
            },
        };
        if object {
            *slot |= 1 << bit;
        } else {
            *slot &= !(1 << bit);
        }
        self.depth += 1;
    }

    /// Whether the innermost open container is an object; `None` when none is open.
    fn innermost(&self) -> Option<bool> {
        let level = self.depth.checked_sub(1)?;
        let word = match (level / 64).checked_sub(1) {
            None => self.first,
            Some(index) => *self.deeper.get(index)?,
        };
        Some(word >> (level % 64) & 1 == 1)
    }

    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skips(text: &str) -> Result<usize, Malformed> {
        let mut reader = Reader::new(text);
        reader.skip()?;
        Ok(reader.pos)
    }

    #[test]
    fn skip_stops_after_one_value() {
        assert_eq!(skips(r#"{"a":[1,{"b":null}],"c":"d"} x"#), Ok(28));
        assert_eq!(skips("[] ,"), Ok(2));
        assert_eq!(skips("-0.5e+7,"), Ok(7));
        assert_eq!(skips("true1"), Ok(4));
    }

    #[test]
    fn deep_nesting_is_skipped_without_recursion() {
        for depth in [1, 2, 31, 32, 33, 63, 64, 65, 128, 129, 100_000] {
            let text = format!("{}0{}", "[{\"k\":".repeat(depth), "}]".repeat(depth));
            assert_eq!(skips(&text), Ok(text.len()), "depth {depth}");
            let unbalanced = format!("{}0{}", "[{\"k\":".repeat(depth), "]}".repeat(depth));
            assert_eq!(skips(&unbalanced), Err(Malformed), "depth {depth}");
        }
    }

    #[test]
    fn long_strings_end_at_their_quote_and_refuse_control_bytes() {
        let long = "a".repeat(300);
        assert_eq!(skips(&format!("\"{long}\\n{long}\"")), Ok(604));
        for at in [0, 5, 15, 16, 17, 150, 299] {
            let mut bad = long.clone();
            bad.replace_range(at..=at, "\u{1}");
            assert_eq!(skips(&format!("\"{bad}\"")), Err(Malformed), "at {at}");
        }
        assert_eq!(skips(&format!("\"{long}")), Err(Malformed));
        let mut reader = Reader::new(r#""caf\u00e9 \ud83d\ude00""#);
        assert_eq!(reader.string().as_deref(), Ok("café 😀"));
    }

    #[test]
    fn string_stop_finds_the_first_stop_at_every_offset() {
        // Neighbours of the stops (0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f) and UTF-8 bytes.
        let filler = "a !#[]\u{7f}é".as_bytes();
        for length in 0..48 {
            let plain: Vec<u8> = filler.iter().copied().cycle().take(length).collect();
            let naive = |bytes: &[u8], from: usize| {
                (from..bytes.len())
                    .find(|&at| ends_plain_run(bytes[at]))
                    .unwrap_or(bytes.len())
            };
            assert_eq!(string_stop(&plain, 0), naive(&plain, 0), "length {length}");
            for at in 0..length {
                for stop in [b'"', b'\\', 0x00, 0x01, 0x1f] {
                    let mut bytes = plain.clone();
                    bytes[at] = stop;
                    for from in [0, 1, 3].into_iter().filter(|&from| from <= length) {
                        assert_eq!(
                            string_stop(&bytes, from),
                            naive(&bytes, from),
                            "length {length}, stop {stop:#x} at {at}, from {from}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn lone_surrogates_are_skipped_but_not_read() {
        assert!(skips(r#""\ud800""#).is_ok());
        assert_eq!(Reader::new(r#""\ud800""#).string(), Err(Malformed));
        assert_eq!(Reader::new(r#""\udc00x""#).string(), Err(Malformed));
    }

    #[test]
    fn numbers_follow_the_grammar_and_read_ones_must_fit_f64() {
        for bad in ["01", "-", "1.", ".5", "1e", "1e+", "+1", "-a", "0x1"] {
            let mut reader = Reader::new(bad);
            let whole = reader.skip().is_ok() && reader.at_end();
            assert!(!whole, "{bad}");
        }
        assert!(skips("1e400").is_ok());
        assert_eq!(Reader::new("1e400").other(), Err(Malformed));
        assert_eq!(Reader::new("-1e400").other(), Err(Malformed));
        assert_eq!(Reader::new("0e400").other(), Ok(()));
        assert_eq!(
            Reader::new("123456789012345678901234567890").other(),
            Ok(())
        );
    }
}
