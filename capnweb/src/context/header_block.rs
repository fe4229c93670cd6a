//! [`HeaderBlock`]: a request's headers in one allocation, for a context that lives as long as
//! its session.
//!
//! A `HeaderMap` spends about a hundred bytes of table per header and an allocation per
//! value; kept by every idle WebSocket session, that was a tenth of what one cost. The block
//! holds the same names, values and sensitivity flags, in the same order, packed one after
//! another; lookups scan it (a request has a few dozen headers at most), and a `HeaderMap` is
//! built again only for a caller that asks for one.

use http::{HeaderMap, HeaderName, HeaderValue};

/// A request's headers, packed. Per header, in the order the `HeaderMap` it came from
/// iterates them: a flags byte, the name's length, the name (lowercase, as `HeaderName`
/// spells it), the value's length, the value. Lengths are LEB128, so no size is too large.
pub(super) struct HeaderBlock {
    bytes: Box<[u8]>,
}

/// One header in a [`HeaderBlock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Field<'a> {
    pub(super) name: &'a str,
    pub(super) value: &'a [u8],
    pub(super) sensitive: bool,
}

const SENSITIVE: u8 = 1;

impl HeaderBlock {
    /// The headers of `map`, copied: the block refers to no buffer of the request's.
    pub(super) fn new(map: &HeaderMap) -> HeaderBlock {
        let fields = || {
            map.iter().map(|(name, value)| Field {
                name: name.as_str(),
                value: value.as_bytes(),
                sensitive: value.is_sensitive(),
            })
        };
        // Sized exactly up front: the block is kept as long as its session, so no spare room.
        let len = fields()
            .map(|field| {
                1 + leb128_len(field.name.len())
                    + field.name.len()
                    + leb128_len(field.value.len())
                    + field.value.len()
            })
            .sum();
        let mut bytes = Vec::with_capacity(len);
        for field in fields() {
            bytes.push(if field.sensitive { SENSITIVE } else { 0 });
            push_leb128(&mut bytes, field.name.len());
            bytes.extend_from_slice(field.name.as_bytes());
            push_leb128(&mut bytes, field.value.len());
            bytes.extend_from_slice(field.value);
        }
        HeaderBlock {
            bytes: bytes.into_boxed_slice(),
        }
    }

    /// Every header, in order.
    pub(super) fn iter(&self) -> Fields<'_> {
        Fields { rest: &self.bytes }
    }

    /// The values of header `name` (case-insensitive), in order.
    pub(super) fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.iter()
            .filter(move |field| field.name.eq_ignore_ascii_case(name))
            .map(|field| field.value)
    }

    /// The first value of header `name` (case-insensitive).
    pub(super) fn get(&self, name: &str) -> Option<&[u8]> {
        self.get_all(name).next()
    }

    /// The headers as a `HeaderMap` again: the same names, values, order and sensitivity.
    pub(super) fn to_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.iter().count());
        for field in self.iter() {
            // Both were valid in the map the block was made from, so neither fails.
            let (Ok(name), Ok(mut value)) = (
                HeaderName::from_bytes(field.name.as_bytes()),
                HeaderValue::from_bytes(field.value),
            ) else {
                continue;
            };
            value.set_sensitive(field.sensitive);
            map.append(name, value);
        }
        map
    }

    /// The bytes the block holds on the heap.
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }
}

/// The headers of a [`HeaderBlock`], in order.
pub(super) struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        // The block was written by `HeaderBlock::new`; should it not parse, it simply ends.
        let (&flags, rest) = self.rest.split_first()?;
        let (name, rest) = take_prefixed(rest)?;
        let (value, rest) = take_prefixed(rest)?;
        self.rest = rest;
        Some(Field {
            name: std::str::from_utf8(name).ok()?,
            value,
            sensitive: flags & SENSITIVE != 0,
        })
    }
}

/// Splits a LEB128 length and that many bytes off the front of `bytes`.
fn take_prefixed(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len = 0usize;
    let mut shift = 0u32;
    let mut rest = bytes;
    loop {
        let (&byte, after) = rest.split_first()?;
        rest = after;
        len |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (len <= rest.len()).then(|| rest.split_at(len))
}

fn push_leb128(bytes: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        bytes.push((n & 0x7f) as u8 | 0x80);
        n >>= 7;
    }
    bytes.push(n as u8);
}

fn leb128_len(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    (bits as usize).div_ceil(7).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        crate::context::header_map(pairs)
    }

    #[test]
    fn the_map_comes_back_with_its_order_values_and_sensitivity() {
        let mut original = map(&[
            ("cookie", "a=1"),
            ("x-custom", "one"),
            ("cookie", "b=2"),
            ("host", "example.com"),
        ]);
        let mut secret = HeaderValue::from_static("Bearer t");
        secret.set_sensitive(true);
        original.append(http::header::AUTHORIZATION, secret);
        // An opaque byte is a valid header value, though not a str.
        original.append("x-opaque", HeaderValue::from_bytes(b"caf\xe9").unwrap());

        let block = HeaderBlock::new(&original);
        let again = block.to_map();
        assert_eq!(again, original);
        let order = |map: &HeaderMap| {
            map.iter()
                .map(|(name, value)| (name.clone(), value.clone(), value.is_sensitive()))
                .collect::<Vec<_>>()
        };
        assert_eq!(order(&again), order(&original));
        assert_eq!(block.iter().count(), original.len());
        assert_eq!(block.heap_bytes(), block.bytes.len());
    }

    #[test]
    fn lookups_ignore_case_and_keep_the_order_of_values() {
        let block = HeaderBlock::new(&map(&[("cookie", "a=1"), ("cookie", "b=2")]));
        assert_eq!(block.get("Cookie"), Some(&b"a=1"[..]));
        assert_eq!(
            block.get_all("COOKIE").collect::<Vec<_>>(),
            [&b"a=1"[..], b"b=2"]
        );
        assert_eq!(block.get("cookie "), None);
        assert_eq!(block.get(""), None);
    }

    #[test]
    fn long_values_round_trip() {
        for len in [0, 1, 127, 128, 300, 16_384, 70_000] {
            let value = "v".repeat(len);
            let block = HeaderBlock::new(&map(&[("x-long", &value), ("x-after", "z")]));
            assert_eq!(block.get("x-long"), Some(value.as_bytes()), "{len}");
            assert_eq!(block.get("x-after"), Some(&b"z"[..]), "{len}");
        }
        for n in [0, 1, 127, 128, 16_383, 16_384, usize::MAX] {
            let mut bytes = Vec::new();
            push_leb128(&mut bytes, n);
            assert_eq!(bytes.len(), leb128_len(n), "{n}");
        }
    }
}
