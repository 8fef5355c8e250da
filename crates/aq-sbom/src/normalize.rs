//! Normalisation of the identifiers advisories and SBOMs disagree on.
//!
//! * vendors: `Siemens` / `Siemens AG`, `Schneider Electric Software, LLC`,
//!   `General Electric (GE)`: legal-form suffixes and punctuation are dropped and an
//!   alias table maps known synonyms onto one key;
//! * product names: lower-cased alphanumeric tokens, minus noise words (`family`,
//!   `series`, `incl. SIPLUS variants`) and minus the vendor's own name in front;
//! * model / order numbers: upper-cased without blanks, `*` and `?` as wildcards;
//! * purls and CPEs: split into the parts matching needs.
//!
//! Invariant: every function here is total (never fails, never panics) and
//! deterministic, so the same text gives the same index key on ingest and on query.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Legal-form and filler words dropped from vendor names.
const VENDOR_NOISE: &[&str] = &[
    "ag",
    "gmbh",
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "corp",
    "corporation",
    "co",
    "company",
    "se",
    "sa",
    "plc",
    "kg",
    "bv",
    "nv",
    "oy",
    "ab",
    "spa",
    "srl",
    "kk",
    "the",
    "of",
    "group",
    "holding",
    "holdings",
    "software",
    "systems",
    "system",
    "international",
];

/// Words that carry no identity in a product name.
const NAME_NOISE: &[&str] = &[
    "family",
    "series",
    "incl",
    "including",
    "variants",
    "variant",
    "and",
    "products",
    "product",
    "devices",
    "the",
    "all",
    "versions",
    "version",
    "firmware",
    "related",
    "of",
    "for",
    "with",
    "discontinued",
    "models",
    "model",
    "type",
    "types",
    "using",
    "fw",
];

/// A vendor alias table: normalised synonym → canonical normalised key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorAliases {
    map: HashMap<String, String>,
}

impl Default for VendorAliases {
    fn default() -> Self {
        let mut a = VendorAliases {
            map: HashMap::new(),
        };
        for (syn, canon) in [
            ("ge", "general electric"),
            ("ge digital", "general electric"),
            ("ge grid solutions", "general electric"),
            ("sel", "schweitzer engineering laboratories"),
            ("allen bradley", "rockwell automation"),
            ("rockwell", "rockwell automation"),
            ("3S-Smart Software Solutions", "codesys"),
            ("3s", "codesys"),
            ("schneider", "schneider electric"),
            ("apc", "schneider electric"),
            ("mitsubishi", "mitsubishi electric"),
            ("wibu", "wibu"),
            ("hitachi abb power grids", "hitachi energy"),
            ("windriver", "wind river"),
            ("phoenix", "phoenix contact"),
            ("yokogawa electric", "yokogawa"),
            ("omron industrial automation", "omron"),
            ("moxa technologies", "moxa"),
            ("honeywell process solutions", "honeywell"),
            ("emerson electric", "emerson"),
        ] {
            a.add(syn, canon);
        }
        a
    }
}

impl VendorAliases {
    /// An empty table.
    pub fn empty() -> Self {
        VendorAliases {
            map: HashMap::new(),
        }
    }

    /// Declares `synonym` to mean `canonical` (both raw vendor names).
    pub fn add(&mut self, synonym: &str, canonical: &str) {
        let c = vendor_base(canonical);
        self.map.insert(vendor_base(synonym), c);
    }

    /// The index key of a vendor name.
    pub fn key(&self, vendor: &str) -> String {
        let b = vendor_base(vendor);
        match self.map.get(&b) {
            Some(c) => c.clone(),
            None => b,
        }
    }
}

