//! Vendor version strings, parsed into comparable token lists.
//!
//! ICS vendors do not use semver. This module reads the grammars seen in real
//! advisories and device firmware: `V14 SP1 Update 14`, `V4.2 HF1`,
//! `V3.1.0 (build 12)`, `CPCI85 V05`, `A11_U05`, `R16A`, `MX-V5.4.9.4-r3`,
//! `FRN 21.004`, date-like `2022-06-01`, series wildcards `2.x` / `R15x`.
//!
//! Invariants:
//! * parsing never fails and never panics; [`Version::is_plausible`] says whether the
//!   text looks like a version at all (a protocol name like `TCP` does not);
//! * comparison is a total order on the *comparable* subset only:
//!   [`Version::compare`] returns `None` when two versions follow different schemes
//!   (a leading word on one side and a number on the other, or different leading
//!   words), so a matcher reports "cannot tell" instead of guessing;
//! * trailing zero components do not matter (`V2` == `2.0.0`), leading zeros do not
//!   matter (`V05.30` == `5.30`), case does not matter.
//!
//! Order within one position: pre-release word (`beta`, `rc`) < end of version <
//! other word (`7.10` < `7.10a`) < post-release qualifier (`SP`, `Update`, `HF`,
//! `P`, `build`, `r`) < number. Qualifiers rank `Update` < `HF` < `Patch` <
//! `build`/`r` < `SP`, so `V14 Update 3` < `V14 SP1` < `V14 SP1 Update 14` < `V14 SP2`.

use serde::{Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;

/// Longest version text we tokenise; longer input is cut (and is implausible anyway).
const MAX_VERSION_LEN: usize = 256;
/// Most tokens kept from one version.
const MAX_TOKENS: usize = 32;

/// Post-release qualifier kinds, ordered by how late in a release line they come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Qualifier {
    /// `Update`, `Upd`, `U` (Siemens TIA updates, Mitsubishi `U05`).
    Update,
    /// `HF`, `hotfix`.
    Hotfix,
    /// `P`, `patch`, `pl` (WinCC OA `P021`).
    Patch,
    /// `build`, `b`… only as a full word.
    Build,
    /// `r`, `rev`, `revision` (Mobotix `-r3`).
    Revision,
    /// `SP`, `SR`, `servicepack` (service packs and service releases).
    ServicePack,
}

/// One token of a version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tok {
    /// A pre-release marker, ranked alpha < beta < pre < rc.
    Pre(u8),
    /// Any other word, lower-cased.
    Word(String),
    /// A post-release qualifier.
    Post(Qualifier),
    /// A number (leading zeros dropped).
    Num(u64),
}

impl Tok {
    fn class(&self) -> u8 {
        match self {
            Tok::Pre(_) => 0,
            Tok::Word(_) => 2,
            Tok::Post(_) => 3,
            Tok::Num(_) => 4,
        }
    }
}

/// A parsed vendor version. Keeps the raw text for reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    raw: String,
    toks: Vec<Tok>,
    /// Tokens before zero runs were dropped, for series membership (`6.0` names
    /// the 6.0 line, not all of 6).
    full: Vec<Tok>,
    /// Ends in `x`/`*`: the version names a series (`2.x`, `R15x`).
    wildcard: bool,
    /// For `x` glued to digits (`R15x`, `8.1x`, `3xx`): how many digits the `x`s
    /// stand for. The last number is then already scaled (`R15x` → 150).
    digit_wild: u8,
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

fn qualifier(word: &str, next_is_num: bool) -> Option<Qualifier> {
    Some(match word {
        "update" | "upd" => Qualifier::Update,
        "u" if next_is_num => Qualifier::Update,
        "hf" | "hotfix" => Qualifier::Hotfix,
        "patch" | "pl" => Qualifier::Patch,
        "p" if next_is_num => Qualifier::Patch,
        "build" | "bld" => Qualifier::Build,
        "rev" | "revision" => Qualifier::Revision,
        "r" if next_is_num => Qualifier::Revision,
        "sp" | "sr" | "servicepack" => Qualifier::ServicePack,
        _ => return None,
    })
}

