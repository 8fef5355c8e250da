#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every inclusion/consistency vector of testdata/merkle/transparency-dev-merkle, the
//! Argon 2020 real-log proofs and the RFC 6962 reference roots.
//!
//! Semantics (testdata/merkle/README.md §1): a hash that is not exactly 32 bytes is an
//! error; consistency from size 0 is an error; equal sizes need an empty proof and
//! equal roots. Each corrupted copy must fail with the typed error its name implies.

use std::path::{Path, PathBuf};

use aq_tlog::verify::{ProofError, verify_consistency, verify_inclusion};
use aq_tlog::{Hash, MemoryTree, leaf_hash};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

const MERKLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/merkle");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// A hash in the vector is not 32 bytes.
    HashLength,
    Proof(ProofError),
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn hash(v: &Value) -> Option<Hash> {
    let bytes = STANDARD.decode(v.as_str().unwrap()).unwrap();
    Hash::from_slice(&bytes).ok()
}

fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(a) => a.iter().map(hash).collect(),
        _ => panic!("bad proof field"),
    }
}

fn run_inclusion(v: &Value) -> Outcome {
    let (Some(root), Some(leaf), Some(p)) =
        (hash(&v["root"]), hash(&v["leafHash"]), proof(&v["proof"]))
    else {
        return Outcome::HashLength;
    };
    match verify_inclusion(
        &leaf,
        v["leafIdx"].as_u64().unwrap(),
        v["treeSize"].as_u64().unwrap(),
        &p,
        &root,
    ) {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Proof(e),
    }
}

fn run_consistency(v: &Value) -> Outcome {
    let (Some(r1), Some(r2), Some(p)) = (hash(&v["root1"]), hash(&v["root2"]), proof(&v["proof"]))
    else {
        return Outcome::HashLength;
    };
    match verify_consistency(
        v["size1"].as_u64().unwrap(),
        v["size2"].as_u64().unwrap(),
        &p,
        &r1,
        &r2,
    ) {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Proof(e),
    }
}

/// Is `got` the kind of failure the vector's name describes?
fn error_fits(name: &str, got: Outcome) -> bool {
    use Outcome::*;
    let length = matches!(got, Proof(ProofError::WrongLength { .. }));
    let mismatch = matches!(got, Proof(ProofError::RootMismatch { .. }));
    let not_empty = matches!(got, Proof(ProofError::ProofNotEmpty { .. }));
    if got == HashLength {
        // Only produced when the vector really carries a hash that is not 32 bytes
        // (empty, garbage or dummy "don't care" roots): that is the defect to report.
        return true;
    }
    if matches!(got, Proof(ProofError::IndexOutOfRange { .. })) {
        return name.contains("empty-root")
            || name.starts_with("leafIdx")
            || name.starts_with("treeSize");
    }
    if name.contains("invalid") || name.starts_with("oob") || name.starts_with("start-") {
        return matches!(
            got,
            Proof(
                ProofError::InvalidSubtree { .. }
                    | ProofError::IndexOutOfRange { .. }
                    | ProofError::SizeOrder { .. }
            )
        );
    }
    if name.contains("subtree-is-empty") || name.contains("everything-zero") {
        return matches!(
            got,
            Proof(
                ProofError::ProofNotEmpty { .. }
                    | ProofError::RootMismatch { .. }
                    | ProofError::InvalidSubtree { .. }
                    | ProofError::IndexOutOfRange { .. }
            )
        );
    }
    if name.contains("size1-is-zero")
        || name.contains("sizes-are-equal-zero")
        || name.contains("empty-tree")
        || name.contains("sizes-are-zero")
    {
        return matches!(got, Proof(ProofError::EmptyOldTree));
    }
    if name.contains("greater") {
        return matches!(got, Proof(ProofError::SizeOrder { .. }));
    }
    if name.contains("proof-is-not-empty") {
        return not_empty;
    }
    if name.contains("garbage")
        || name.contains("preceding")
        || name.contains("trailing")
        || name.contains("inserted")
        || name.contains("removed")
        || name.contains("truncated")
        || name.contains("empty-proof")
        || name.contains("proof-is-empty")
    {
        return length;
    }
    if name.contains("modified")
        || name.contains("random")
        || name.contains("wrong")
        || name.contains("swapped")
        || name.contains("roots-are-not")
        || name.contains("roots-do-not")
        || name.contains("empty-root")
    {
        return mismatch;
    }
    if name.starts_with("size") || name.starts_with("treeSize") || name.starts_with("leafIdx") {
        // A wrong size or index changes the proof shape or the computed root.
        return length
            || mismatch
            || not_empty
            || matches!(
                got,
                Proof(
                    ProofError::IndexOutOfRange { .. }
                        | ProofError::SizeOrder { .. }
                        | ProofError::EmptyOldTree
                )
            );
    }
    false
}