/// Lower-cased alphanumeric tokens of `s` (splitting at every other character).
pub fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Removes parenthesised asides that carry no identity (`(incl. SIPLUS variants)`,
/// `(discontinued)`) but keeps the others (`(CP300)` is a hardware variant).
fn drop_noise_parens(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('(') {
        let Some(close_rel) = rest[open..].find(')') else {
            break;
        };
        let inner = rest[open + 1..open + close_rel].trim().to_lowercase();
        out.push_str(&rest[..open]);
        let noise = [
            "incl",
            "including",
            "discontinued",
            "formerly",
            "all ",
            "e.g",
            "see ",
        ]
        .iter()
        .any(|p| inner.starts_with(p))
            || inner == "all";
        if !noise {
            out.push(' ');
            out.push_str(&rest[open + 1..open + close_rel]);
            out.push(' ');
        }
        rest = &rest[open + close_rel + 1..];
    }
    out.push_str(rest);
    out
}

/// Normalised vendor name before aliasing: tokens minus legal-form words and asides.
pub fn vendor_base(vendor: &str) -> String {
    let no_paren = match vendor.find('(') {
        Some(i) if i > 0 => &vendor[..i],
        _ => vendor,
    };
    let toks = tokens(no_paren);
    let kept: Vec<&str> = toks
        .iter()
        .map(String::as_str)
        .filter(|t| !VENDOR_NOISE.contains(t))
        .collect();
    if kept.is_empty() {
        toks.join(" ")
    } else {
        kept.join(" ")
    }
}

/// Product-name tokens: noise removed, and the vendor's own tokens removed from the front.
pub fn name_tokens(name: &str, vendor_key: Option<&str>) -> Vec<String> {
    // `… using NMC2 including Smart-UPS, Symmetra and Galaxy 3500 …`: what follows
    // `including` enumerates examples, not identity.
    let lower = name.to_ascii_lowercase();
    let head = match lower.find(" including ").or_else(|| lower.find(" incl. ")) {
        Some(i) => name.get(..i).unwrap_or(name),
        None => name,
    };
    let cleaned = drop_noise_parens(head);
    let mut toks: Vec<String> = tokens(&cleaned)
        .into_iter()
        .filter(|t| !NAME_NOISE.contains(&t.as_str()))
        .collect();
    if let Some(vk) = vendor_key {
        let vt: Vec<&str> = vk.split(' ').collect();
        // Drop the vendor name (or its first word, `Treck Inc TCP/IP`) in front.
        let mut dropped = 0;
        while dropped < vt.len()
            && toks.len() > dropped + 1
            && toks.get(dropped).map(String::as_str) == vt.get(dropped).copied()
        {
            dropped += 1;
        }
        // Legal-form words right after the vendor name (`Treck Inc TCP/IP`).
        while toks.len() > dropped + 1
            && toks
                .get(dropped)
                .is_some_and(|t| VENDOR_NOISE.contains(&t.as_str()))
            && dropped > 0
        {
            dropped += 1;
        }
        toks.drain(..dropped);
    }
    toks
}

/// True if `t` is a product-name wildcard token: an `x` right after a digit stands
/// for any digit (`ILC 1x0`, `ILC 3xx`, `AFS66X`).
pub fn is_wild_token(t: &str) -> bool {
    let b = t.as_bytes();
    b.windows(2).any(|w| w[0].is_ascii_digit() && w[1] == b'x')
}

/// Every concrete token a wildcard token stands for (`1x0` → `100`…`190`), at most
/// 1,000; empty for a plain token.
pub fn expand_wild(t: &str) -> Vec<String> {
    if !is_wild_token(t) {
        return Vec::new();
    }
    let mut out = vec![String::new()];
    let mut prev_digit = false;
    for c in t.chars() {
        let wild = c == 'x' && prev_digit;
        if wild {
            if out.len() * 10 > 1000 {
                return Vec::new();
            }
            out = out
                .iter()
                .flat_map(|p| ('0'..='9').map(move |d| format!("{p}{d}")))
                .collect();
        } else {
            for p in &mut out {
                p.push(c);
            }
        }
        prev_digit = c.is_ascii_digit() || wild;
    }
    out
}

/// Token equality where a wildcard token's `x` after a digit matches any digit.
pub fn token_matches(pattern: &str, t: &str) -> bool {
    if pattern == t {
        return true;
    }
    if !is_wild_token(pattern) || pattern.len() != t.len() {
        return false;
    }
    let (p, s) = (pattern.as_bytes(), t.as_bytes());
    let mut prev_digit = false;
    for (a, b) in p.iter().zip(s.iter()) {
        let ok = if *a == b'x' && prev_digit {
            b.is_ascii_digit()
        } else {
            a == b
        };
        if !ok {
            return false;
        }
        prev_digit = a.is_ascii_digit() || (*a == b'x' && prev_digit);
    }
    true
}

/// Index key of a product name.
pub fn name_key(name: &str, vendor_key: Option<&str>) -> String {
    name_tokens(name, vendor_key).join(" ")
}

/// Order numbers written in a product name's parentheses (Siemens MLFBs such as
/// `SCALANCE X208 (6GK5208-0BA10-2AA3)`, even with a stray blank:
/// `(6GK5302- 7GD00-3EA3)`). Shape: after removing blanks, at least 10 characters of
/// upper-case letters, digits and `-`, with at least two `-`, digits and letters.
pub fn order_numbers_in_name(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = name;
    while let Some(open) = rest.find('(') {
        let Some(len) = rest[open..].find(')') else {
            break;
        };
        let inner: String = rest[open + 1..open + len]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let ok = inner.len() >= 10
            && inner
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
            && inner.matches('-').count() >= 2
            && inner.chars().any(|c| c.is_ascii_digit())
            && inner.chars().any(|c| c.is_ascii_uppercase());
        if ok {
            out.push(inner);
        }
        rest = &rest[open + len + 1..];
    }
    out
}

/// Normalised model / order number: upper case, no blanks.
pub fn model_key(m: &str) -> String {
    m.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

/// The literal prefix of a model pattern, before its first wildcard.
pub fn model_prefix(pattern_key: &str) -> &str {
    match pattern_key.find(['*', '?']) {
        Some(i) => &pattern_key[..i],
        None => pattern_key,
    }
}

/// Wildcard match of a normalised model number against a normalised pattern
/// (`*` any run, `?` one character). Iterative, linear in practice, no recursion.
pub fn model_matches(pattern: &str, model: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let m: Vec<char> = model.chars().collect();
    let (mut pi, mut mi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while mi < m.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, mi));
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == m.get(mi) => {
                pi += 1;
                mi += 1;
            }
            _ => match star {
                Some((sp, sm)) => {
                    pi = sp + 1;
                    mi = sm + 1;
                    star = Some((sp, sm + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// The parts of a package URL matching needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    /// Type (`deb`, `npm`, `generic`), lower case.
    pub ty: String,
    /// Namespace, if any, lower case.
    pub namespace: Option<String>,
    /// Name, lower case, percent-decoding of `%20`-style escapes not attempted beyond `%2F`/`%40`.
    pub name: String,
    /// Version, if any.
    pub version: Option<String>,
}

impl Purl {
    /// Parses `pkg:type/namespace/name@version?qualifiers#subpath`; `None` if not a purl.
    pub fn parse(s: &str) -> Option<Purl> {
        let s = s.trim();
        let rest = s.strip_prefix("pkg:")?;
        let rest = rest.split('#').next()?;
        let rest = rest.split('?').next()?;
        let (path, version) = match rest.rfind('@') {
            Some(i) if rest[..i].contains('/') => (&rest[..i], Some(decode(&rest[i + 1..]))),
            _ => (rest, None),
        };
        let mut parts = path.trim_start_matches('/').split('/');
        let ty = parts.next()?.to_ascii_lowercase();
        let segs: Vec<&str> = parts.filter(|p| !p.is_empty()).collect();
        let (name, ns) = segs.split_last()?;
        if ty.is_empty() || name.is_empty() {
            return None;
        }
        let namespace = if ns.is_empty() {
            None
        } else {
            Some(decode(&ns.join("/")).to_lowercase())
        };
        Some(Purl {
            ty,
            namespace,
            name: decode(name).to_lowercase(),
            version: version.filter(|v| !v.is_empty()),
        })
    }

    /// The version-less identity used as an index key: `type/namespace/name`.
    pub fn key(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.ty, ns, self.name),
            None => format!("{}/{}", self.ty, self.name),
        }
    }
}

fn decode(s: &str) -> String {
    s.replace("%2F", "/")
        .replace("%2f", "/")
        .replace("%40", "@")
        .replace("%3A", ":")
        .replace("%3a", ":")
        .replace("%20", " ")
        .replace("%2B", "+")
        .replace("%2b", "+")
}

/// The parts of a CPE name matching needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpe {
    /// `a`, `o` or `h`.
    pub part: String,
    /// Vendor (lower case; `*` means any).
    pub vendor: String,
    /// Product (lower case; `*` means any).
    pub product: String,
    /// Version (`*` or `-` mean any / not applicable).
    pub version: String,
}

impl Cpe {
    /// Parses a CPE 2.3 formatted string or a CPE 2.2 URI.
    pub fn parse(s: &str) -> Option<Cpe> {
        let s = s.trim();
        let fields: Vec<String> = if let Some(r) = s.strip_prefix("cpe:2.3:") {
            split_cpe23(r)
        } else if let Some(r) = s.strip_prefix("cpe:/") {
            r.split(':').map(|x| x.replace("%2e", ".")).collect()
        } else {
            return None;
        };
        let get = |i: usize| -> String {
            fields
                .get(i)
                .map(|x| {
                    if x.is_empty() {
                        "*".to_string()
                    } else {
                        x.to_lowercase()
                    }
                })
                .unwrap_or_else(|| "*".to_string())
        };
        let c = Cpe {
            part: get(0),
            vendor: get(1),
            product: get(2),
            version: get(3),
        };
        (c.product != "*").then_some(c)
    }

    /// Index key: `vendor:product` (vendor may be `*`).
    pub fn key(&self) -> String {
        format!("{}:{}", self.vendor, self.product)
    }
}

/// Splits CPE 2.3 fields at unescaped colons, removing the escapes.
fn split_cpe23(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut esc = false;
    for c in s.chars() {
        if esc {
            cur.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == ':' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
        if out.len() > 16 {
            break;
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendors() {
        let a = VendorAliases::default();
        assert_eq!(a.key("Siemens"), a.key("Siemens AG"));
        assert_eq!(
            a.key("Schneider Electric Software, LLC"),
            "schneider electric"
        );
        assert_eq!(a.key("Schneider Electric"), "schneider electric");
        assert_eq!(a.key("General Electric (GE)"), "general electric");
        assert_eq!(a.key("GE"), "general electric");
        assert_eq!(
            a.key("Mitsubishi Electric Corporation"),
            "mitsubishi electric"
        );
        assert_eq!(a.key("CODESYS, GmbH"), "codesys");
        assert_eq!(a.key("Treck Inc."), "treck");
        assert_eq!(a.key("Wibu-Systems AG"), "wibu");
        assert_ne!(a.key("Siemens"), a.key("Hitachi Energy"));
    }

    #[test]
    fn names() {
        assert_eq!(
            name_key(
                "SIMATIC S7-1200 CPU family (incl. SIPLUS variants)",
                Some("siemens")
            ),
            "simatic s7 1200 cpu"
        );
        assert_eq!(
            name_key("SIPROTEC 5 6MD85 (CP300)", Some("siemens")),
            "siprotec 5 6md85 cp300"
        );
        assert_eq!(name_key("Treck Inc TCP/IP", Some("treck")), "tcp ip");
        assert_eq!(
            name_key("Wind River VxWorks", Some("wind river")),
            "vxworks"
        );
        assert_eq!(
            name_key("1756-HIST1G/A (discontinued)", None),
            "1756 hist1g a"
        );
        // A name that *is* the vendor name keeps its last token.
        assert_eq!(name_key("Siemens", Some("siemens")), "siemens");
    }

    #[test]
    fn order_numbers_in_names() {
        assert_eq!(
            order_numbers_in_name("SCALANCE X302-7 EEC (230V) (6GK5302- 7GD00-3EA3)"),
            vec!["6GK5302-7GD00-3EA3".to_string()]
        );
        assert!(order_numbers_in_name("SIPROTEC 5 6MD85 (CP300)").is_empty());
        assert!(order_numbers_in_name("Reader (unclosed").is_empty());
    }

    #[test]
    fn wildcard_tokens() {
        assert!(token_matches("1x0", "150"));
        assert!(!token_matches("1x0", "151"));
        assert!(token_matches("3xx", "350"));
        assert!(token_matches("afs66x", "afs660"));
        assert!(!token_matches("x208", "1208"));
        assert!(!is_wild_token("x208"));
        assert!(!token_matches("1x0", "1500"));
        assert_eq!(expand_wild("1x0").len(), 10);
        assert!(expand_wild("3xx").contains(&"350".to_string()));
        assert!(expand_wild("x208").is_empty());
    }

    #[test]
    fn models() {
        assert_eq!(model_key("6ES7 511-1AK02-0AB0"), "6ES7511-1AK02-0AB0");
        assert!(model_matches(
            &model_key("6ES7 511-1*"),
            "6ES7511-1AK02-0AB0"
        ));
        assert!(!model_matches(
            &model_key("6ES7 511-1*"),
            "6ES7512-1AK02-0AB0"
        ));
        assert!(model_matches("6ES7511-1AK0?-0AB0", "6ES7511-1AK02-0AB0"));
        assert!(model_matches("6ES7518-4AX00-1AB0", "6ES7518-4AX00-1AB0"));
        assert!(!model_matches("6ES7518-4AX00-1AB0", "6ES7518-4AX00-1AB01"));
        assert!(model_matches("*", ""));
        assert!(model_matches("A*B*C", "AXXBYYC"));
        assert_eq!(model_prefix("6ES7511-1*"), "6ES7511-1");
    }

    #[test]
    fn purls_and_cpes() {
        let p = Purl::parse("pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64").unwrap();
        assert_eq!(p.key(), "deb/debian/openssl");
        assert_eq!(p.version.as_deref(), Some("3.0.11-1~deb12u2"));
        let p = Purl::parse("pkg:npm/%40angular/core@1.0").unwrap();
        assert_eq!(p.key(), "npm/@angular/core");
        assert!(Purl::parse("pkg:").is_none());
        assert!(Purl::parse("not a purl").is_none());
        let c = Cpe::parse("cpe:2.3:a:*:time:1.9:*:*:*:*:*:*:*").unwrap();
        assert_eq!(
            (c.vendor.as_str(), c.product.as_str(), c.version.as_str()),
            ("*", "time", "1.9")
        );
        let c = Cpe::parse("cpe:/a:openssl:openssl:1.0.2k").unwrap();
        assert_eq!(c.key(), "openssl:openssl");
        let c = Cpe::parse(r"cpe:2.3:a:foo\:bar:baz:1:*:*:*:*:*:*:*").unwrap();
        assert_eq!(c.vendor, "foo:bar");
    }
}
