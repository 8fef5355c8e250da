//! Strict deterministic CBOR: the subset of RFC 8949 that aq signs and accepts.
//!
//! aq's profile is the "core deterministic encoding" of RFC 8949 §4.2.1, tightened:
//!
//! * every head (integer, length, tag) uses the shortest form;
//! * no indefinite lengths, no floating-point values, no simple values beyond
//!   `false`/`true`/`null`, no reserved additional-information values;
//! * map keys are sorted by the bytewise order of their encodings, which also forbids duplicates;
//! * text strings are valid UTF-8;
//! * the input is exactly one item (no trailing bytes) unless the caller asks for a sequence
//!   (RFC 8742), and it obeys size, depth and item-count [`Limits`].
//!
//! [`validate`] checks all of that in one pass without allocating and reports the first violation
//! with its byte offset. [`Reader`] is then a cheap typed cursor over validated bytes; it still
//! bounds-checks everything, so it cannot panic even if a caller skips validation.
//! [`Writer`] only ever produces the deterministic form.
//!
//! Hand-written on purpose: no general CBOR crate reports *where* and *why* a signed payload
//! departs from the deterministic profile, and that report is part of aq's evidence story.

use crate::error::DecodeError;

/// Major types (RFC 8949 §3.1).
pub mod major {
    /// Unsigned integer.
    pub const UINT: u8 = 0;
    /// Negative integer.
    pub const NINT: u8 = 1;
    /// Byte string.
    pub const BYTES: u8 = 2;
    /// Text string.
    pub const TEXT: u8 = 3;
    /// Array.
    pub const ARRAY: u8 = 4;
    /// Map.
    pub const MAP: u8 = 5;
    /// Tag.
    pub const TAG: u8 = 6;
    /// Simple values and floats.
    pub const SIMPLE: u8 = 7;
}

/// Human name of a major type, for error messages.
pub fn major_name(m: u8) -> &'static str {
    match m {
        major::UINT => "unsigned integer",
        major::NINT => "negative integer",
        major::BYTES => "byte string",
        major::TEXT => "text string",
        major::ARRAY => "array",
        major::MAP => "map",
        major::TAG => "tag",
        _ => "simple value",
    }
}

/// Bounds on what a decoder will look at. Every decoder of untrusted bytes takes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_size: usize,
    /// Deepest accepted nesting of arrays, maps and tags (the top-level item is depth 1).
    pub max_depth: usize,
    /// Most data items accepted in one top-level item, counting every nested item.
    pub max_items: usize,
}

impl Limits {
    /// Limits for one evidence record (COSE_Sign1 plus payload).
    pub const RECORD: Limits = Limits {
        max_size: 64 * 1024,
        max_depth: 8,
        max_items: 4096,
    };
}

/// Checks that `buf` starts with exactly one well-formed item in aq's deterministic profile and
/// returns the length of that item. Trailing bytes are the caller's business (see
/// [`validate_exact`] and [`split_sequence`]).
pub fn validate_prefix(buf: &[u8], limits: &Limits) -> Result<usize, DecodeError> {
    let mut v = Validator {
        buf,
        pos: 0,
        items: 0,
        limits,
    };
    v.item(1)?;
    Ok(v.pos)
}

/// Checks that `buf` is exactly one well-formed deterministic item within `limits`.
pub fn validate_exact(buf: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    if buf.len() > limits.max_size {
        return Err(DecodeError::TooLarge {
            size: buf.len(),
            limit: limits.max_size,
        });
    }
    let end = validate_prefix(buf, limits)?;
    if end != buf.len() {
        return Err(DecodeError::TrailingBytes {
            offset: end,
            count: buf.len() - end,
        });
    }
    Ok(())
}

/// Splits a CBOR sequence (RFC 8742) into its items, validating each against `limits`.
///
/// Yields `(offset, item)` pairs. After the first error the iterator stops: without a valid item
/// there is no trustworthy boundary to resynchronise on.
pub fn split_sequence<'a>(buf: &'a [u8], limits: &'a Limits) -> SequenceIter<'a> {
    SequenceIter {
        buf,
        pos: 0,
        limits,
        failed: false,
    }
}

/// Iterator returned by [`split_sequence`].
#[derive(Debug)]
pub struct SequenceIter<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    failed: bool,
}

