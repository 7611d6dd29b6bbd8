//! Length hiding: a value is padded to a size bucket inside the AEAD, so a
//! reader of the table (or of a backup) learns its bucket, not its length.
//!
//! Buckets: 256 B, then each power of two to 32 KiB, then 64 KiB + 1 for the
//! largest values (`MAX_SECRET_BYTES`). Everything a person types (PINs,
//! passwords, API keys, most tokens) falls in the first bucket and looks
//! alike; a padded value of the first bucket still fits the same one write
//! unit as before, so short values cost nothing more to write (the bench's
//! "stored value" rows show the bytes).
//!
//! The padding is ISO/IEC 7816-4's: one `0x80` byte, then zeros. It is
//! removed by finding the last non-zero byte, which must be that `0x80`;
//! a value's own trailing zero bytes are kept, since the marker follows them.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::model::MAX_SECRET_BYTES;

/// The sizes a padded value can have, smallest first.
pub const PAD_BUCKETS: [usize; 9] = [
    256,
    512,
    1024,
    2048,
    4096,
    8192,
    16384,
    32768,
    MAX_SECRET_BYTES + 1,
];

const MARKER: u8 = 0x80;

/// The bucket a value of `len` bytes is padded to: the smallest with room
/// for the value and the marker.
pub fn padded_len(len: usize) -> Option<usize> {
    PAD_BUCKETS.iter().copied().find(|&bucket| bucket > len)
}

/// `value`, the marker and zeros up to its bucket, with `spare` bytes of
/// capacity for what the cipher appends, so that the buffer never moves
/// (a move would leave a copy of the plaintext behind).
pub fn pad(value: &[u8], spare: usize) -> Result<Zeroizing<Vec<u8>>> {
    let bucket = padded_len(value.len())
        .ok_or_else(|| Error::internal("padding a value", "the value is larger than any bucket"))?;
    let mut padded = Zeroizing::new(Vec::with_capacity(bucket + spare));
    padded.extend_from_slice(value);
    padded.push(MARKER);
    padded.resize(bucket, 0);
    Ok(padded)
}

/// The value's length within a padded buffer.
pub fn unpadded_len(padded: &[u8]) -> Result<usize> {
    let marker = padded
        .iter()
        .rposition(|&byte| byte != 0)
        .filter(|&at| padded[at] == MARKER)
        .ok_or_else(|| Error::internal("opening a value", "the padding is malformed"))?;
    Ok(marker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_pad_to_the_smallest_bucket_with_room_for_the_marker() {
        for (len, bucket) in [
            (1, 256),
            (4, 256),
            (40, 256),
            (255, 256),
            (256, 512),
            (1000, 1024),
            (32767, 32768),
            (32768, MAX_SECRET_BYTES + 1),
            (MAX_SECRET_BYTES, MAX_SECRET_BYTES + 1),
        ] {
            assert_eq!(padded_len(len), Some(bucket), "{len}");
            assert_eq!(pad(&vec![b'v'; len], 0).unwrap().len(), bucket, "{len}");
        }
        assert_eq!(padded_len(MAX_SECRET_BYTES + 1), None);
    }

    #[test]
    fn unpadding_restores_every_value_including_its_own_trailing_zeros() {
        for value in [
            &b"1234"[..],
            b"x",
            b"ends in zeros\0\0",
            b"\0",
            b"\x80",
            &[0x80; 300],
        ] {
            let padded = pad(value, 16).unwrap();
            assert!(padded.capacity() >= padded.len() + 16);
            assert_eq!(&padded[..unpadded_len(&padded).unwrap()], value);
        }
    }

    #[test]
    fn malformed_padding_is_an_error() {
        for padded in [&b""[..], &[0; 256], b"value without marker\x01\0\0"] {
            assert!(unpadded_len(padded).is_err());
        }
    }
}