fn pre_rank(word: &str) -> Option<u8> {
    Some(match word {
        "alpha" => 0,
        "beta" => 1,
        "pre" | "preview" | "dev" | "snapshot" | "ea" => 2,
        "rc" => 3,
        _ => return None,
    })
}

/// Words that stand in front of a version number and carry no meaning for order.
fn is_prefix_word(w: &str) -> bool {
    matches!(
        w,
        "v" | "ver" | "version" | "versions" | "fw" | "firmware" | "frn" | "r" | "rel" | "release"
    )
}

/// Splits into raw alphanumeric runs, then at digit/letter boundaries.
fn raw_tokens(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_digit = false;
    for c in s.chars() {
        if out.len() >= MAX_TOKENS {
            break;
        }
        if c == '*' {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push("*".to_string());
            continue;
        }
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let d = c.is_ascii_digit();
        if !cur.is_empty() && d != cur_digit {
            out.push(std::mem::take(&mut cur));
        }
        cur_digit = d;
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() && out.len() < MAX_TOKENS {
        out.push(cur);
    }
    out
}

impl Version {
    /// Parses a version. Never fails; see [`Version::is_plausible`].
    pub fn parse(raw: &str) -> Version {
        let raw = raw.trim();
        let cut = if raw.len() > MAX_VERSION_LEN {
            let mut end = MAX_VERSION_LEN;
            while !raw.is_char_boundary(end) {
                end -= 1;
            }
            &raw[..end]
        } else {
            raw
        };
        let words = raw_tokens(cut);
        let mut toks: Vec<Tok> = Vec::with_capacity(words.len());
        let mut wildcard = false;
        let n = words.len();
        let mut leading = true;
        for (i, w) in words.iter().enumerate() {
            let next_is_num = words
                .get(i + 1)
                .is_some_and(|x| x.as_bytes().first().is_some_and(u8::is_ascii_digit));
            if w == "*" || (w == "x" && i + 1 == n) {
                wildcard = true;
                break;
            }
            if w.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                leading = false;
                // Numbers too long for u64 stay words; they still compare consistently.
                match w.parse::<u64>() {
                    Ok(v) if w.len() <= 18 => toks.push(Tok::Num(v)),
                    _ => toks.push(Tok::Word(w.clone())),
                }
                continue;
            }
            // `V` before a number anywhere (`CPCI85 V05`, `MX-V5.4`, `R302-V0`) is noise,
            // and so is any prefix word before the first number.
            if next_is_num && (w == "v" || (leading && is_prefix_word(w))) {
                continue;
            }
            if let Some(r) = pre_rank(w) {
                toks.push(Tok::Pre(r));
            } else if let Some(q) = qualifier(w, next_is_num) {
                toks.push(Tok::Post(q));
            } else {
                toks.push(Tok::Word(w.clone()));
            }
        }
        // `R15x`, `8.1x`, `3xx`: the x's stand for digits of the last number.
        let mut digit_wild = 0u8;
        if wildcard {
            let t = cut.trim_end();
            let xs = t.len() - t.trim_end_matches(['x', 'X']).len();
            let before = t.trim_end_matches(['x', 'X']);
            if xs > 0 && xs <= 3 && before.ends_with(|c: char| c.is_ascii_digit()) {
                if let Some(Tok::Num(n)) = toks.last_mut() {
                    if let Some(scaled) =
                        10u64.checked_pow(xs as u32).and_then(|m| n.checked_mul(m))
                    {
                        *n = scaled;
                        digit_wild = xs as u8;
                    }
                }
            }
        }
        let full = toks.clone();
        canonicalise(&mut toks);
        Version {
            raw: raw.to_string(),
            toks,
            full,
            wildcard,
            digit_wild,
        }
    }

    /// The first version of the series a wildcard names (`R15x` → 150, `2.x` → 2).
    pub fn series_start(&self) -> Version {
        Version {
            raw: format!("{} (start of series)", self.raw),
            toks: self.toks.clone(),
            full: self.full.clone(),
            wildcard: false,
            digit_wild: 0,
        }
    }

    /// The text as given.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The tokens, for diagnostics.
    pub fn tokens(&self) -> &[Tok] {
        &self.toks
    }

    /// True if the version names a whole series (`2.x`, `R15x`, `6.*`).
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// Whether the text looks like a version: it has a number, few words, and starts
    /// with a number or a short scheme word followed by a number.
    pub fn is_plausible(&self) -> bool {
        let nums = self
            .toks
            .iter()
            .filter(|t| matches!(t, Tok::Num(_)))
            .count();
        let words = self
            .toks
            .iter()
            .filter(|t| matches!(t, Tok::Word(w) if w.len() > 1))
            .count();
        if nums == 0 || words > 2 {
            return false;
        }
        match (self.toks.first(), self.toks.get(1)) {
            (Some(Tok::Num(_)), _) => true,
            (Some(Tok::Word(w)), Some(Tok::Num(_))) => w.len() <= 6,
            _ => false,
        }
    }

    /// Compares two versions of the same scheme; `None` if the schemes differ.
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        // Different leading schemes are incomparable: a word on one side and a
        // number on the other, or two different leading words.
        match (self.toks.first(), other.toks.first()) {
            (Some(Tok::Word(a)), Some(Tok::Word(b))) if a != b => return None,
            (Some(Tok::Word(_)), Some(Tok::Num(_))) | (Some(Tok::Num(_)), Some(Tok::Word(_))) => {
                return None;
            }
            (None, _) | (_, None) => return None,
            _ => {}
        }
        Some(cmp_toks(&self.toks, &other.toks))
    }

    /// True if `self` is `series` or lies inside it: the series' tokens are a prefix of
    /// ours (`32.011` is in series `32`; `6.0.3` is in `6.0`; `3.7 SP1 Upd 2` is in
    /// `3.7 SP1`). Trailing zeros of the series are ignored.
    pub fn in_series(&self, series: &Version) -> Option<bool> {
        let ord = self.compare(series)?;
        let s = &series.full;
        if self.full.len() < s.len() {
            // `6` is the same release as `6.0`.
            return Some(ord == Ordering::Equal);
        }
        Some(self.full.iter().zip(s.iter()).all(|(a, b)| a == b))
    }

    /// The first version after the series this one names (`2.x` → `3`, `R15x` → `16`):
    /// used to turn `<= 2.x` into `< 3`.
    pub fn series_end(&self) -> Option<Version> {
        let step = 10u64.checked_pow(u32::from(self.digit_wild))?;
        let mut toks = self.full.clone();
        while let Some(t) = toks.pop() {
            if let Tok::Num(n) = t {
                toks.push(Tok::Num(n.checked_add(step)?));
                let full = toks.clone();
                canonicalise(&mut toks);
                return Some(Version {
                    raw: format!("{} (end of series)", self.raw),
                    full,
                    toks,
                    wildcard: false,
                    digit_wild: 0,
                });
            }
        }
        None
    }
}