/// Subtree vectors follow the draft: an empty subtree `[x, x)` is valid (so size 0 is
/// not an error by itself), and an out-of-range index is its own error.
fn error_fits_subtree(name: &str, got: Outcome) -> bool {
    use Outcome::*;
    if got == HashLength {
        return true;
    }
    let empty_rules = name.contains("proof-is-not-empty") || name.contains("empty-tree");
    if empty_rules {
        return matches!(
            got,
            Proof(ProofError::ProofNotEmpty { .. } | ProofError::WrongLength { expected: 0, .. })
        );
    }
    if name.starts_with("oob") || name.starts_with("start-") || name.contains("everything-zero") {
        return matches!(
            got,
            Proof(ProofError::IndexOutOfRange { .. } | ProofError::InvalidSubtree { .. })
        );
    }
    if name.contains("sizes-are-zero")
        || name.contains("sizes-are-equal-zero")
        || name.contains("size1-is-zero")
    {
        return matches!(
            got,
            Proof(ProofError::RootMismatch { .. } | ProofError::ProofNotEmpty { .. })
        );
    }
    error_fits(name, got)
}

/// Vectors whose `wantErr` is false but which carry a hash that is not 32 bytes.
/// README §1: "A hash that is not exactly 32 bytes is an error, even when the proof
/// would otherwise verify", so we refuse them with a hash-length error.
const LENGTH_OVERRIDES: &[&str] = &[
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
    "subtreeconsistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
    "subtreeconsistency/additional/subtree-is-empty-sizes-are-equal-one-subtree-root-valid-tree-root-random-proof-is-empty.json",
    "subtreeconsistency/additional/subtree-is-empty-sizes-are-equal-zero-subtree-root-valid-tree-root-random-proof-is-empty.json",
];