impl<'a> Iterator for SequenceIter<'a> {
    type Item = Result<(usize, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let rest = self.buf.get(self.pos..)?;
        // An item may not exceed the per-item size limit; look only that far ahead.
        let window = &rest[..rest.len().min(self.limits.max_size)];
        match validate_prefix(window, self.limits) {
            Ok(len) => {
                let start = self.pos;
                self.pos += len;
                Some(Ok((start, &rest[..len])))
            }
            Err(e) => {
                self.failed = true;
                // A truncation inside the window of a longer remainder means the item is too big.
                let e = match e {
                    DecodeError::Truncated { .. } if rest.len() > window.len() => {
                        DecodeError::TooLarge {
                            size: rest.len(),
                            limit: self.limits.max_size,
                        }
                    }
                    other => other,
                };
                Some(Err(e.shifted(self.pos)))
            }
        }
    }
}

struct Validator<'a, 'l> {
    buf: &'a [u8],
    pos: usize,
    items: usize,
    limits: &'l Limits,
}

impl Validator<'_, '_> {
    /// Reads one head and returns (major, argument). Enforces shortest form.
    fn head(&mut self) -> Result<(u8, u64), DecodeError> {
        let start = self.pos;
        let (major, arg, len) = read_head(self.buf, start)?;
        self.pos = start + len;
        Ok((major, arg))
    }

    fn take(&mut self, n: u64) -> Result<&[u8], DecodeError> {
        let start = self.pos;
        let n_usize = usize::try_from(n).map_err(|_| DecodeError::Truncated {
            offset: start,
            needed: usize::MAX,
        })?;
        let end = start.checked_add(n_usize).ok_or(DecodeError::Truncated {
            offset: start,
            needed: n_usize,
        })?;
        let s = self.buf.get(start..end).ok_or(DecodeError::Truncated {
            offset: start,
            needed: end - self.buf.len().min(end),
        })?;
        self.pos = end;
        Ok(s)
    }

    fn count(&mut self, offset: usize) -> Result<(), DecodeError> {
        self.items += 1;
        if self.items > self.limits.max_items {
            return Err(DecodeError::TooManyItems {
                offset,
                limit: self.limits.max_items,
            });
        }
        Ok(())
    }

    fn item(&mut self, depth: usize) -> Result<(), DecodeError> {
        let start = self.pos;
        self.count(start)?;
        let (major, arg) = self.head()?;
        match major {
            major::UINT | major::NINT => Ok(()),
            major::BYTES => self.take(arg).map(|_| ()),
            major::TEXT => {
                let s = self.take(arg)?;
                if std::str::from_utf8(s).is_err() {
                    return Err(DecodeError::InvalidUtf8 { offset: start });
                }
                Ok(())
            }
            major::ARRAY => {
                self.enter(depth, start)?;
                self.container_len(arg, 1, start)?;
                for _ in 0..arg {
                    self.item(depth + 1)?;
                }
                Ok(())
            }
            major::MAP => {
                self.enter(depth, start)?;
                self.container_len(arg, 2, start)?;
                let mut prev: Option<(usize, usize)> = None;
                for _ in 0..arg {
                    let kstart = self.pos;
                    self.item(depth + 1)?;
                    let kend = self.pos;
                    if let Some((ps, pe)) = prev {
                        let pk = &self.buf[ps..pe];
                        let k = &self.buf[kstart..kend];
                        match pk.cmp(k) {
                            std::cmp::Ordering::Less => {}
                            std::cmp::Ordering::Equal => {
                                return Err(DecodeError::DuplicateKey { offset: kstart });
                            }
                            std::cmp::Ordering::Greater => {
                                return Err(DecodeError::UnorderedKeys { offset: kstart });
                            }
                        }
                    }
                    prev = Some((kstart, kend));
                    self.item(depth + 1)?;
                }
                Ok(())
            }
            major::TAG => {
                self.enter(depth, start)?;
                self.item(depth + 1)
            }
            _ => match arg {
                // false, true, null
                20..=22 => Ok(()),
                _ => Err(DecodeError::UnsupportedSimple { offset: start }),
            },
        }
    }

    fn enter(&self, depth: usize, offset: usize) -> Result<(), DecodeError> {
        if depth >= self.limits.max_depth {
            return Err(DecodeError::TooDeep {
                offset,
                limit: self.limits.max_depth,
            });
        }
        Ok(())
    }

    /// Rejects a container that claims more elements than bytes remain: every element takes at
    /// least one byte, so such a claim is a lie and would only waste work.
    fn container_len(&self, n: u64, per: u64, offset: usize) -> Result<(), DecodeError> {
        let remaining = (self.buf.len() - self.pos) as u64;
        if n.saturating_mul(per) > remaining {
            return Err(DecodeError::Truncated {
                offset,
                needed: usize::try_from(n.saturating_mul(per) - remaining).unwrap_or(usize::MAX),
            });
        }
        if n > self.limits.max_items as u64 {
            return Err(DecodeError::TooManyItems {
                offset,
                limit: self.limits.max_items,
            });
        }
        Ok(())
    }
}