/// Drops runs of zero components that end the numeric part of a release (`1.0.0` →
/// `1`, `2.0 SP1` → `2 SP1`, `1.0.0-rc1` → `1-rc1`), never the first token. After
/// this, equal versions have identical token lists, which keeps the order total.
fn canonicalise(toks: &mut Vec<Tok>) {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        if i > 0 && toks.get(i) == Some(&Tok::Num(0)) {
            let mut j = i;
            while toks.get(j) == Some(&Tok::Num(0)) {
                j += 1;
            }
            let next_is_num = matches!(toks.get(j), Some(Tok::Num(_)));
            if !next_is_num {
                i = j;
                continue;
            }
            out.extend(toks.get(i..j).unwrap_or(&[]).iter().cloned());
            i = j;
            continue;
        }
        if let Some(t) = toks.get(i) {
            out.push(t.clone());
        }
        i += 1;
    }
    *toks = out;
}

/// Rank of "the version ended here", between pre-release markers and everything else.
const END_CLASS: u8 = 1;

/// Lexicographic order over canonical token lists, a missing token ranking as
/// [`END_CLASS`]: a total order.
fn cmp_toks(a: &[Tok], b: &[Tok]) -> Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let o = match (a.get(i), b.get(i)) {
            (None, None) => Ordering::Equal,
            (Some(x), None) => x.class().cmp(&END_CLASS),
            (None, Some(y)) => END_CLASS.cmp(&y.class()),
            (Some(x), Some(y)) => match (x, y) {
                (Tok::Num(p), Tok::Num(q)) => p.cmp(q),
                (Tok::Word(p), Tok::Word(q)) => p.cmp(q),
                (Tok::Post(p), Tok::Post(q)) => p.cmp(q),
                (Tok::Pre(p), Tok::Pre(q)) => p.cmp(q),
                _ => x.class().cmp(&y.class()),
            },
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lt(a: &str, b: &str) {
        let (x, y) = (Version::parse(a), Version::parse(b));
        assert_eq!(
            x.compare(&y),
            Some(Ordering::Less),
            "{a} < {b}: {x:?} {y:?}"
        );
        assert_eq!(y.compare(&x), Some(Ordering::Greater), "{b} > {a}");
    }
    fn eq(a: &str, b: &str) {
        let (x, y) = (Version::parse(a), Version::parse(b));
        assert_eq!(
            x.compare(&y),
            Some(Ordering::Equal),
            "{a} == {b}: {x:?} {y:?}"
        );
    }

    #[test]
    fn siemens_grammar() {
        lt("V14", "V14 SP1");
        lt("V14 Update 3", "V14 SP1");
        lt("V14 SP1", "V14 SP1 Update 14");
        lt("V14 SP1 Update 6", "V14 SP1 Update 14");
        lt("V14 SP1 Update 14", "V14 SP2");
        lt("V14 SP2", "V15");
        eq("V14 SP1 Upd 6", "V14 SP1 Update 6");
        lt("V4.2", "V4.2 HF1");
        lt("V4.2 HF1", "V4.2.1");
        lt("V3.1.0 (build 12)", "V3.1.0 (build 13)");
        lt("V3.1.0", "V3.1.0 (build 12)");
        lt("V3.14 P020", "V3.14 P021");
        lt("V3.14", "V3.14 P021");
        lt("V2020 SP1", "V2020 SP1 Update 1");
        eq("V05.30", "5.30");
        lt("V9.30", "V9.40");
        lt("V7.80", "V9.40");
    }

    #[test]
    fn other_vendor_grammars() {
        lt("CPCI85 V05", "CPCI85 V05.30");
        lt("CPCI85 V04.99", "CPCI85 V05");
        lt("A11_U05", "A11_U06");
        lt("A11_U05", "A12_U01");
        lt("R15A", "R15B");
        lt("R15B", "R16A");
        lt("MX-V5.4.9.4", "MX-V5.4.9.4-r1");
        lt("MX-V5.4.9.4-r1", "MX-V5.4.9.4-r3");
        lt("MX-V4.4.2.73.r2", "MX-V5.0.0.127");
        lt("FRN 21.003", "21.004");
        lt("v33.011", "v33.015");
        lt("2022-06-01", "2023-01-15");
        lt("1.0-rc1", "1.0");
        lt("1.0-beta", "1.0-rc1");
        lt("7.10", "7.10a");
        lt("R302-V0", "R302-V1");
        lt("7_SR540", "7_SR620");
        eq("V2", "2.0.0");
        eq("1.5.0.0", "1.5");
    }

    #[test]
    fn incomparable_schemes() {
        let a = Version::parse("IPv4");
        let b = Version::parse("6.0.1.67");
        assert_eq!(a.compare(&b), None);
        assert_eq!(
            Version::parse("CPCI85 V05").compare(&Version::parse("MX-V5.4")),
            None
        );
    }

    #[test]
    fn plausibility() {
        for ok in [
            "V14 SP1 Update 14",
            "R16A",
            "A11_U05",
            "CPCI85 V05",
            "2.x",
            "6.0.1.67",
        ] {
            assert!(Version::parse(ok).is_plausible(), "{ok}");
        }
        for bad in [
            "TCP",
            "",
            "The first 5 digits of serial No. \"26061\"",
            "A_B",
            "2015 and 2021 (Drives manufactured in 2022 are not affected)",
        ] {
            assert!(!Version::parse(bad).is_plausible(), "{bad}");
        }
    }

    #[test]
    fn series_and_wildcards() {
        let s = Version::parse("2.x");
        assert!(s.is_wildcard());
        assert_eq!(s.series_end().map(|v| v.toks), Some(vec![Tok::Num(3)]));
        assert_eq!(Version::parse("2.0.0").tokens(), &[Tok::Num(2)]);
        assert_eq!(
            Version::parse("1.0.0-rc1").tokens(),
            &[Tok::Num(1), Tok::Pre(3), Tok::Num(1)]
        );
        assert_eq!(Version::parse("0.0").tokens(), &[Tok::Num(0)]);
        let r = Version::parse("R15x");
        assert!(r.is_wildcard());
        assert_eq!(r.tokens(), &[Tok::Num(150)]);
        assert_eq!(r.series_end().map(|v| v.toks), Some(vec![Tok::Num(160)]));
        let g = Version::parse("8.1x");
        assert_eq!(g.tokens(), &[Tok::Num(8), Tok::Num(10)]);
        let h = Version::parse("8.0x");
        assert_eq!(
            h.series_end().map(|v| v.toks),
            Some(vec![Tok::Num(8), Tok::Num(10)])
        );
        assert_eq!(
            Version::parse("32.011").in_series(&Version::parse("32")),
            Some(true)
        );
        assert_eq!(
            Version::parse("33.011").in_series(&Version::parse("32")),
            Some(false)
        );
        assert_eq!(
            Version::parse("6.0.3").in_series(&Version::parse("6.0")),
            Some(true)
        );
        assert_eq!(
            Version::parse("6").in_series(&Version::parse("6.0")),
            Some(true)
        );
        assert_eq!(
            Version::parse("6.1").in_series(&Version::parse("6.0")),
            Some(false)
        );
        assert_eq!(
            Version::parse("3.7 SP1 Upd 2").in_series(&Version::parse("3.7 SP1")),
            Some(true)
        );
    }

    #[test]
    fn order_is_total_on_comparable_versions() {
        // Found by fuzzing: trailing-zero equality used to clash with class order.
        let vs: Vec<Version> = [
            "1", "1.0", "1.a", "1.0.a", "1.0-rc1", "1-rc1", "1.0.0.1", "1 SP1", "1.0 SP1", "1.1",
        ]
        .iter()
        .map(|s| Version::parse(s))
        .collect();
        for a in &vs {
            for b in &vs {
                for c in &vs {
                    let (ab, bc, ac) = (
                        a.compare(b).unwrap(),
                        b.compare(c).unwrap(),
                        a.compare(c).unwrap(),
                    );
                    if ab != Ordering::Greater && bc != Ordering::Greater {
                        assert_ne!(ac, Ordering::Greater, "{a} <= {b} <= {c}");
                    }
                    assert_eq!(ab, b.compare(a).unwrap().reverse());
                }
            }
        }
        lt("1.0.0-rc1", "1");
        eq("1.0 SP1", "1 SP1");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "",
            "*",
            "x",
            "....",
            "99999999999999999999999",
            "é1",
            "v",
            "V V V 1",
        ] {
            let v = Version::parse(s);
            let _ = v.compare(&Version::parse("1"));
            let _ = v.series_end();
            let _ = v.in_series(&v);
        }
    }
}
