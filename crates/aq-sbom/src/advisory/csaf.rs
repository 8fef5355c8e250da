//! CSAF 2.0 import: the full product tree (branches, `full_product_names`,
//! relationships), product status, remediations, scores and VEX flags.

use super::{
    Advisory, AdvisoryFormat, Composite, Justification, Product, Remediation, Score, Status,
    Vulnerability,
};
use crate::error::{Error, Result};
use crate::json::{J, Limits, parse_bounded};
use crate::model::Digest;
use crate::range::VersionRange;
use std::collections::HashSet;

const WHAT: &str = "CSAF";
/// Deepest accepted branch nesting.
const MAX_BRANCH_DEPTH: usize = 32;

/// Imports a CSAF 2.0 document with the default advisory limits.
pub fn parse_csaf(bytes: &[u8]) -> Result<Advisory> {
    parse_csaf_with(bytes, &Limits::ADVISORY)
}

/// Imports a CSAF 2.0 document.
pub fn parse_csaf_with(bytes: &[u8], limits: &Limits) -> Result<Advisory> {
    let v = parse_bounded(WHAT, bytes, limits)?;
    let root = J::root(WHAT, &v, limits);
    let doc = root.req("document")?;
    let csaf_version = doc.req("csaf_version")?;
    if csaf_version.as_str()? != "2.0" {
        return Err(csaf_version.err_invalid("only CSAF 2.0 is supported"));
    }
    let category = doc.str_req("category")?.to_string();
    let title = doc.str_req("title")?.to_string();
    let tracking = doc.req("tracking")?;
    let id = tracking.str_req("id")?.to_string();
    let publisher = match doc.get("publisher")? {
        Some(p) => p.str_opt("name")?.map(str::to_string),
        None => None,
    };
    let mut adv = Advisory {
        id,
        title,
        format: AdvisoryFormat::Csaf,
        category,
        publisher,
        released: tracking
            .str_opt("initial_release_date")?
            .map(str::to_string),
        updated: tracking
            .str_opt("current_release_date")?
            .map(str::to_string),
        products: Vec::new(),
        vulnerabilities: Vec::new(),
        warnings: Vec::new(),
        digest: crate::sbom::document_digest(bytes),
    };
    if let Some(tree) = root.get("product_tree")? {
        read_tree(&tree, limits, &mut adv)?;
    }
    let known: HashSet<String> = adv.products.iter().map(|p| p.product_id.clone()).collect();
    for (i, vj) in root.arr_opt("vulnerabilities")?.iter().enumerate() {
        let v = read_vulnerability(vj, i)?;
        for (pid, _) in &v.status {
            if !known.contains(pid) {
                adv.warnings.push(format!(
                    "{}: product_status names `{pid}`, which is not in the product tree",
                    vj.path
                ));
            }
        }
        adv.vulnerabilities.push(v);
    }
    Ok(adv)
}

#[derive(Clone, Default)]
struct Ctx {
    vendor: Option<String>,
    families: Vec<String>,
    name: Option<String>,
    version: Option<(bool, String)>,
}