/// Parses the head at `start`: returns (major, argument, head length). Shortest form enforced;
/// indefinite lengths, reserved values and floats rejected.
fn read_head(buf: &[u8], start: usize) -> Result<(u8, u64, usize), DecodeError> {
    let ib = *buf.get(start).ok_or(DecodeError::Truncated {
        offset: start,
        needed: 1,
    })?;
    let major = ib >> 5;
    let ai = ib & 0x1f;
    let (arg, len) = match ai {
        0..=23 => (u64::from(ai), 1),
        24..=27 => {
            let n = 1usize << (ai - 24);
            let bytes = buf
                .get(start + 1..start + 1 + n)
                .ok_or(DecodeError::Truncated {
                    offset: start,
                    needed: (start + 1 + n).saturating_sub(buf.len()),
                })?;
            let mut v: u64 = 0;
            for b in bytes {
                v = (v << 8) | u64::from(*b);
            }
            if major == major::SIMPLE {
                // ai 24 is a one-byte simple value, 25..27 are floats: none are in the profile.
                return Err(if ai == 24 {
                    DecodeError::UnsupportedSimple { offset: start }
                } else {
                    DecodeError::FloatNotAllowed { offset: start }
                });
            }
            let min = match ai {
                24 => 24,
                25 => 0x100,
                26 => 0x1_0000,
                _ => 0x1_0000_0000,
            };
            if v < min {
                return Err(DecodeError::NonCanonical { offset: start });
            }
            (v, 1 + n)
        }
        31 => return Err(DecodeError::IndefiniteLength { offset: start }),
        _ => {
            return Err(DecodeError::ReservedInfo {
                offset: start,
                info: ai,
            });
        }
    };
    Ok((major, arg, len))
}

