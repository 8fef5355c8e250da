//! Version ranges as real advisories write them.
//!
//! Three entry points, one result type:
//! * [`VersionRange::parse_vers`]: `vers:` URIs, tolerating what CISA's CSAF files
//!   do with them (`vers:all/<V7.0.3`, `vers:all/>=V2.9.2<V2.9.4` without `|`,
//!   `vers:all/*`);
//! * [`VersionRange::parse_text`]: everything that appears in a CSAF
//!   `product_version_range` branch: vers, vls comparators (`< V3.3`,
//!   `>v33.011|<v33.015`), and free text (`All versions < V14 SP1`, `All versions`,
//!   `V2.0 and later`, `prior to 1.5.0.0`, `28 - 32`, `>FW16_up_to_and_including_FW26`);
//! * [`VersionRange::parse_product_version`]: a CSAF `product_version` branch: one
//!   version or alternatives (`5.1 | 6.0 | 6.1`), each naming a release series.
//!
//! Invariant: nothing is dropped. Text that cannot be read with confidence becomes
//! [`RangeKind::Unparsed`] with the raw text kept, and [`VersionRange::contains`]
//! answers [`Containment::Unknown`] for it, so the matcher reports "needs review"
//! rather than "not affected". Constraint evaluation follows the vers specification's
//! containment algorithm (sorted constraints, `=`/`!=` first, then pairwise intervals).

use crate::version::Version;
use serde::Serialize;
use std::cmp::Ordering;

/// Most constraints accepted in one range.
const MAX_CONSTRAINTS: usize = 64;
/// Longest range text accepted.
const MAX_RANGE_LEN: usize = 1024;

/// A comparator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "=",
            Op::Ne => "!=",
        }
    }
}

/// One comparator and its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Constraint {
    /// Comparator.
    pub op: Op,
    /// Version compared against.
    pub version: Version,
}

/// What a range means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum RangeKind {
    /// Every version.
    All,
    /// vers-style constraints.
    Constraints(Vec<Constraint>),
    /// Any of these versions, each naming itself and its sub-releases (`6.0` covers `6.0.3`).
    AnyOf(Vec<Version>),
    /// Could not be read; the raw text is kept in [`VersionRange::raw`].
    Unparsed,
}

/// A parsed range with its raw text and any caveats noticed while parsing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionRange {
    /// The text as written in the source document.
    pub raw: String,
    /// Its meaning.
    pub kind: RangeKind,
    /// Caveats (non-conforming syntax, a qualifier such as `NMC2` in front of the range).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Answer to "is this version inside the range?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Containment {
    /// Inside.
    Inside,
    /// Outside.
    Outside,
    /// Cannot tell; the string says why.
    Unknown(String),
}

fn unparsed(raw: &str, why: &str) -> VersionRange {
    VersionRange {
        raw: raw.to_string(),
        kind: RangeKind::Unparsed,
        notes: vec![why.to_string()],
    }
}

/// ASCII-case-insensitive prefix strip.
fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    let head = s.get(..p.len())?;
    head.eq_ignore_ascii_case(p).then(|| &s[p.len()..])
}

/// ASCII-case-insensitive suffix strip.
fn strip_suffix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(p.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(p).then(|| &s[..cut])
}

/// Splits at the first ASCII-case-insensitive occurrence of `sep`.
fn split_once_ci<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let lower = s.to_ascii_lowercase();
    let i = lower.find(&sep.to_ascii_lowercase())?;
    Some((s.get(..i)?, s.get(i + sep.len()..)?))
}

fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!')
}

/// Splits `>=V2.9.2<V2.9.4` or `>= V2.0 < V2.1.6` before every comparator run that
/// follows something else.
fn split_at_ops(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev_op = true;
    let mut seen_non_op = false;
    for (i, c) in s.char_indices() {
        let op = is_op_char(c);
        if op && !prev_op && seen_non_op {
            out.push(&s[start..i]);
            start = i;
            seen_non_op = false;
        }
        if !op && !c.is_whitespace() {
            seen_non_op = true;
        }
        if !c.is_whitespace() {
            prev_op = op;
        }
    }
    out.push(&s[start..]);
    out
}

