//! The embedded catalogue against `data/README.md`: every file parses and the row counts the
//! README states (its Files table and its mapping-basis table) are the counts loaded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_compliance::catalogue::{Basis, Catalogue};
use std::collections::BTreeMap;

const README: &str = include_str!("../data/README.md");

/// `(number, label)` pairs of a README cell: "7 FR, 51 SR, 49 RE" → (7,"FR"), (51,"SR"), (49,"RE").
fn counted(cell: &str) -> Vec<(usize, String)> {
    let words: Vec<&str> = cell
        .split(|c: char| c == ',' || c == '+' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if let Ok(n) = words[i].parse::<usize>() {
            let label = words
                .get(i + 1)
                .filter(|w| w.parse::<usize>().is_err())
                .map(|s| s.to_string())
                .unwrap_or_default();
            out.push((n, label));
        }
        i += 1;
    }
    out
}

/// The Files table: file name → its "Rows" cell.
fn files_table() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in README.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() > 3 && cells[1].starts_with('`') && cells[1].ends_with(".csv`") {
            out.insert(cells[1].trim_matches('`').to_string(), cells[2].to_string());
        }
    }
    out
}

#[test]
fn every_file_parses_and_counts_match_the_readme() {
    let cat = Catalogue::builtin().unwrap();
    let c = cat.counts();
    let table = files_table();
    assert_eq!(table.len(), 9, "README lists the nine files: {table:?}");
    let want = |file: &str| counted(&table[file]);
    assert_eq!(
        want("iec62443-3-3.csv"),
        [
            (c.frs, "FR".into()),
            (c.srs, "SR".into()),
            (c.sr_enhancements, "RE".into())
        ]
    );
    assert_eq!(
        want("iec62443-4-2.csv"),
        [(c.crs, "CR/xDR".into()), (c.cr_enhancements, "RE".into())]
    );
    assert_eq!(
        want("iec62443-3-2.csv"),
        [(c.zcr_groups, "ZCR".into()), (c.zcr_items, "sub".into())]
    );
    for (file, n) in [
        ("iec62443-practices.csv", c.practices),
        ("nerc-cip.csv", c.nerc_cip),
        ("nis2.csv", c.nis2),
        ("cra.csv", c.cra),
        ("nist-800-82r3.csv", c.nist_800_82r3),
        ("mappings.csv", c.mappings),
    ] {
        assert_eq!(want(file), [(n, String::new())], "{file}");
    }
}

#[test]
fn mapping_basis_counts_match_the_readme() {
    let c = Catalogue::builtin().unwrap().counts();
    let mut seen = 0;
    for line in README.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(name) = cells.get(1).map(|s| s.trim_matches('`')) else {
            continue;
        };
        let basis = match name {
            "CSF11" => Basis::Csf11,
            "CSF11-derived" => Basis::Csf11Derived,
            "SCF-VMW" => Basis::ScfVmw,
            "SCF-VMW-join" => Basis::ScfVmwJoin,
            _ => continue,
        };
        let meaning = cells[2];
        let n: usize = meaning
            .rsplit_once('(')
            .and_then(|(_, r)| r.split_once(" rows)"))
            .map(|(n, _)| n.parse().unwrap())
            .expect("a (N rows) count");
        assert_eq!(c.mappings_by_basis[&basis], n, "{name}");
        // The README's confidence column is the basis's confidence.
        assert!(
            cells[3]
                .to_lowercase()
                .starts_with(basis.confidence().name()),
            "{name}: {}",
            cells[3]
        );
        seen += 1;
    }
    assert_eq!(seen, 4);
}

#[test]
fn readme_no_mapping_statements_hold() {
    // "CSF 1.1 cites no 3-3 SR for SR 3.6, 3.7, 7.5, 7.7, so these have no CSF/800-53 rows."
    let cat = Catalogue::builtin().unwrap();
    for id in ["SR 3.6", "SR 3.7", "SR 7.5", "SR 7.7"] {
        assert_eq!(cat.mappings_from(id).count(), 0, "{id}");
    }
    // Nothing maps to the CRA, and no SR maps to NIS2 Art. 23 or NERC CIP-008.
    for m in cat.mappings() {
        assert!(!m.target_id.starts_with("Annex I"), "{m:?}");
        assert!(!m.target_id.starts_with("Art. 23"), "{m:?}");
        assert!(!m.target_id.starts_with("CIP-008"), "{m:?}");
    }
}