/// A typed cursor over (normally pre-validated) deterministic CBOR.
///
/// Offsets in errors are absolute: `base` is added to positions inside `buf`, so a reader over a
/// nested byte string still reports positions in the outer document.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf` whose first byte sits at absolute offset `base`.
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    /// Absolute offset of the next item.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// True when every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless every byte has been consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.pos < self.buf.len() {
            return Err(DecodeError::TrailingBytes {
                offset: self.offset(),
                count: self.buf.len() - self.pos,
            });
        }
        Ok(())
    }

    /// Major type of the next item, without consuming it.
    pub fn peek_major(&self) -> Result<u8, DecodeError> {
        self.buf
            .get(self.pos)
            .map(|b| b >> 5)
            .ok_or(DecodeError::Truncated {
                offset: self.offset(),
                needed: 1,
            })
    }

    fn head(&mut self) -> Result<(u8, u64), DecodeError> {
        let (major, arg, len) = read_head(self.buf, self.pos).map_err(|e| e.shifted(self.base))?;
        self.pos += len;
        Ok((major, arg))
    }

    fn expect(&mut self, want: u8, what: &'static str) -> Result<u64, DecodeError> {
        let at = self.offset();
        let (major, arg) = self.head()?;
        if major != want {
            return Err(DecodeError::UnexpectedType {
                offset: at,
                expected: what,
                found: major_name(major),
            });
        }
        Ok(arg)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], DecodeError> {
        let at = self.offset();
        let n = usize::try_from(n).map_err(|_| DecodeError::Truncated {
            offset: at,
            needed: usize::MAX,
        })?;
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated {
            offset: at,
            needed: n,
        })?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated {
            offset: at,
            needed: end.saturating_sub(self.buf.len()),
        })?;
        self.pos = end;
        Ok(s)
    }

    /// An unsigned integer.
    pub fn uint(&mut self) -> Result<u64, DecodeError> {
        self.expect(major::UINT, "unsigned integer")
    }

    /// Any integer (major type 0 or 1), widened so that every CBOR integer fits.
    pub fn int(&mut self) -> Result<i128, DecodeError> {
        let at = self.offset();
        let (major, arg) = self.head()?;
        match major {
            major::UINT => Ok(i128::from(arg)),
            major::NINT => Ok(-1 - i128::from(arg)),
            m => Err(DecodeError::UnexpectedType {
                offset: at,
                expected: "integer",
                found: major_name(m),
            }),
        }
    }

    /// A byte string, borrowed from the input.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.expect(major::BYTES, "byte string")?;
        self.take(n)
    }

    /// A byte string together with the absolute offset of its first content byte.
    pub fn bytes_at(&mut self) -> Result<(usize, &'a [u8]), DecodeError> {
        let n = self.expect(major::BYTES, "byte string")?;
        let at = self.offset();
        Ok((at, self.take(n)?))
    }

    /// A text string, borrowed from the input.
    pub fn text(&mut self) -> Result<&'a str, DecodeError> {
        let at = self.offset();
        let n = self.expect(major::TEXT, "text string")?;
        let s = self.take(n)?;
        std::str::from_utf8(s).map_err(|_| DecodeError::InvalidUtf8 { offset: at })
    }

    /// An array head; returns the element count.
    pub fn array(&mut self) -> Result<u64, DecodeError> {
        self.expect(major::ARRAY, "array")
    }

    /// A map head; returns the number of key/value pairs.
    pub fn map(&mut self) -> Result<u64, DecodeError> {
        self.expect(major::MAP, "map")
    }

    /// A tag head; returns the tag number.
    pub fn tag(&mut self) -> Result<u64, DecodeError> {
        self.expect(major::TAG, "tag")
    }

    /// `true` or `false`.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        let at = self.offset();
        let (major, arg) = self.head()?;
        match (major, arg) {
            (major::SIMPLE, 20) => Ok(false),
            (major::SIMPLE, 21) => Ok(true),
            (m, _) => Err(DecodeError::UnexpectedType {
                offset: at,
                expected: "boolean",
                found: major_name(m),
            }),
        }
    }

    /// Skips one complete item of any type, within `max_depth` levels of nesting.
    pub fn skip(&mut self, max_depth: usize) -> Result<(), DecodeError> {
        let at = self.offset();
        if max_depth == 0 {
            return Err(DecodeError::TooDeep {
                offset: at,
                limit: 0,
            });
        }
        let (major, arg) = self.head()?;
        match major {
            major::BYTES | major::TEXT => self.take(arg).map(|_| ()),
            major::ARRAY => {
                for _ in 0..arg {
                    self.skip(max_depth - 1)?;
                }
                Ok(())
            }
            major::MAP => {
                for _ in 0..arg.saturating_mul(2) {
                    self.skip(max_depth - 1)?;
                }
                Ok(())
            }
            major::TAG => self.skip(max_depth - 1),
            _ => Ok(()),
        }
    }

    /// Bounds a container length taken from the input so that a caller can safely pre-allocate:
    /// every element needs at least one byte.
    pub fn bounded_len(&self, n: u64, max: usize) -> Result<usize, DecodeError> {
        let remaining = self.buf.len().saturating_sub(self.pos) as u64;
        if n > max as u64 {
            return Err(DecodeError::TooManyItems {
                offset: self.offset(),
                limit: max,
            });
        }
        if n > remaining {
            return Err(DecodeError::Truncated {
                offset: self.offset(),
                needed: usize::try_from(n - remaining).unwrap_or(usize::MAX),
            });
        }
        Ok(n as usize)
    }
}

/// Writes deterministic CBOR. It has no failure modes: every method appends to a `Vec`.
#[derive(Clone, Debug, Default)]
pub struct Writer {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// A writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }

