//! Write-ahead log records of the filesystem backend.
//!
//! One record per appended batch, written with one `write` and made durable with one
//! `fdatasync` (the group commit). Layout, all integers big-endian:
//!
//! ```text
//! "AQW1" | first index u64 | count u32 | payload length u32 | payload | SHA-256(header‖payload)[..16]
//! payload = count × (u16 length ‖ entry bytes)
//! ```
//!
//! A crash can leave a torn record at the tail of the last segment; it was never
//! acknowledged (acknowledgement follows the fdatasync), so recovery drops it. The
//! digest makes a torn or garbage tail detectable however the write was cut.

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 4] = b"AQW1";
const HEADER: usize = 4 + 8 + 4 + 4;
const DIGEST: usize = 16;
/// Largest payload of one record.
pub(crate) const MAX_PAYLOAD: usize = 256 << 20;

/// Encode one batch as a record.
pub(crate) fn encode(first: u64, entries: &[&[u8]]) -> Option<Vec<u8>> {
    let payload_len: usize = entries.iter().map(|e| 2 + e.len()).sum();
    if payload_len > MAX_PAYLOAD || entries.len() > u32::MAX as usize {
        return None;
    }
    let mut out = Vec::with_capacity(HEADER + payload_len + DIGEST);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&first.to_be_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    out.extend_from_slice(&(payload_len as u32).to_be_bytes());
    for e in entries {
        let len = u16::try_from(e.len()).ok()?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    let d = Sha256::digest(&out);
    out.extend_from_slice(&d[..DIGEST]);
    Some(out)
}

/// A decoded record.
#[derive(Debug)]
pub(crate) struct Record {
    pub first: u64,
    pub entries: Vec<Vec<u8>>,
}

/// Decode records from the start of `buf`. Returns the records and the length of the
/// valid prefix; anything after it is a torn or corrupt tail.
pub(crate) fn decode_all(buf: &[u8]) -> (Vec<Record>, usize) {
    let mut out = Vec::new();
    let mut off = 0usize;
    while let Some((rec, len)) = decode_one(buf.get(off..).unwrap_or(&[])) {
        out.push(rec);
        off += len;
    }
    (out, off)
}

fn be_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

fn decode_one(buf: &[u8]) -> Option<(Record, usize)> {
    let header = buf.get(..HEADER)?;
    if &header[..4] != MAGIC {
        return None;
    }
    let first = u64::from_be_bytes(header[4..12].try_into().ok()?);
    let count = be_u32(&header[12..16])? as usize;
    let payload_len = be_u32(&header[16..20])? as usize;
    if payload_len > MAX_PAYLOAD || count > payload_len / 2 + 1 {
        return None;
    }
    let total = HEADER + payload_len + DIGEST;
    let rec = buf.get(..total)?;
    let d = Sha256::digest(&rec[..HEADER + payload_len]);
    if d[..DIGEST] != rec[HEADER + payload_len..] {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    let mut p = &rec[HEADER..HEADER + payload_len];
    while !p.is_empty() {
        let len = usize::from(u16::from_be_bytes(p.get(..2)?.try_into().ok()?));
        entries.push(p.get(2..2 + len)?.to_vec());
        p = &p[2 + len..];
    }
    if entries.len() != count {
        return None;
    }
    Some((Record { first, entries }, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn_tails() {
        let a: Vec<&[u8]> = vec![b"one", b"", b"three"];
        let b: Vec<&[u8]> = vec![b"four"];
        let mut buf = encode(0, &a).unwrap();
        let first_len = buf.len();
        buf.extend(encode(3, &b).unwrap());
        let (recs, good) = decode_all(&buf);
        assert_eq!(good, buf.len());
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].first, 3);
        assert_eq!(recs[0].entries[2], b"three");
        // Every truncation point keeps exactly the complete records.
        for cut in 0..buf.len() {
            let (recs, good) = decode_all(&buf[..cut]);
            let want = usize::from(cut >= first_len);
            assert_eq!(recs.len(), want, "cut {cut}");
            assert_eq!(good, if want == 1 { first_len } else { 0 });
        }
        // A flipped bit in the second record drops it.
        let mut bad = buf.clone();
        bad[first_len + 25] ^= 1;
        assert_eq!(decode_all(&bad).0.len(), 1);
        assert!(encode(0, &[&vec![0u8; 70000][..]]).is_none());
    }
}