fn read_tree(tree: &J<'_>, limits: &Limits, adv: &mut Advisory) -> Result<()> {
    // Explicit stack: (branch, context of its parent, depth).
    let mut stack: Vec<(J<'_>, Ctx, usize)> = tree
        .arr_opt("branches")?
        .into_iter()
        .rev()
        .map(|b| (b, Ctx::default(), 1))
        .collect();
    let mut seen = 0usize;
    while let Some((b, parent, depth)) = stack.pop() {
        seen += 1;
        if seen > limits.max_items {
            return Err(Error::TooMany {
                what: WHAT,
                path: "$.product_tree.branches (all levels)".into(),
                limit: limits.max_items,
            });
        }
        if depth > MAX_BRANCH_DEPTH {
            return Err(b.err_invalid(format!("branches nest deeper than {MAX_BRANCH_DEPTH}")));
        }
        let cat_j = b.req("category")?;
        let category = cat_j.as_str()?;
        let name = b.str_req("name")?.to_string();
        let mut ctx = parent;
        match category {
            "vendor" => ctx.vendor = Some(name),
            "product_family" => ctx.families.push(name),
            "product_name" => ctx.name = Some(name),
            "product_version" => ctx.version = Some((false, name)),
            "product_version_range" => ctx.version = Some((true, name)),
            "architecture" | "host_name" | "language" | "legacy" | "patch_level"
            | "service_pack" | "specification" => {}
            other => {
                return Err(cat_j.err_invalid(format!("unknown branch category `{other}`")));
            }
        }
        if let Some(p) = b.get("product")? {
            let mut prod = full_product_name(&p)?;
            prod.vendor = ctx.vendor.clone();
            prod.families = ctx.families.clone();
            prod.name = ctx.name.clone();
            prod.versions = ctx.version.as_ref().map(|(is_range, text)| {
                if *is_range {
                    VersionRange::parse_text(text)
                } else {
                    VersionRange::parse_product_version(text)
                }
            });
            article_number_in_version(&mut prod);
            if prod.model_numbers.is_empty() {
                let name = prod.name.clone().unwrap_or_default();
                prod.model_numbers = crate::normalize::order_numbers_in_name(&name);
            }
            push_product(adv, prod, limits)?;
        }
        let kids = b.arr_opt("branches")?;
        for k in kids.into_iter().rev() {
            stack.push((k, ctx.clone(), depth + 1));
        }
    }
    refine_shared_names(adv);
    for p in tree.arr_opt("full_product_names")? {
        let mut prod = full_product_name(&p)?;
        prod.name = Some(prod.full_name.clone());
        push_product(adv, prod, limits)?;
    }
    for r in tree.arr_opt("relationships")? {
        let fpn = r.req("full_product_name")?;
        let mut prod = full_product_name(&fpn)?;
        let composite = Composite {
            category: r.str_req("category")?.to_string(),
            product_reference: r.str_req("product_reference")?.to_string(),
            relates_to: r.str_req("relates_to_product_reference")?.to_string(),
        };
        for pid in [&composite.product_reference, &composite.relates_to] {
            if adv.product(pid).is_none() {
                adv.warnings.push(format!(
                    "{}: relationship refers to unknown product `{pid}`",
                    r.path
                ));
            }
        }
        prod.composite = Some(composite);
        push_product(adv, prod, limits)?;
    }
    Ok(())
}

/// Some advisories give several products the same `product_name` branch and put the
/// real product in the full name (Omron: `NJ/NX-series Controllers and Software -
/// NX7-series Machine Automation Controller`). For such groups, the specific part of
/// the full name becomes the name and the shared branch name becomes a family.
fn refine_shared_names(adv: &mut Advisory) {
    let mut count: std::collections::HashMap<(Option<String>, String), usize> =
        std::collections::HashMap::new();
    for p in &adv.products {
        if let Some(n) = &p.name {
            *count.entry((p.vendor.clone(), n.clone())).or_default() += 1;
        }
    }
    for p in &mut adv.products {
        let Some(name) = p.name.clone() else { continue };
        if count
            .get(&(p.vendor.clone(), name.clone()))
            .copied()
            .unwrap_or(0)
            < 2
        {
            continue;
        }
        let full = p.full_name.trim();
        let Some(head) = full.get(..name.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(&name) {
            continue;
        }
        // Only `<shared name> - <specific product>`; `<name>: <version text>` is not it.
        let Some(rest) = full[name.len()..].strip_prefix(" - ") else {
            continue;
        };
        let rest = rest.split(':').next().unwrap_or("").trim();
        let looks_like_version = crate::version::Version::parse(rest).is_plausible()
            || rest.split_whitespace().count() < 2;
        if !rest.is_empty() && !looks_like_version {
            p.families.push(name);
            p.name = Some(rest.to_string());
        }
    }
}

/// Some advisories put an article / order number in `product_version`
/// (Phoenix Contact: `2916794`). A bare run of seven or more digits is not a
/// firmware version: treat it as a model number covering all versions.
fn article_number_in_version(p: &mut Product) {
    let Some(v) = &p.versions else { return };
    let raw = v.raw.trim();
    if raw.len() >= 7 && raw.bytes().all(|b| b.is_ascii_digit()) {
        p.model_numbers.push(raw.to_string());
        let mut all = VersionRange::all(raw);
        all.notes.push(
            "product_version is an article number; read as model number, all versions".into(),
        );
        p.versions = Some(all);
    }
}

fn push_product(adv: &mut Advisory, prod: Product, limits: &Limits) -> Result<()> {
    if adv.products.len() >= limits.max_items {
        return Err(Error::TooMany {
            what: WHAT,
            path: "$.product_tree (products)".into(),
            limit: limits.max_items,
        });
    }
    if adv.product(&prod.product_id).is_some() {
        adv.warnings
            .push(format!("product id `{}` defined twice", prod.product_id));
    }
    adv.products.push(prod);
    Ok(())
}

fn full_product_name(p: &J<'_>) -> Result<Product> {
    let mut prod = Product::named(p.str_req("product_id")?, p.str_req("name")?);
    if let Some(h) = p.get("product_identification_helper")? {
        prod.model_numbers = h
            .strs_opt("model_numbers")?
            .into_iter()
            .map(String::from)
            .collect();
        prod.skus = h.strs_opt("skus")?.into_iter().map(String::from).collect();
        if let Some(purl) = h.str_opt("purl")? {
            prod.purls.push(purl.to_string());
        }
        if let Some(cpe) = h.str_opt("cpe")? {
            prod.cpes.push(cpe.to_string());
        }
        for fh in h.arr_opt("hashes")? {
            for d in fh.arr_opt("file_hashes")? {
                prod.hashes
                    .push(Digest::new(d.str_req("algorithm")?, d.str_req("value")?));
            }
        }
    }
    Ok(prod)
}

fn ids(j: &J<'_>, key: &str) -> Result<Vec<String>> {
    Ok(j.strs_opt(key)?.into_iter().map(String::from).collect())
}

fn read_vulnerability(v: &J<'_>, index: usize) -> Result<Vulnerability> {
    let cve = v.str_opt("cve")?.map(str::to_string);
    let mut aliases = Vec::new();
    for i in v.arr_opt("ids")? {
        aliases.push(i.str_req("text")?.to_string());
    }
    let id = match &cve {
        Some(c) => c.clone(),
        None => aliases
            .first()
            .cloned()
            .unwrap_or_else(|| format!("vulnerabilities[{index}]")),
    };
    let mut status = Vec::new();
    if let Some(ps) = v.get("product_status")? {
        for (k, _) in ps.obj()? {
            let list = ps.req(k)?;
            let Some(st) = Status::from_csaf(k) else {
                return Err(list.err_invalid(format!("unknown product status `{k}`")));
            };
            for pid in list.items()? {
                status.push((pid.as_str()?.to_string(), st));
            }
        }
    }
    let mut remediations = Vec::new();
    for r in v.arr_opt("remediations")? {
        remediations.push(Remediation {
            category: r.str_req("category")?.to_string(),
            details: r.str_req("details")?.to_string(),
            product_ids: ids(&r, "product_ids")?,
            url: r.str_opt("url")?.map(str::to_string),
        });
    }
    let mut scores = Vec::new();
    for s in v.arr_opt("scores")? {
        let products = ids(&s, "products")?;
        for key in ["cvss_v4", "cvss_v3", "cvss_v2"] {
            if let Some(c) = s.get(key)? {
                scores.push(Score {
                    version: c.str_opt("version")?.unwrap_or(&key[6..]).to_string(),
                    base_score: c.f64_opt("baseScore")?,
                    vector: c.str_opt("vectorString")?.map(str::to_string),
                    severity: c.str_opt("baseSeverity")?.map(str::to_string),
                    product_ids: products.clone(),
                });
            }
        }
    }
    let mut justifications = Vec::new();
    for f in v.arr_opt("flags")? {
        justifications.push(Justification {
            label: f.str_req("label")?.to_string(),
            details: None,
            product_ids: ids(&f, "product_ids")?,
        });
    }
    for t in v.arr_opt("threats")? {
        if t.str_req("category")? == "impact" {
            justifications.push(Justification {
                label: "impact".into(),
                details: Some(t.str_req("details")?.to_string()),
                product_ids: ids(&t, "product_ids")?,
            });
        }
    }
    let title = match v.str_opt("title")? {
        Some(t) => Some(t.to_string()),
        None => {
            let mut s = None;
            for n in v.arr_opt("notes")? {
                if n.str_opt("category")? == Some("summary") {
                    s = n.str_opt("text")?.map(str::to_string);
                    break;
                }
            }
            s
        }
    };
    Ok(Vulnerability {
        id,
        aliases,
        title,
        status,
        remediations,
        scores,
        justifications,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::RangeKind;

    fn adv(name: &str) -> Advisory {
        let b = std::fs::read(format!(
            "{}/../../testdata/csaf/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        parse_csaf(&b).unwrap()
    }

    #[test]
    fn all_forty_import_without_warnings_about_ids() {
        let dir = format!("{}/../../testdata/csaf", env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let a = parse_csaf(&std::fs::read(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(!a.products.is_empty(), "{}", a.id);
            assert!(!a.vulnerabilities.is_empty(), "{}", a.id);
            n += 1;
        }
        assert_eq!(n, 40);
    }

    #[test]
    fn tree_context_and_helpers() {
        let a = adv("icsa-24-284-10");
        let p = a
            .products
            .iter()
            .find(|p| p.model_numbers.iter().any(|m| m == "6ES7518-4AX00-1AB0"))
            .unwrap();
        assert_eq!(p.vendor.as_deref(), Some("Siemens"));
        assert!(p.versions.is_some());
        let m = adv("icsa-24-235-03");
        let rel = m.product("CSAFPID-0829").unwrap();
        let c = rel.composite.as_ref().unwrap();
        assert_eq!(c.category, "installed_on");
        assert_eq!(c.product_reference, "CSAFPID-0070");
        let fw = m.product("CSAFPID-0070").unwrap();
        assert_eq!(fw.families, Vec::<String>::new());
        assert!(!fw.hashes.is_empty());
        let cam = m.product("CSAFPID-0001").unwrap();
        assert_eq!(cam.families, vec!["P3".to_string()]);
        let v = &m.vulnerabilities[0];
        assert!(v.status.iter().any(|(_, s)| *s == Status::Recommended));
        assert!(v.status.iter().any(|(_, s)| *s == Status::KnownNotAffected));
    }

    #[test]
    fn phoenix_article_numbers_become_model_numbers() {
        let a = adv("icsa-22-172-05");
        let p = a
            .products
            .iter()
            .find(|p| p.model_numbers.iter().any(|m| m == "2916794"));
        assert!(p.is_some());
        assert_eq!(p.unwrap().versions.as_ref().unwrap().kind, RangeKind::All);
    }

    #[test]
    fn scores_and_remediations() {
        let a = adv("icsa-24-284-18");
        let v = &a.vulnerabilities[0];
        assert!(!v.remediations.is_empty());
        assert!(v.scores.iter().any(|s| s.base_score.is_some()));
    }

    #[test]
    fn malformed_names_the_path() {
        let e = parse_csaf(br#"{"document":{"csaf_version":"2.0","category":"x","title":"t","tracking":{"id":"a"}},
            "product_tree":{"branches":[{"category":"vendor","name":"V","branches":[{"category":"product_name","name":7}]}]}}"#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CSAF: $.product_tree.branches[0].branches[0].name: expected a string"
        );
        let e = parse_csaf(br#"{"document":{"csaf_version":"2.0","category":"x","title":"t","tracking":{"id":"a"}},
            "vulnerabilities":[{"product_status":{"known_afected":["x"]}}]}"#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CSAF: $.vulnerabilities[0].product_status.known_afected: unknown product status `known_afected`"
        );
        let e = parse_csaf(br#"{"document":{"csaf_version":"1.0"}}"#).unwrap_err();
        assert!(e.to_string().contains("$.document.csaf_version"));
    }
}