    /// Writes a head in its shortest form.
    pub fn head(&mut self, major: u8, arg: u64) {
        let m = major << 5;
        if arg < 24 {
            self.buf.push(m | arg as u8);
        } else if arg <= 0xff {
            self.buf.extend_from_slice(&[m | 24, arg as u8]);
        } else if arg <= 0xffff {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(arg as u16).to_be_bytes());
        } else if arg <= 0xffff_ffff {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(arg as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&arg.to_be_bytes());
        }
    }

    /// An unsigned integer.
    pub fn uint(&mut self, v: u64) {
        self.head(major::UINT, v);
    }

    /// A signed integer.
    pub fn int(&mut self, v: i64) {
        if v >= 0 {
            self.head(major::UINT, v as u64);
        } else {
            // -1 - v without overflow: !v == -1 - v for two's complement.
            self.head(major::NINT, !v as u64);
        }
    }

    /// A byte string.
    pub fn bytes(&mut self, b: &[u8]) {
        self.head(major::BYTES, b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    /// A text string.
    pub fn text(&mut self, s: &str) {
        self.head(major::TEXT, s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// An array head for `n` elements.
    pub fn array(&mut self, n: usize) {
        self.head(major::ARRAY, n as u64);
    }

    /// A map head for `n` pairs. The caller writes keys in deterministic order.
    pub fn map(&mut self, n: usize) {
        self.head(major::MAP, n as u64);
    }

    /// A tag head.
    pub fn tag(&mut self, t: u64) {
        self.head(major::TAG, t);
    }

    /// `true` or `false`.
    pub fn bool(&mut self, b: bool) {
        self.buf.push(if b { 0xf5 } else { 0xf4 });
    }

    /// Appends bytes that are already a complete deterministic item.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(b: &[u8]) -> Result<(), DecodeError> {
        validate_exact(b, &Limits::RECORD)
    }

    #[test]
    fn accepts_shortest_forms() {
        for x in [
            0u64,
            23,
            24,
            255,
            256,
            65535,
            65536,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut w = Writer::default();
            w.uint(x);
            v(&w.buf).unwrap();
            let mut r = Reader::new(&w.buf, 0);
            assert_eq!(r.uint().unwrap(), x);
            r.finish().unwrap();
        }
        for x in [-1i64, -24, -25, -256, -257, -65537, i64::MIN] {
            let mut w = Writer::default();
            w.int(x);
            v(&w.buf).unwrap();
            assert_eq!(Reader::new(&w.buf, 0).int().unwrap(), i128::from(x));
        }
    }

    #[test]
    fn rejects_non_shortest_heads() {
        assert_eq!(
            v(&[0x18, 0x17]),
            Err(DecodeError::NonCanonical { offset: 0 })
        );
        assert_eq!(
            v(&[0x19, 0x00, 0xff]),
            Err(DecodeError::NonCanonical { offset: 0 })
        );
        assert_eq!(
            v(&[0x82, 0x01, 0x5a, 0, 0, 0, 1, 0xaa]),
            Err(DecodeError::NonCanonical { offset: 2 })
        );
    }

    #[test]
    fn rejects_indefinite_floats_reserved_trailing() {
        assert_eq!(
            v(&[0x9f, 0x01, 0xff]),
            Err(DecodeError::IndefiniteLength { offset: 0 })
        );
        assert_eq!(
            v(&[0xf9, 0x3c, 0x00]),
            Err(DecodeError::FloatNotAllowed { offset: 0 })
        );
        assert_eq!(
            v(&[0x1c]),
            Err(DecodeError::ReservedInfo {
                offset: 0,
                info: 28
            })
        );
        assert_eq!(
            v(&[0x01, 0x02]),
            Err(DecodeError::TrailingBytes {
                offset: 1,
                count: 1
            })
        );
    }

    #[test]
    fn map_keys_must_be_sorted_and_unique() {
        // {1: 0, 1: 0}
        assert_eq!(
            v(&[0xa2, 0x01, 0x00, 0x01, 0x00]),
            Err(DecodeError::DuplicateKey { offset: 3 })
        );
        // {2: 0, 1: 0}
        assert_eq!(
            v(&[0xa2, 0x02, 0x00, 0x01, 0x00]),
            Err(DecodeError::UnorderedKeys { offset: 3 })
        );
        // {1: 0, -1: 0} is sorted (0x01 < 0x20)
        v(&[0xa2, 0x01, 0x00, 0x20, 0x00]).unwrap();
    }

    #[test]
    fn depth_and_count_limits() {
        let deep = vec![0x81u8; 20];
        let mut b = deep.clone();
        b.push(0x00);
        assert!(matches!(v(&b), Err(DecodeError::TooDeep { .. })));
        // An array that claims more items than bytes remain.
        assert!(matches!(
            v(&[0x9a, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn utf8_checked() {
        assert_eq!(
            v(&[0x62, 0xc3, 0x28]),
            Err(DecodeError::InvalidUtf8 { offset: 0 })
        );
    }

    #[test]
    fn sequence_split() {
        let b = [0x01, 0x82, 0x01, 0x02, 0x40];
        let items: Vec<_> = split_sequence(&b, &Limits::RECORD)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(items, vec![(0, &b[0..1]), (1, &b[1..4]), (4, &b[4..5])]);
        let bad = [0x01, 0x18, 0x01];
        let r: Vec<_> = split_sequence(&bad, &Limits::RECORD).collect();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1], Err(DecodeError::NonCanonical { offset: 1 }));
    }

    proptest::proptest! {
        #[test]
        fn validator_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = v(&bytes);
            let _ = split_sequence(&bytes, &Limits::RECORD).count();
            let mut r = Reader::new(&bytes, 0);
            let _ = r.skip(8);
        }
    }
}