fn check_dir(
    kind: &str,
    run: fn(&Value) -> Outcome,
    fits: fn(&str, Outcome) -> bool,
) -> (usize, usize) {
    let dir = Path::new(MERKLE).join("transparency-dev-merkle").join(kind);
    let (mut ok, mut err) = (0, 0);
    let mut failures = Vec::new();
    for f in json_files(&dir) {
        let rel = f
            .strip_prefix(Path::new(MERKLE).join("transparency-dev-merkle"))
            .unwrap();
        let rel_s = rel.to_string_lossy().to_string();
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let want_err = v["wantErr"].as_bool().unwrap();
        let got = run(&v);
        if LENGTH_OVERRIDES.contains(&rel_s.as_str()) {
            assert!(!want_err);
            if got != Outcome::HashLength {
                failures.push(format!("{rel_s}: override expects HashLength, got {got:?}"));
            }
            err += 1;
            continue;
        }
        match (want_err, got) {
            (false, Outcome::Ok) => ok += 1,
            (false, other) => failures.push(format!("{rel_s}: want ok, got {other:?}")),
            (true, Outcome::Ok) => failures.push(format!("{rel_s}: want error, verified")),
            (true, e) => {
                if fits(&name, e) {
                    err += 1;
                } else {
                    failures.push(format!("{rel_s}: error {e:?} does not fit the name"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    (ok, err)
}

fn run_subtree_inclusion(v: &Value) -> Outcome {
    let (Some(root), Some(leaf), Some(p)) =
        (hash(&v["root"]), hash(&v["leafHash"]), proof(&v["proof"]))
    else {
        return Outcome::HashLength;
    };
    match aq_tlog::subtree::verify_subtree_inclusion(
        &leaf,
        v["leafIdx"].as_u64().unwrap(),
        v["start"].as_u64().unwrap(),
        v["end"].as_u64().unwrap(),
        &p,
        &root,
    ) {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Proof(e),
    }
}

fn run_subtree_consistency(v: &Value) -> Outcome {
    let (Some(r1), Some(r2), Some(p)) = (hash(&v["root1"]), hash(&v["root2"]), proof(&v["proof"]))
    else {
        return Outcome::HashLength;
    };
    match aq_tlog::subtree::verify_subtree_consistency(
        v["start"].as_u64().unwrap(),
        v["end"].as_u64().unwrap(),
        v["size"].as_u64().unwrap(),
        &p,
        &r1,
        &r2,
    ) {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Proof(e),
    }
}

#[test]
fn subtree_inclusion_vectors() {
    let (ok, err) = check_dir(
        "subtreeinclusion",
        run_subtree_inclusion,
        error_fits_subtree,
    );
    assert!(ok >= 10 && err >= 100, "ok {ok} err {err}");
}

#[test]
fn subtree_consistency_vectors() {
    let (ok, err) = check_dir(
        "subtreeconsistency",
        run_subtree_consistency,
        error_fits_subtree,
    );
    assert!(ok >= 8 && err >= 60, "ok {ok} err {err}");
}

#[test]
fn inclusion_vectors() {
    let (ok, err) = check_dir("inclusion", run_inclusion, error_fits);
    assert!(ok >= 6 && err >= 60, "ok {ok} err {err}");
}

#[test]
fn consistency_vectors() {
    let (ok, err) = check_dir("consistency", run_consistency, error_fits);
    assert!(ok >= 5 && err >= 60, "ok {ok} err {err}");
}

#[test]
fn size_zero_rules() {
    // Library rule: size1 == 0 is an error even with an empty proof and equal roots.
    let e = aq_tlog::empty_root();
    assert_eq!(
        verify_consistency(0, 0, &[], &e, &e),
        Err(ProofError::EmptyOldTree)
    );
    assert_eq!(
        verify_consistency(0, 5, &[], &e, &e),
        Err(ProofError::EmptyOldTree)
    );
}

fn rfc6962_tree() -> (Vec<Vec<u8>>, Value) {
    let v: Value = serde_json::from_slice(
        &std::fs::read(Path::new(MERKLE).join("rfc6962-reference-tree.json")).unwrap(),
    )
    .unwrap();
    let leaves = v["leaves_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
        .collect();
    (leaves, v)
}

#[test]
fn rfc6962_reference_roots() {
    let (leaves, v) = rfc6962_tree();
    let mut t = MemoryTree::new();
    let mut a = aq_tlog::Appender::new();
    for n in 0..=leaves.len() {
        let want = v["roots_hex"][n.to_string()].as_str().unwrap();
        assert_eq!(t.root().to_hex(), want, "MemoryTree root at {n}");
        assert_eq!(a.root().to_hex(), want, "Appender root at {n}");
        if let Some(l) = leaves.get(n) {
            let lh = leaf_hash(l);
            assert_eq!(lh.to_hex(), v["leaf_hashes_hex"][n].as_str().unwrap());
            t.push_leaf_hash(lh);
            a.append(lh).unwrap();
        }
    }
    // Every historical root is available from the full tree.
    for n in 0..=leaves.len() as u64 {
        let want = v["roots_hex"][n.to_string()].as_str().unwrap();
        assert_eq!(t.root_at(n).unwrap().to_hex(), want);
    }
}

#[test]
fn generated_proofs_match_happy_path_vectors() {
    // Our generator must produce exactly the proofs in the happy-path vectors.
    let (leaves, _) = rfc6962_tree();
    let t = MemoryTree::from_entries(&leaves);
    let base = Path::new(MERKLE).join("transparency-dev-merkle");
    for f in json_files(&base.join("inclusion")) {
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        if !f.ends_with("happy-path.json") {
            continue;
        }
        let size = v["treeSize"].as_u64().unwrap();
        let idx = v["leafIdx"].as_u64().unwrap();
        assert_eq!(
            Some(t.inclusion_proof(idx, size).unwrap()),
            proof(&v["proof"]),
            "{f:?}"
        );
    }
    for f in json_files(&base.join("consistency")) {
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        if !f.ends_with("happy-path.json") {
            continue;
        }
        let (s1, s2) = (v["size1"].as_u64().unwrap(), v["size2"].as_u64().unwrap());
        assert_eq!(
            Some(t.consistency_proof(s1, s2).unwrap()),
            proof(&v["proof"]),
            "{f:?}"
        );
    }
}

fn argon(name: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(Path::new(MERKLE).join("go-sumdb-argon2020").join(name)).unwrap(),
    )
    .unwrap()
}

#[test]
fn argon2020_real_log_proofs() {
    let expected = argon("expected.json");
    let sth = argon("sth.json");
    let root = Hash::from_base64(sth["sha256_root_hash"].as_str().unwrap()).unwrap();
    let size = sth["tree_size"].as_u64().unwrap();
    assert_eq!(size, expected["tree_size"].as_u64().unwrap());

    let entries = argon("entries.json");
    let leaf_input = STANDARD
        .decode(entries["entries"][0]["leaf_input"].as_str().unwrap())
        .unwrap();
    let leaf = leaf_hash(&leaf_input);
    let p = argon("proof.json");
    let index = p["leaf_index"].as_u64().unwrap();
    let path: Vec<Hash> = p["audit_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(path.len(), 30);
    verify_inclusion(&leaf, index, size, &path, &root).unwrap();
    // One flipped bit anywhere must break it.
    let mut bad = path.clone();
    bad[17].0[3] ^= 1;
    assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());

    let c = argon("consistency.json");
    let cpath: Vec<Hash> = c["consistency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(cpath.len(), 30);
    let old = expected["old_tree_size"].as_u64().unwrap();
    let old_root = Hash::from_base64(expected["old_root_hash_b64"].as_str().unwrap()).unwrap();
    verify_consistency(old, size, &cpath, &old_root, &root).unwrap();
    assert!(verify_consistency(old + 1, size, &cpath, &old_root, &root).is_err());
}

#[test]
fn huge_sizes_do_not_overflow() {
    // Found by the tlog_proof fuzzer: sizes above 2^63 made a shift overflow.
    let h = Hash::ZERO;
    let big = 0x8379_d598_38fb_b7c2u64;
    assert!(verify_consistency(1, big, &[h; 3], &h, &h).is_err());
    assert!(verify_consistency(big - 1, big, &[h; 3], &h, &h).is_err());
    assert!(verify_consistency(big, u64::MAX, &[h; 3], &h, &h).is_err());
    assert!(verify_inclusion(&h, u64::MAX - 1, u64::MAX, &[h; 64], &h).is_err());
    assert!(verify_inclusion(&h, 1 << 63, u64::MAX, &[h; 3], &h).is_err());
}
