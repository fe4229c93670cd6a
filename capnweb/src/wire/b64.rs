//! Base64 for `["bytes", …]`: the SIMD codec of `base64-simd` for the common case, and the
//! `base64` crate's lenient decoder for the text JavaScript's decoders also take.
//!
//! Bytes travel as base64 (a 64 KiB chunk of a stream is 87 KiB of text to write and to read),
//! and with a scalar codec that was a fifth of a stream's cost; both directions use the
//! vectorised codec. Reading stays
//! as lenient as before: text the strict codec refuses (padding, unused trailing bits that are
//! not zero) is decoded again by the lenient one, which gives the same bytes for everything
//! both accept.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// The standard alphabet, padding optional (the reference strips it when sending), and lenient
/// about unused trailing bits as JavaScript's decoders are.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Appends `data` as base64 without padding (what the reference writes).
pub(crate) fn encode_into(data: &[u8], out: &mut String) {
    make_room(out, base64_simd::STANDARD_NO_PAD.encoded_length(data.len()));
    base64_simd::STANDARD_NO_PAD.encode_append(data, out);
}

/// What the encoder writes after the bytes (`"]`, closing brackets), room kept for it too.
const TAIL: usize = 16;

/// Makes room for `additional` more bytes (and a tail). Growing a buffer copies all it could
/// hold, not only what it holds; one that holds little yet (a message starting in an empty
/// outbox) is replaced by a new one instead, so only what it holds is copied.
fn make_room(out: &mut String, additional: usize) {
    let needed = additional + TAIL;
    if out.capacity() - out.len() >= needed {
        return;
    }
    if out.len() > out.capacity() / 4 {
        out.reserve(needed);
        return;
    }
    let mut fresh = String::with_capacity(out.len() + needed);
    fresh.push_str(out);
    *out = fresh;
}

/// The bytes `text` stands for, padded or not.
pub(crate) fn decode(text: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    match base64_simd::STANDARD_NO_PAD.decode_to_vec(text) {
        Ok(data) => Ok(data),
        Err(_) => LENIENT.decode(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_codec_and_the_lenient_one_agree() {
        for len in 0..70 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut text = String::new();
            encode_into(&data, &mut text);
            assert_eq!(
                text,
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(&data)
            );
            assert_eq!(decode(text.as_bytes()).ok(), Some(data.clone()));
            assert_eq!(LENIENT.decode(text.as_bytes()).ok(), Some(data));
        }
    }

    #[test]
    fn room_is_made_for_the_bytes_and_the_tail_keeping_what_was_written() {
        let mut out = String::with_capacity(1024);
        out.push_str("[\"bytes\",\"");
        encode_into(&[7; 3000], &mut out);
        assert_eq!(&out[..10], "[\"bytes\",\"");
        assert_eq!(out.len(), 10 + 4000);
        assert!(out.capacity() >= 10 + 4000 + TAIL);

        // A buffer that holds much already grows as usual, keeping what it holds.
        let mut full = "x".repeat(900);
        encode_into(&[7; 3000], &mut full);
        assert_eq!(full.len(), 4900);
        assert!(full.starts_with(&"x".repeat(900)));
    }

    #[test]
    fn padding_and_unused_trailing_bits_are_taken_as_before() {
        assert_eq!(decode(b"aGk=").ok(), Some(b"hi".to_vec()));
        assert_eq!(decode(b"aGk").ok(), Some(b"hi".to_vec()));
        // "aGl" has bits set past the last whole byte: JavaScript's atob reads "hi".
        assert_eq!(decode(b"aGl").ok(), Some(b"hi".to_vec()));
        assert!(decode(b"a").is_err());
        assert!(decode(b"a*Gk").is_err());
        assert!(decode(b"aG k").is_err());
    }
}