/// Parses `<=X`, `< X`, `=X`, `X` (no comparator means `=`).
fn parse_op(s: &str) -> (Op, &str) {
    let s = s.trim();
    for (p, op) in [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("!=", Op::Ne),
        ("==", Op::Eq),
        ("=<", Op::Le),
        ("=>", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("=", Op::Eq),
    ] {
        if let Some(rest) = s.strip_prefix(p) {
            return (op, rest.trim());
        }
    }
    (Op::Eq, s)
}

/// Turns one comparator on a series wildcard into plain constraints.
fn push_constraint(out: &mut Vec<Constraint>, op: Op, v: Version) -> Result<(), String> {
    if !v.is_wildcard() {
        out.push(Constraint { op, version: v });
        return Ok(());
    }
    let end = v
        .series_end()
        .ok_or_else(|| format!("series `{}` has no number to bound it", v.raw()))?;
    let start = v.series_start();
    match op {
        Op::Lt | Op::Ne => out.push(Constraint { op, version: start }),
        Op::Ge => out.push(Constraint {
            op: Op::Ge,
            version: start,
        }),
        Op::Le => out.push(Constraint {
            op: Op::Lt,
            version: end,
        }),
        Op::Gt => out.push(Constraint {
            op: Op::Ge,
            version: end,
        }),
        Op::Eq => {
            out.push(Constraint {
                op: Op::Ge,
                version: start,
            });
            out.push(Constraint {
                op: Op::Lt,
                version: end,
            });
        }
    }
    Ok(())
}

/// Parses a list of comparator pieces into constraints.
fn constraints_from_pieces(
    raw: &str,
    pieces: &[&str],
    notes: &mut Vec<String>,
) -> Result<Vec<Constraint>, String> {
    let mut out = Vec::new();
    for piece in pieces {
        let piece = piece.trim();
        // Text before the first comparator: a short qualifier (`NMC2 <= 6.9.6`) is
        // kept as a note; anything longer is a condition we cannot evaluate.
        let body = match piece.find(is_op_char) {
            Some(i) if i > 0 => {
                let qual = piece[..i].trim();
                if qual.split_whitespace().count() > 1 || qual.len() > 12 {
                    return Err(format!("condition `{qual}` cannot be evaluated"));
                }
                notes.push(format!("applies to `{qual}` only"));
                &piece[i..]
            }
            _ => piece,
        };
        for part in split_at_ops(body) {
            let rest = part.trim().trim_end_matches(['-', ',', ';']).trim();
            if rest.is_empty() {
                continue;
            }
            let (op, vtext) = parse_op(rest);
            if vtext.contains('/') {
                return Err("alternative bounds separated by `/`".to_string());
            }
            let v = Version::parse(vtext);
            if !v.is_plausible() {
                return Err(format!("`{vtext}` is not a version"));
            }
            push_constraint(&mut out, op, v)?;
            if out.len() > MAX_CONSTRAINTS {
                return Err(format!("more than {MAX_CONSTRAINTS} constraints"));
            }
        }
    }
    if out.is_empty() {
        return Err(format!("no constraint in `{raw}`"));
    }
    Ok(out)
}

impl VersionRange {
    /// Every version.
    pub fn all(raw: &str) -> Self {
        VersionRange {
            raw: raw.to_string(),
            kind: RangeKind::All,
            notes: Vec::new(),
        }
    }

    /// A range from constraints built elsewhere (OSV events, CycloneDX `affects`).
    pub fn from_constraints(raw: &str, constraints: Vec<Constraint>) -> Self {
        VersionRange {
            raw: raw.to_string(),
            kind: if constraints.is_empty() {
                RangeKind::Unparsed
            } else {
                RangeKind::Constraints(constraints)
            },
            notes: Vec::new(),
        }
    }

    /// True if this range could not be read.
    pub fn is_unparsed(&self) -> bool {
        self.kind == RangeKind::Unparsed
    }

    /// Parses a `vers:` URI, tolerating CISA's non-conforming forms.
    pub fn parse_vers(raw: &str) -> Self {
        let s = raw.trim();
        if s.len() > MAX_RANGE_LEN {
            return unparsed(raw, "range text too long");
        }
        let Some(rest) = strip_prefix_ci(s, "vers:") else {
            return unparsed(raw, "not a vers URI");
        };
        let Some((_scheme, body)) = rest.split_once('/') else {
            return unparsed(raw, "vers URI without `/`");
        };
        let body = body.trim();
        if body == "*" {
            return VersionRange::all(raw);
        }
        let mut notes = Vec::new();
        let pieces: Vec<&str> = body.split('|').collect();
        if pieces.iter().any(|p| split_at_ops(p).len() > 1) {
            notes.push("non-conforming vers: constraints not separated by `|`".to_string());
        }
        match constraints_from_pieces(raw, &pieces, &mut notes) {
            Ok(c) => VersionRange {
                raw: raw.to_string(),
                kind: RangeKind::Constraints(c),
                notes,
            },
            Err(why) => unparsed(raw, &why),
        }
    }

    /// Parses the text of a CSAF `product_version_range` (vers, vls or free text).
    pub fn parse_text(raw: &str) -> Self {
        let s = raw.trim();
        if s.is_empty() {
            return unparsed(raw, "empty range");
        }
        if s.len() > MAX_RANGE_LEN {
            return unparsed(raw, "range text too long");
        }
        if strip_prefix_ci(s, "vers:").is_some() {
            return Self::parse_vers(raw);
        }
        if s == "*" {
            return VersionRange::all(raw);
        }
        let owned = s.replace('_', " ");
        let mut t = owned.trim();
        let mut all_prefix = false;
        for p in ["all versions", "all version", "all"] {
            if let Some(r) = strip_prefix_ci(t, p) {
                if r.is_empty() || r.starts_with([' ', ':', ',', '<', '>', '=']) {
                    t = r.trim_start_matches([' ', ':', ',']).trim();
                    all_prefix = true;
                    break;
                }
            }
        }
        if t.is_empty() && all_prefix {
            return VersionRange::all(raw);
        }
        for p in ["versions ", "version ", "firmware "] {
            if let Some(r) = strip_prefix_ci(t, p) {
                t = r.trim();
            }
        }
        let rewritten = rewrite_phrases(t);
        let text = rewritten.as_deref().unwrap_or(t);
        let mut notes = Vec::new();
        let pieces: Vec<&str> = split_pieces(text);
        match constraints_from_pieces(raw, &pieces, &mut notes) {
            Ok(c) => VersionRange {
                raw: raw.to_string(),
                kind: RangeKind::Constraints(c),
                notes,
            },
            Err(why) => unparsed(raw, &why),
        }
    }

    /// Parses the text of a CSAF `product_version`: one version or `a | b | c`
    /// alternatives, each covering its own sub-releases. Falls back to
    /// [`VersionRange::parse_text`] when the text is a range in disguise (`28 - 32`).
    pub fn parse_product_version(raw: &str) -> Self {
        let s = raw.trim();
        if strip_prefix_ci(s, "vers:").is_some() || s == "*" {
            return Self::parse_vers_or_text(raw);
        }
        if s.len() > MAX_RANGE_LEN {
            return unparsed(raw, "version text too long");
        }
        if s.contains(['<', '>']) || s.contains(" - ") || s.contains(" to ") {
            return Self::parse_text(raw);
        }
        let mut alts = Vec::new();
        for piece in s.split('|') {
            let v = Version::parse(piece);
            if !v.is_plausible() {
                return unparsed(raw, &format!("`{}` is not a version", piece.trim()));
            }
            alts.push(v);
            if alts.len() > MAX_CONSTRAINTS {
                return unparsed(raw, "too many alternatives");
            }
        }
        VersionRange {
            raw: raw.to_string(),
            kind: RangeKind::AnyOf(alts),
            notes: Vec::new(),
        }
    }

    fn parse_vers_or_text(raw: &str) -> Self {
        if raw.trim() == "*" {
            VersionRange::all(raw)
        } else {
            Self::parse_vers(raw)
        }
    }

    /// Is `v` inside this range?
    pub fn contains(&self, v: &Version) -> Containment {
        match &self.kind {
            RangeKind::All => Containment::Inside,
            RangeKind::Unparsed => Containment::Unknown(format!(
                "range `{}` could not be read ({})",
                self.raw,
                self.notes.join("; ")
            )),
            RangeKind::AnyOf(alts) => {
                let mut comparable = false;
                for a in alts {
                    let hit = if a.is_wildcard() {
                        // [start, end) of the series.
                        match (
                            v.compare(&a.series_start()),
                            a.series_end().and_then(|e| v.compare(&e)),
                        ) {
                            (Some(lo), Some(hi)) => {
                                Some(lo != Ordering::Less && hi == Ordering::Less)
                            }
                            _ => None,
                        }
                    } else {
                        v.in_series(a)
                    };
                    match hit {
                        Some(true) => return Containment::Inside,
                        Some(false) => comparable = true,
                        None => {}
                    }
                }
                if comparable {
                    Containment::Outside
                } else {
                    Containment::Unknown(format!(
                        "version `{}` is not comparable with `{}`",
                        v.raw(),
                        self.raw
                    ))
                }
            }
            RangeKind::Constraints(cs) => match vers_contains(cs, v) {
                Some(true) => Containment::Inside,
                Some(false) => Containment::Outside,
                None => Containment::Unknown(format!(
                    "version `{}` is not comparable with `{}`",
                    v.raw(),
                    self.raw
                )),
            },
        }
    }

    /// A canonical rendering of the constraints (`>=7.80|<9.40`), for reports.
    pub fn canonical(&self) -> String {
        match &self.kind {
            RangeKind::All => "*".to_string(),
            RangeKind::Unparsed => format!("unparsed: {}", self.raw),
            RangeKind::AnyOf(a) => a.iter().map(|v| v.raw()).collect::<Vec<_>>().join(" | "),
            RangeKind::Constraints(cs) => cs
                .iter()
                .map(|c| format!("{}{}", c.op.symbol(), c.version.raw()))
                .collect::<Vec<_>>()
                .join("|"),
        }
    }
}

/// Splits comparator lists on `|`, `,`, `;` and ` and `.
fn split_pieces(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for a in t.split(['|', ',', ';']) {
        let mut rest = a;
        while let Some((l, r)) = split_once_ci(rest, " and ") {
            out.push(l);
            rest = r;
        }
        out.push(rest);
    }
    out
}

/// Rewrites free-text phrases into comparator syntax. `None` if nothing matched.
fn rewrite_phrases(t: &str) -> Option<String> {
    let t = t.trim();
    for p in [
        " and later",
        " or later",
        " and newer",
        " or newer",
        " and higher",
        " or higher",
        " and above",
        " or above",
        " and after",
        "+",
    ] {
        if let Some(x) = strip_suffix_ci(t, p) {
            return Some(format!(">={}", x.trim()));
        }
    }
    for p in [
        " and earlier",
        " or earlier",
        " and prior",
        " and older",
        " or older",
        " or lower",
        " and lower",
        " and below",
        " or below",
        " and before",
    ] {
        if let Some(x) = strip_suffix_ci(t, p) {
            return Some(format!("<={}", x.trim()));
        }
    }
    for p in [
        "prior to ",
        "before ",
        "earlier than ",
        "older than ",
        "lower than ",
        "below ",
    ] {
        if let Some(x) = strip_prefix_ci(t, p) {
            return Some(format!("<{}", x.trim()));
        }
    }
    for p in ["up to and including ", "through ", "up to "] {
        if let Some(x) = strip_prefix_ci(t, p) {
            return Some(format!("<={}", x.trim()));
        }
    }
    if let Some(x) = strip_prefix_ci(t, "after ") {
        return Some(format!(">{}", x.trim()));
    }
    // `>FW16 up to and including FW26`
    if let Some((l, r)) = split_once_ci(t, " up to and including ") {
        return Some(format!("{}|<={}", l.trim(), r.trim()));
    }
    let body = strip_prefix_ci(t, "from ").unwrap_or(t);
    // `28 - 32`, `v1.0 to v1.6`: the upper end names a release line and covers its
    // sub-releases (`32.011` is a V32 firmware), so it becomes a series bound.
    for sep in [" to ", " through ", " - "] {
        if let Some((l, r)) = split_once_ci(body, sep) {
            if !l.contains(['<', '>', '=']) && !r.contains(['<', '>', '=']) {
                let r = r.trim();
                let upper = if Version::parse(r).is_wildcard() {
                    r.to_string()
                } else {
                    format!("{r}.x")
                };
                return Some(format!(">={}|<={upper}", l.trim()));
            }
        }
    }
    None
}

fn cmp(v: &Version, c: &Version) -> Option<Ordering> {
    v.compare(c)
}

fn satisfies(v: &Version, c: &Constraint) -> Option<bool> {
    let o = cmp(v, &c.version)?;
    Some(match c.op {
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
        Op::Eq => o == Ordering::Equal,
        Op::Ne => o != Ordering::Equal,
    })
}

/// The vers containment algorithm; `None` when a needed comparison is impossible.
pub(crate) fn vers_contains(cs: &[Constraint], v: &Version) -> Option<bool> {
    // `=` and `!=` decide first.
    let mut rest: Vec<&Constraint> = Vec::with_capacity(cs.len());
    let mut any_comparable = false;
    let mut incomparable = false;
    for c in cs {
        match c.op {
            Op::Eq | Op::Ne => match cmp(v, &c.version) {
                Some(Ordering::Equal) => return Some(c.op == Op::Eq),
                Some(_) => any_comparable = true,
                None => incomparable = true,
            },
            _ => rest.push(c),
        }
    }
    if rest.is_empty() {
        if incomparable && !any_comparable {
            return None;
        }
        // Only `!=` constraints: everything else is inside.
        return Some(cs.iter().all(|c| c.op == Op::Ne));
    }
    if rest.len() == 1 {
        return rest.first().and_then(|c| satisfies(v, c));
    }
    // Incomparable bound versions make the whole range unknown; once every pair is
    // comparable, `compare` is a total order on them and sorting is sound.
    for (i, a) in rest.iter().enumerate() {
        for b in rest.iter().skip(i + 1) {
            a.version.compare(&b.version)?;
        }
    }
    rest.sort_by(|a, b| a.version.compare(&b.version).unwrap_or(Ordering::Equal));
    let n = rest.len();
    for i in 0..n - 1 {
        let (Some(cur), Some(next)) = (rest.get(i), rest.get(i + 1)) else {
            return None;
        };
        let cur_lower = matches!(cur.op, Op::Lt | Op::Le);
        let next_upper = matches!(next.op, Op::Gt | Op::Ge);
        if i == 0 && cur_lower && satisfies(v, cur)? {
            return Some(true);
        }
        if i + 1 == n - 1 && next_upper && satisfies(v, next)? {
            return Some(true);
        }
        if !cur_lower && !next_upper && satisfies(v, cur)? && satisfies(v, next)? {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(r: &VersionRange, v: &str) -> Containment {
        r.contains(&Version::parse(v))
    }

    fn check(range: &VersionRange, yes: &[&str], no: &[&str]) {
        for v in yes {
            assert_eq!(inside(range, v), Containment::Inside, "{v} in {range:?}");
        }
        for v in no {
            assert_eq!(
                inside(range, v),
                Containment::Outside,
                "{v} not in {range:?}"
            );
        }
    }

    #[test]
    fn vers_conforming_and_not() {
        let r = VersionRange::parse_vers("vers:all/<V7.0.3");
        check(&r, &["V7.0.2", "7.0", "V6.99"], &["V7.0.3", "V7.1"]);
        let r = VersionRange::parse_vers("vers:all/>=V2.9.2<V2.9.4");
        assert!(!r.notes.is_empty());
        check(&r, &["V2.9.2", "V2.9.3"], &["V2.9.1", "V2.9.4"]);
        let r = VersionRange::parse_vers("vers:all/>=V7.80<V9.40");
        check(&r, &["V7.80", "V9.30"], &["V7.73", "V9.40", "V9.50"]);
        assert_eq!(VersionRange::parse_vers("vers:all/*").kind, RangeKind::All);
        let r = VersionRange::parse_vers("vers:npm/>=1.0.0|<1.2.0|>=2.0.0|<2.1.0");
        check(
            &r,
            &["1.0.0", "1.1.9", "2.0.5"],
            &["0.9", "1.2.0", "1.5", "2.1.0"],
        );
        let r = VersionRange::parse_vers("vers:pypi/!=1.1|>=1.0|<2.0");
        check(&r, &["1.0", "1.2"], &["1.1", "2.0"]);
        let r = VersionRange::parse_vers("vers:all/<V2020 SP1 Update 1");
        check(
            &r,
            &["V2020 SP1", "V2020"],
            &["V2020 SP1 Update 1", "V2021"],
        );
    }

    #[test]
    fn vls_and_free_text() {
        let r = VersionRange::parse_text("< V3.3");
        check(&r, &["V3.2.9"], &["V3.3"]);
        let r = VersionRange::parse_text(">v33.011|<v33.015");
        check(&r, &["v33.012", "33.014"], &["33.011", "33.015"]);
        let r = VersionRange::parse_text("All versions < V14 SP1");
        check(&r, &["V14", "V14 Update 9"], &["V14 SP1", "V15"]);
        assert_eq!(
            VersionRange::parse_text("All versions").kind,
            RangeKind::All
        );
        let r = VersionRange::parse_text("V2.0 and later");
        check(&r, &["V2.0", "V3"], &["V1.9"]);
        let r = VersionRange::parse_text(">= V2.0 and < V2.6");
        check(&r, &["V2.0", "V2.5.9"], &["V1.9", "V2.6"]);
        let r = VersionRange::parse_text(">= V2.0 < V2.1.6");
        check(&r, &["V2.1.5"], &["V2.1.6"]);
        let r = VersionRange::parse_text(">=R6.01.01 -| <=R8.03.01");
        check(&r, &["R6.01.01", "R8.03.01"], &["R6.01.00", "R8.03.02"]);
        let r = VersionRange::parse_text(">FW16_up_to_and_including_FW26");
        check(&r, &["FW17", "FW26"], &["FW16", "FW27"]);
        let r = VersionRange::parse_text("<=2.x");
        check(&r, &["2.9.9", "1.0"], &["3.0"]);
        let r = VersionRange::parse_text(">= 7.4x | <= 8.0x");
        check(&r, &["7.40", "7.49", "8.00", "8.09"], &["7.39", "8.10"]);
        let r = VersionRange::parse_text("< 8.1x");
        check(&r, &["8.0", "8.05", "7.40"], &["8.10", "8.13"]);
        let r = VersionRange::parse_text(">=R16x|<=R162.10");
        check(&r, &["R160", "R162.10"], &["R154.1", "R163"]);
        let r = VersionRange::parse_product_version("R15x");
        check(&r, &["R150", "R154.1"], &["R16", "R160", "R149"]);
        let r = VersionRange::parse_text("NMC2 <= 6.9.6");
        assert_eq!(r.notes, vec!["applies to `NMC2` only".to_string()]);
        check(&r, &["6.9.6"], &["6.9.7"]);
        let r = VersionRange::parse_text("prior to 1.5.0.0");
        check(&r, &["1.4"], &["1.5"]);
        let r = VersionRange::parse_text("v10.10 and earlier");
        check(&r, &["10.10", "10.9"], &["10.11"]);
    }

    #[test]
    fn unparsed_is_kept_and_unknown() {
        for raw in [
            "<=The_first_5_digits_of_serial_No._\"26061\"",
            "<= 2.0.11 / 3.0.11",
            "All versions only when running on ROX II < V2.15.1",
            "<=A_B",
            "",
        ] {
            let r = VersionRange::parse_text(raw);
            assert!(r.is_unparsed(), "{raw}: {r:?}");
            assert_eq!(r.raw, raw);
            assert!(matches!(inside(&r, "1.0"), Containment::Unknown(_)));
        }
    }

    #[test]
    fn fuzz_regression_incomparable_bounds_do_not_break_sorting() {
        // sbom_vers crash: bounds of mixed schemes made the sort comparator non-total.
        let text = ".R=2x|R32x|<17<32xo=2x|R39***j*\x00**\x00|32xo=2x|R32x|=2x|R32x|<1<172<o1<x\x137<32xR32x|32xo=2x|R32xo";
        for r in [
            VersionRange::parse_vers(text),
            VersionRange::parse_text(text),
            VersionRange::parse_product_version(text),
        ] {
            let _ = inside(&r, "");
            let _ = inside(&r, "R32");
        }
    }

    #[test]
    fn product_versions() {
        let r = VersionRange::parse_product_version("5.1 | 6.0 | 6.1");
        check(&r, &["5.1", "6.0.3.2", "6.1"], &["5.0", "6.2"]);
        let r = VersionRange::parse_product_version("28  - 32");
        check(&r, &["28", "30.011", "32", "32.011"], &["27.9", "33"]);
        let r = VersionRange::parse_product_version("MCE_3.x");
        check(&r, &["MCE 3.2"], &["MCE 4.0"]);
        let r = VersionRange::parse_product_version("R16A");
        check(&r, &["R16A"], &["R16B", "R15A"]);
        let r = VersionRange::parse_product_version("vers:all/*");
        assert_eq!(r.kind, RangeKind::All);
        let r = VersionRange::parse_product_version("UDP");
        assert!(r.is_unparsed());
        let r = VersionRange::parse_product_version("IPv4");
        assert!(matches!(inside(&r, "6.0.1.66"), Containment::Unknown(_)));
    }
}
