//! Helper data: the public, per-device blob that lets the fuzzy extractor reproduce its secret.
//!
//! Binary encoding, version 1 (all integers big-endian; bit `i` of a bit string is bit
//! `7 − i mod 8` of byte `i / 8`, padding bits are zero):
//!
//! ```text
//! offset  size                 field
//! 0       4                    magic "AQHD"
//! 4       1                    version = 1
//! 5       1                    profile id
//! 6       4                    map_pairs: pairs covered by the selection map
//! 10      4                    selected: number of selected pairs (= offsets)
//! 14      ceil(map_pairs/8)    pair-selection map (bit j set ⇔ cells 2j, 2j+1 are used)
//! ..      ceil(selected/8)     code offsets, one per selected pair
//! ..      tag_bytes            tag = HMAC-SHA-512(K_tag(secret), everything before it), truncated
//! ```
//!
//! Decoding is strict: known profile, sizes equal to the profile's, exact total length, map
//! popcount equal to `selected`, zero padding bits, no trailing bytes, at most
//! [`MAX_HELPER_BYTES`]. It never panics on any input.

use crate::profile::Profile;

/// Magic bytes at the start of every helper-data blob.
pub const MAGIC: &[u8; 4] = b"AQHD";
/// The only version this crate writes and reads.
pub const VERSION: u8 = 1;
/// Upper bound on an encoded blob (far above any supported profile).
pub const MAX_HELPER_BYTES: usize = 64 * 1024;
const HEADER: usize = 14;

/// Why a helper-data blob was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelperDecodeError {
    /// The blob exceeds [`MAX_HELPER_BYTES`].
    #[error("helper data is {0} bytes, more than the {MAX_HELPER_BYTES}-byte limit")]
    TooLarge(usize),
    /// Fewer bytes than the header or the declared fields need.
    #[error("helper data truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes required.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// Bytes after the tag.
    #[error("helper data has {0} trailing bytes after the tag")]
    TrailingBytes(usize),
    /// Wrong magic.
    #[error("helper data magic is not \"AQHD\" (offset 0)")]
    BadMagic,
    /// Unknown version.
    #[error("helper data version {0} is not supported (offset 4)")]
    UnsupportedVersion(u8),
    /// Profile id not known to this build.
    #[error("helper data names unknown profile {0} (offset 5)")]
    UnknownProfile(u8),
    /// Profile known but not the one the device is built for.
    #[error("helper data is for profile {found}, the device expects profile {expected}")]
    ProfileMismatch {
        /// The profile the caller expects.
        expected: u8,
        /// The profile in the blob.
        found: u8,
    },
    /// A size field disagrees with the profile.
    #[error("helper data field {field} = {found} at offset {offset}, profile requires {expected}")]
    SizeMismatch {
        /// Field name.
        field: &'static str,
        /// Byte offset of the field.
        offset: usize,
        /// Value the profile requires.
        expected: usize,
        /// Value found.
        found: usize,
    },
    /// The map selects a different number of pairs than declared.
    #[error("pair-selection map selects {found} pairs, {expected} declared")]
    MapCount {
        /// Declared count.
        expected: usize,
        /// Set bits found.
        found: usize,
    },
    /// Non-zero padding bits.
    #[error("non-zero padding bits in {0}")]
    NonZeroPadding(&'static str),
}

/// Decoded helper data. Construct by enrollment or by [`HelperData::decode`].
#[derive(Clone, PartialEq, Eq)]
pub struct HelperData {
    pub(crate) profile: Profile,
    /// Indices of selected pairs, ascending.
    pub(crate) pairs: Vec<u32>,
    /// One offset bit (0/1) per selected pair.
    pub(crate) offsets: Vec<u8>,
    pub(crate) tag: Vec<u8>,
}

impl std::fmt::Debug for HelperData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperData")
            .field("profile", &self.profile.name)
            .field("selected_pairs", &self.pairs.len())
            .finish_non_exhaustive()
    }
}

fn get_bit(bytes: &[u8], i: usize) -> bool {
    bytes
        .get(i / 8)
        .is_some_and(|b| (b >> (7 - i % 8)) & 1 == 1)
}

fn pack_bits(len: usize, mut bit: impl FnMut(usize) -> bool) -> Vec<u8> {
    let mut out = vec![0u8; len.div_ceil(8)];
    for i in 0..len {
        if bit(i) {
            if let Some(b) = out.get_mut(i / 8) {
                *b |= 1 << (7 - i % 8);
            }
        }
    }
    out
}

fn padding_is_zero(bytes: &[u8], used_bits: usize) -> bool {
    let rem = used_bits % 8;
    rem == 0 || bytes.last().is_none_or(|b| b & (0xFF >> rem) == 0)
}

