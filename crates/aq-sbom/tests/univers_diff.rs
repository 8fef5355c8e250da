//! Differential test: our vers containment against the Python `univers` library
//! (aboutcode) on a few thousand generated version / range pairs.
//!
//! Skips (with a message) when `python3 -c 'import univers'` fails; CI installs it with
//! `pip install univers`.
//!
//! Intended deviations, each a consequence of reading *vendor* grammars rather than
//! one ecosystem's (they are classified below and never counted as failures):
//! * `single-letter-suffix`: `1.0a1`, `2.1b`: PyPI reads `a`/`b`/`c` as pre-releases
//!   (before `1.0`); ICS vendors use trailing letters for later builds (`R16A` <
//!   `R16B`, CodeMeter `7.10a` after `7.10`), so we order them *after* the release.
//! * `prerelease-rank`: we rank pre-release words alpha < beta < dev/pre < rc; PyPI
//!   puts `dev` before `alpha`.
//! * `univers-error`: univers rejects the range or version (e.g. a duplicate bound);
//!   we still answer, so there is nothing to compare.
//!
//! Everything else, including every purely numeric case, must agree exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_sbom::range::{Containment, VersionRange};
use aq_sbom::version::Version;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::process::Command;

const PY: &str = r#"
import sys, json
from univers.version_range import VersionRange
for line in open(sys.argv[1]):
    case = json.loads(line)
    try:
        r = VersionRange.from_string(case["range"])
        v = r.version_class(case["version"])
        print(json.dumps({"ok": bool(v in r)}))
    except Exception as e:
        print(json.dumps({"err": type(e).__name__ + ": " + str(e)[:80]}))
"#;

fn numeric(rng: &mut ChaCha8Rng, parts: usize) -> String {
    (0..parts)
        .map(|_| rng.gen_range(0..12u32).to_string())
        .collect::<Vec<_>>()
        .join(".")
}

fn suffixed(rng: &mut ChaCha8Rng, scheme: &str) -> String {
    let base = numeric(rng, 3);
    let sfx: &[&str] = match scheme {
        "npm" => &["-alpha", "-beta.1", "-rc.1", "-rc.2", ""],
        "pypi" => &["a1", "b2", "rc1", ".post1", ".dev0", ""],
        _ => &[""],
    };
    format!("{base}{}", sfx[rng.gen_range(0..sfx.len())])
}

fn gen_case(rng: &mut ChaCha8Rng, with_suffix: bool) -> (String, String) {
    let schemes = ["generic", "npm", "pypi", "maven", "nuget", "gem"];
    let scheme = schemes[rng.gen_range(0..schemes.len())];
    let parts = if scheme == "npm" {
        3
    } else {
        rng.gen_range(1..4)
    };
    let ver = |rng: &mut ChaCha8Rng| {
        if with_suffix {
            suffixed(rng, scheme)
        } else {
            numeric(rng, parts)
        }
    };
    let n = rng.gen_range(1..5);
    let mut bounds: Vec<String> = (0..n).map(|_| ver(rng)).collect();
    bounds.sort_by(|a, b| {
        Version::parse(a)
            .compare(&Version::parse(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    bounds.dedup();
    // Alternate lower/upper bounds so the range is a valid union of intervals.
    let mut cs = Vec::new();
    let start_lower = rng.gen_bool(0.6);
    for (i, b) in bounds.iter().enumerate() {
        let lower = (i % 2 == 0) == start_lower;
        let op = match (lower, rng.gen_bool(0.5)) {
            (true, true) => ">=",
            (true, false) => ">",
            (false, true) => "<=",
            (false, false) => "<",
        };
        cs.push(format!("{op}{b}"));
    }
    if rng.gen_bool(0.1) {
        cs = vec![format!(
            "{}{}",
            if rng.gen_bool(0.5) { "=" } else { "!=" },
            bounds[0]
        )];
    }
    // Half the time, probe right at a bound: the bound itself, its base release,
    // a suffixed sibling or the next patch, where ordering rules actually matter.
    let version = if rng.gen_bool(0.5) {
        let b = &bounds[rng.gen_range(0..bounds.len())];
        let base: String = b
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()
            .unwrap_or(b)
            .trim_end_matches('.')
            .to_string();
        match rng.gen_range(0..4) {
            0 => b.clone(),
            1 if !base.is_empty() => base,
            2 if !base.is_empty() && with_suffix => {
                let s = suffixed(rng, scheme);
                let sfx = s.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
                format!("{base}{sfx}")
            }
            _ => {
                let mut p: Vec<u32> = base.split('.').filter_map(|x| x.parse().ok()).collect();
                if let Some(l) = p.last_mut() {
                    *l += 1;
                }
                if p.is_empty() {
                    ver(rng)
                } else {
                    p.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
                }
            }
        }
    } else {
        ver(rng)
    };
    (format!("vers:{scheme}/{}", cs.join("|")), version)
}

fn classify(range: &str, version: &str) -> Option<&'static str> {
    let all = format!("{range} {version}");
    let single_letter = all
        .as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_digit() && matches!(w[1], b'a' | b'b' | b'c'));
    if single_letter && !all.contains("alpha") && !all.contains("beta") {
        return Some("single-letter-suffix");
    }
    if all.contains("dev") {
        return Some("prerelease-rank");
    }
    None
}

#[test]
fn vers_containment_agrees_with_univers() {
    let ok = Command::new("python3")
        .args(["-c", "import univers"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        println!("SKIP: python3 with univers not available (pip install univers)");
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0x005e_eda9);
    let mut cases = Vec::new();
    for i in 0..4000 {
        cases.push(gen_case(&mut rng, i % 4 == 3));
    }
    let mut f = tempfile::NamedTempFile::new().unwrap();
    for (r, v) in &cases {
        writeln!(f, "{}", serde_json::json!({"range": r, "version": v})).unwrap();
    }
    f.flush().unwrap();
    let out = Command::new("python3")
        .args(["-c", PY, f.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), cases.len());
    let (mut agree, mut errors) = (0, 0);
    let mut deviations: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut failures = Vec::new();
    for ((range, version), theirs) in cases.iter().zip(&lines) {
        let Some(t) = theirs.get("ok").and_then(|x| x.as_bool()) else {
            errors += 1;
            continue;
        };
        let ours = match VersionRange::parse_vers(range).contains(&Version::parse(version)) {
            Containment::Inside => Some(true),
            Containment::Outside => Some(false),
            Containment::Unknown(_) => None,
        };
        if ours == Some(t) {
            agree += 1;
        } else if let Some(kind) = classify(range, version) {
            *deviations.entry(kind).or_default() += 1;
        } else {
            failures.push(format!("{range} ∋ {version}: univers {t}, ours {ours:?}"));
        }
    }
    println!(
        "univers differential: {} cases, {agree} agree, {errors} univers-error, deviations {deviations:?}, {} unexplained",
        cases.len(),
        failures.len()
    );
    for (r, v) in cases.iter().skip(3).step_by(400) {
        println!("  sample: {r} ∋ {v}");
    }
    assert!(agree >= 2500, "too few comparable cases: {agree}");
    assert!(
        failures.is_empty(),
        "{} unexplained disagreements:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