impl HelperData {
    /// The profile this helper data was produced under.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Indices of the selected pairs (cells `2j` and `2j + 1`).
    pub fn selected_pairs(&self) -> &[u32] {
        &self.pairs
    }

    /// Everything the tag covers (the encoding without the tag).
    pub(crate) fn body(&self) -> Vec<u8> {
        let p = &self.profile;
        let mut out = Vec::with_capacity(HEADER + p.map_pairs / 8 + self.offsets.len() / 8 + 1);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(p.id);
        out.extend_from_slice(&(p.map_pairs as u32).to_be_bytes());
        out.extend_from_slice(&(self.pairs.len() as u32).to_be_bytes());
        let mut map = vec![0u8; p.map_pairs.div_ceil(8)];
        for &j in &self.pairs {
            let j = j as usize;
            if let Some(b) = map.get_mut(j / 8) {
                *b |= 1 << (7 - j % 8);
            }
        }
        out.extend_from_slice(&map);
        out.extend_from_slice(&pack_bits(self.offsets.len(), |i| {
            self.offsets.get(i) == Some(&1)
        }));
        out
    }

    /// The versioned binary encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.body();
        out.extend_from_slice(&self.tag);
        out
    }

    /// Strictly decodes a blob for any known profile.
    pub fn decode(bytes: &[u8]) -> Result<Self, HelperDecodeError> {
        if bytes.len() > MAX_HELPER_BYTES {
            return Err(HelperDecodeError::TooLarge(bytes.len()));
        }
        let header = bytes.get(..HEADER).ok_or(HelperDecodeError::Truncated {
            needed: HEADER,
            got: bytes.len(),
        })?;
        if &header[..4] != MAGIC {
            return Err(HelperDecodeError::BadMagic);
        }
        if header[4] != VERSION {
            return Err(HelperDecodeError::UnsupportedVersion(header[4]));
        }
        let profile =
            Profile::by_id(header[5]).ok_or(HelperDecodeError::UnknownProfile(header[5]))?;
        let be32 = |o: usize| {
            u32::from_be_bytes([header[o], header[o + 1], header[o + 2], header[o + 3]]) as usize
        };
        let (map_pairs, selected) = (be32(6), be32(10));
        if map_pairs != profile.map_pairs {
            return Err(HelperDecodeError::SizeMismatch {
                field: "map_pairs",
                offset: 6,
                expected: profile.map_pairs,
                found: map_pairs,
            });
        }
        if selected != profile.selected_pairs() {
            return Err(HelperDecodeError::SizeMismatch {
                field: "selected",
                offset: 10,
                expected: profile.selected_pairs(),
                found: selected,
            });
        }
        let map_len = map_pairs.div_ceil(8);
        let off_len = selected.div_ceil(8);
        let total = HEADER + map_len + off_len + profile.tag_bytes;
        if bytes.len() < total {
            return Err(HelperDecodeError::Truncated {
                needed: total,
                got: bytes.len(),
            });
        }
        if bytes.len() > total {
            return Err(HelperDecodeError::TrailingBytes(bytes.len() - total));
        }
        let map = &bytes[HEADER..HEADER + map_len];
        let offsets_bytes = &bytes[HEADER + map_len..HEADER + map_len + off_len];
        let tag = &bytes[HEADER + map_len + off_len..];
        if !padding_is_zero(map, map_pairs) {
            return Err(HelperDecodeError::NonZeroPadding("pair-selection map"));
        }
        if !padding_is_zero(offsets_bytes, selected) {
            return Err(HelperDecodeError::NonZeroPadding("code offsets"));
        }
        let found = map.iter().map(|b| b.count_ones() as usize).sum::<usize>();
        if found != selected {
            return Err(HelperDecodeError::MapCount {
                expected: selected,
                found,
            });
        }
        let pairs: Vec<u32> = (0..map_pairs)
            .filter(|&j| get_bit(map, j))
            .map(|j| j as u32)
            .collect();
        let offsets: Vec<u8> = (0..selected)
            .map(|i| u8::from(get_bit(offsets_bytes, i)))
            .collect();
        Ok(Self {
            profile,
            pairs,
            offsets,
            tag: tag.to_vec(),
        })
    }

    /// [`HelperData::decode`], additionally requiring the profile the device is built for.
    pub fn decode_for(bytes: &[u8], expected: &Profile) -> Result<Self, HelperDecodeError> {
        let h = Self::decode(bytes)?;
        if h.profile.id != expected.id {
            return Err(HelperDecodeError::ProfileMismatch {
                expected: expected.id,
                found: h.profile.id,
            });
        }
        Ok(h)
    }
}
