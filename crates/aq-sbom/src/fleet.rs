//! The fleet index: devices (identity + SBOM components) with inverted indexes, so
//! "which devices does this advisory affect?" touches only candidate devices, and
//! the advisory index, so "which advisories affect this updated device?" touches
//! only candidate products.
//!
//! Layout: components are interned (a firmware image's 300 components are stored
//! once however many devices run it) with a sorted list of the devices carrying each.
//! Inverted indexes map purl keys, CPE `vendor:product` and `*:product`, normalised
//! product names, name tokens, model numbers and image hashes to *subjects*: a
//! device identity or an interned component.
//!
//! Invariants: the index is a pure function of the set of [`DeviceRecord`]s upserted
//! (order does not matter), so a store can rebuild it by replaying its records, and
//! [`FleetIndex::upsert_device`] on an existing id is exactly remove + insert.

use crate::advisory::Advisory;
use crate::finding::{AffectedReport, DeviceFinding, Via, resolve, unparsed_of};
use crate::matching::{
    Confidence, Facts, Hit, PreparedAdvisory, PreparedProduct, match_firmware_reference,
    match_product, primary_token,
};
use crate::model::{Component, DeviceIdentity, DeviceRecord};
use crate::normalize::{VendorAliases, expand_wild, is_wild_token, model_prefix};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Subject id: an interned device identity or an interned component.
type Ref = u32;

#[derive(Debug)]
struct DeviceEntry {
    id: String,
    zone: Option<String>,
    sbom_digest: Option<String>,
    sbom_serial: Option<String>,
    /// Subject id of the identity.
    identity: u32,
    /// Subject ids of the components.
    components: Vec<u32>,
}

/// What a subject was interned from (the interning key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SubjectKey {
    Identity(DeviceIdentity),
    Component(Component),
}

#[derive(Debug)]
struct Subject {
    key: SubjectKey,
    facts: Facts,
    via: Arc<Via>,
    /// Devices carrying it, sorted.
    devices: Vec<u32>,
}

/// Inverted indexes from match keys to subjects (used for both sides).
#[derive(Debug, Default)]
struct Postings<T> {
    purl: HashMap<String, Vec<T>>,
    cpe: HashMap<String, Vec<T>>,
    name: HashMap<String, Vec<T>>,
    token: HashMap<String, Vec<T>>,
    hash: HashMap<String, Vec<T>>,
    /// Subjects by their primary (most specific) identity token.
    primary: HashMap<String, Vec<T>>,
}

fn add<T: PartialEq + Copy>(m: &mut HashMap<String, Vec<T>>, k: String, r: T) {
    let v = m.entry(k).or_default();
    if !v.contains(&r) {
        v.push(r);
    }
}

fn del<T: PartialEq + Copy>(m: &mut HashMap<String, Vec<T>>, k: &str, r: T) {
    if let Some(v) = m.get_mut(k) {
        if let Some(i) = v.iter().position(|x| *x == r) {
            v.swap_remove(i);
        }
        if v.is_empty() {
            m.remove(k);
        }
    }
}

/// Index keys of one subject, as (map selector, key).
fn subject_keys(f: &Facts) -> Vec<(u8, String)> {
    let mut k = Vec::new();
    if let Some(p) = &f.purl {
        k.push((0, p.key()));
    }
    for c in &f.cpes {
        k.push((1, c.key()));
        k.push((1, format!("*:{}", c.product)));
    }
    if !f.name_key.is_empty() {
        k.push((2, f.name_key.clone()));
        if let Some(v) = &f.vendor_key {
            k.push((2, format!("{v} {}", f.name_key)));
        }
    }
    for t in &f.all_tokens {
        k.push((3, t.clone()));
    }
    for h in &f.hashes {
        k.push((4, format!("{}:{}", h.alg, h.value)));
    }
    if let Some(t) = &f.primary {
        k.push((5, t.clone()));
    }
    k.sort();
    k.dedup();
    k
}

impl<T: PartialEq + Copy> Postings<T> {
    fn map(&mut self, sel: u8) -> &mut HashMap<String, Vec<T>> {
        match sel {
            0 => &mut self.purl,
            1 => &mut self.cpe,
            2 => &mut self.name,
            3 => &mut self.token,
            4 => &mut self.hash,
            _ => &mut self.primary,
        }
    }
    fn insert(&mut self, keys: &[(u8, String)], r: T) {
        for (s, k) in keys {
            add(self.map(*s), k.clone(), r);
        }
    }
    fn remove(&mut self, keys: &[(u8, String)], r: T) {
        for (s, k) in keys {
            del(self.map(*s), k, r);
        }
    }
}

/// The fleet: devices, interned identities and components, inverted indexes.
#[derive(Debug)]
pub struct FleetIndex {
    aliases: VendorAliases,
    devices: Vec<Option<DeviceEntry>>,
    free_devices: Vec<u32>,
    by_id: HashMap<String, u32>,
    subjects: Vec<Option<Subject>>,
    free_subjects: Vec<u32>,
    subject_ids: HashMap<SubjectKey, u32>,
    post: Postings<Ref>,
    /// Normalised model number → identity subjects.
    models: BTreeMap<String, Vec<u32>>,
}

impl Default for FleetIndex {
    fn default() -> Self {
        Self::new(VendorAliases::default())
    }
}

/// Counts, for sizing and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FleetStats {
    /// Devices.
    pub devices: usize,
    /// Distinct identities and components (interned subjects).
    pub distinct_subjects: usize,
    /// Device-component pairs.
    pub device_components: usize,
}

impl FleetIndex {
    /// An empty index with a vendor alias table.
    pub fn new(aliases: VendorAliases) -> Self {
        FleetIndex {
            aliases,
            devices: Vec::new(),
            free_devices: Vec::new(),
            by_id: HashMap::new(),
            subjects: Vec::new(),
            free_subjects: Vec::new(),
            subject_ids: HashMap::new(),
            post: Postings::default(),
            models: BTreeMap::new(),
        }
    }

    /// The vendor alias table in use.
    pub fn aliases(&self) -> &VendorAliases {
        &self.aliases
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True if there are no devices.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Counts.
    pub fn stats(&self) -> FleetStats {
        FleetStats {
            devices: self.by_id.len(),
            distinct_subjects: self.subject_ids.len(),
            device_components: self
                .devices
                .iter()
                .flatten()
                .map(|d| d.components.len())
                .sum(),
        }
    }

    /// Device ids, in no particular order.
    pub fn device_ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    /// Identity, zone and SBOM digest of a device.
    pub fn device(&self, id: &str) -> Option<(&DeviceIdentity, Option<&str>, Option<&str>)> {
        let d = self.entry(id)?;
        let SubjectKey::Identity(ident) = &self.subject(d.identity)?.key else {
            return None;
        };
        Some((ident, d.zone.as_deref(), d.sbom_digest.as_deref()))
    }

    /// Normalised serial of the SBOM a device attested (for BOM-Link VEX).
    pub fn device_sbom_serial(&self, id: &str) -> Option<String> {
        self.entry(id)?.sbom_serial.clone()
    }

    fn entry(&self, id: &str) -> Option<&DeviceEntry> {
        let slot = *self.by_id.get(id)?;
        self.devices.get(slot as usize)?.as_ref()
    }

    fn subject(&self, s: u32) -> Option<&Subject> {
        self.subjects.get(s as usize)?.as_ref()
    }

    /// Adds a device or replaces it (same id) with its new identity and components.
    pub fn upsert_device(&mut self, rec: DeviceRecord) {
        self.remove_device(&rec.id);
        let slot = match self.free_devices.pop() {
            Some(s) => s,
            None => {
                self.devices.push(None);
                (self.devices.len() - 1) as u32
            }
        };
        let identity = self.intern(SubjectKey::Identity(rec.identity), slot);
        let mut comp_slots = Vec::with_capacity(rec.components.len());
        for c in rec.components {
            let cs = self.intern(SubjectKey::Component(c), slot);
            if !comp_slots.contains(&cs) {
                comp_slots.push(cs);
            }
        }
        self.by_id.insert(rec.id.clone(), slot);
        if let Some(s) = self.devices.get_mut(slot as usize) {
            *s = Some(DeviceEntry {
                id: rec.id,
                zone: rec.zone,
                sbom_digest: rec.sbom_digest,
                sbom_serial: rec.sbom_serial.as_deref().map(crate::vex::normalise_serial),
                identity,
                components: comp_slots,
            });
        }
    }

    /// Interns a subject and records that device `dev` carries it.
    fn intern(&mut self, key: SubjectKey, dev: u32) -> u32 {
        let s = match self.subject_ids.get(&key) {
            Some(&s) => s,
            None => {
                let (facts, via) = match &key {
                    SubjectKey::Identity(i) => (
                        Facts::of_identity(i, &self.aliases),
                        Arc::new(Via::Identity),
                    ),
                    SubjectKey::Component(c) => (
                        Facts::of_component(c, &self.aliases),
                        Arc::new(Via::Component {
                            name: c.name.clone(),
                            version: c.version.clone(),
                            purl: c.purl.clone(),
                            bom_ref: c.bom_ref.clone(),
                        }),
                    ),
                };
                let slot = match self.free_subjects.pop() {
                    Some(s) => s,
                    None => {
                        self.subjects.push(None);
                        (self.subjects.len() - 1) as u32
                    }
                };
                self.post.insert(&subject_keys(&facts), slot);
                if let Some(m) = &facts.model {
                    self.models.entry(m.clone()).or_default().push(slot);
                }
                self.subject_ids.insert(key.clone(), slot);
                if let Some(x) = self.subjects.get_mut(slot as usize) {
                    *x = Some(Subject {
                        key,
                        facts,
                        via,
                        devices: Vec::new(),
                    });
                }
                slot
            }
        };
        if let Some(Some(sub)) = self.subjects.get_mut(s as usize) {
            if let Err(i) = sub.devices.binary_search(&dev) {
                sub.devices.insert(i, dev);
            }
        }
        s
    }

    /// Drops device `dev` from subject `s`, and the subject when no device is left.
    fn release(&mut self, s: u32, dev: u32) {
        let mut gone = false;
        if let Some(Some(sub)) = self.subjects.get_mut(s as usize) {
            if let Ok(i) = sub.devices.binary_search(&dev) {
                sub.devices.remove(i);
            }
            gone = sub.devices.is_empty();
        }
        if !gone {
            return;
        }
        if let Some(sub) = self.subjects.get_mut(s as usize).and_then(Option::take) {
            self.post.remove(&subject_keys(&sub.facts), s);
            if let Some(m) = &sub.facts.model {
                if let Some(v) = self.models.get_mut(m) {
                    v.retain(|x| *x != s);
                    if v.is_empty() {
                        self.models.remove(m);
                    }
                }
            }
            self.subject_ids.remove(&sub.key);
            self.free_subjects.push(s);
        }
    }

    /// Removes a device; returns whether it was present.
    pub fn remove_device(&mut self, id: &str) -> bool {
        let Some(slot) = self.by_id.remove(id) else {
            return false;
        };
        let Some(entry) = self.devices.get_mut(slot as usize).and_then(Option::take) else {
            return false;
        };
        self.release(entry.identity, slot);
        for cs in entry.components {
            self.release(cs, slot);
        }
        self.free_devices.push(slot);
        true
    }

    /// Candidate subjects for one product.
    fn candidates(&self, p: &PreparedProduct, out: &mut Vec<Ref>) {
        out.clear();
        for pu in &p.purls {
            if let Some(v) = self.post.purl.get(&pu.key()) {
                out.extend_from_slice(v);
            }
        }
        for c in &p.cpes {
            for k in [c.key(), format!("*:{}", c.product)] {
                if let Some(v) = self.post.cpe.get(&k) {
                    out.extend_from_slice(v);
                }
            }
        }
        for h in &p.hashes {
            if let Some(v) = self.post.hash.get(&format!("{}:{}", h.alg, h.value)) {
                out.extend_from_slice(v);
            }
        }
        for k in p.name_lookup_keys() {
            if let Some(v) = self.post.name.get(&k) {
                out.extend_from_slice(v);
            }
        }
        // Wildcard names (`AFF66X`, `ILC 1x0`): look up each concrete token.
        for t in p.qualified_tokens.iter().filter(|t| is_wild_token(t)) {
            for e in expand_wild(t) {
                if let Some(v) = self.post.token.get(&e) {
                    out.extend_from_slice(v);
                }
            }
        }
        // Family / variant matches: scan the rarest token's postings.
        for toks in [&p.name_tokens, &p.qualified_tokens] {
            if toks.len() >= 2 {
                let rarest = toks
                    .iter()
                    .filter(|t| !is_wild_token(t))
                    .filter_map(|t| self.post.token.get(t))
                    .min_by_key(|v| v.len());
                let all_present = toks
                    .iter()
                    .all(|t| is_wild_token(t) || self.post.token.contains_key(t));
                if let (Some(v), true) = (rarest, all_present) {
                    out.extend_from_slice(v);
                }
            }
        }
        // Verbose advisory names that contain a subject's whole identity: such a
        // subject's primary token is one of the name's tokens.
        if p.qualified_tokens.len() >= 2 {
            for t in &p.qualified_tokens {
                if let Some(v) = self.post.primary.get(t) {
                    out.extend_from_slice(v);
                }
                for e in expand_wild(t) {
                    if let Some(v) = self.post.primary.get(&e) {
                        out.extend_from_slice(v);
                    }
                }
            }
        }
        for pat in &p.models {
            let prefix = model_prefix(pat);
            for (_, subs) in self
                .models
                .range(prefix.to_string()..)
                .take_while(|(k, _)| k.starts_with(prefix))
            {
                out.extend_from_slice(subs);
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    /// The devices `adv` affects (or that need review for it), by device id.
    ///
    /// Work is done per distinct subject and per distinct *set* of matching subjects:
    /// devices that match through the same identity and components share one
    /// resolution, copied (cheaply: shared strings) to each of them.
    pub fn affected_by(&self, adv: &PreparedAdvisory) -> AffectedReport {
        let mut subject_hits: HashMap<u32, Vec<(usize, Hit)>> = HashMap::new();
        let mut cands = Vec::new();
        for (pidx, pp) in adv.products.iter().enumerate() {
            let Some(prod) = adv.advisory.products.get(pidx) else {
                continue;
            };
            if prod.composite.is_some() {
                continue;
            }
            self.candidates(pp, &mut cands);
            for &r in &cands {
                if let Some(sub) = self.subject(r) {
                    if let Some(h) = match_product(pp, &prod.product_id, &sub.facts) {
                        subject_hits.entry(r).or_default().push((pidx, h));
                    }
                }
            }
        }
        // Device → sorted ids of the subjects through which it matched.
        let mut dev_subjects: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut hit_subjects: Vec<u32> = subject_hits.keys().copied().collect();
        hit_subjects.sort_unstable();
        for &s in &hit_subjects {
            if let Some(sub) = self.subject(s) {
                for &d in &sub.devices {
                    dev_subjects.entry(d).or_default().push(s);
                }
            }
        }
        let mut groups: HashMap<Vec<u32>, Vec<u32>> = HashMap::new();
        for (d, subs) in dev_subjects {
            groups.entry(subs).or_default().push(d);
        }
        let mut devices = Vec::new();
        let mut cleared_devices = Vec::new();
        for (subs, members) in groups {
            let Some(Some(rep)) = members.first().and_then(|&d| self.devices.get(d as usize))
            else {
                continue;
            };
            let mut hits: Vec<(usize, Hit, Arc<Via>)> = Vec::new();
            for s in &subs {
                if let (Some(sub), Some(hs)) = (self.subject(*s), subject_hits.get(s)) {
                    for (pidx, h) in hs {
                        hits.push((*pidx, h.clone(), sub.via.clone()));
                    }
                }
            }
            self.add_composites(adv, rep, &mut hits);
            let Some(f) = resolve(adv, &rep.id, rep.zone.as_deref(), &hits) else {
                continue;
            };
            for &m in &members {
                let Some(Some(d)) = self.devices.get(m as usize) else {
                    continue;
                };
                let mut g = f.clone();
                g.device.clone_from(&d.id);
                g.zone.clone_from(&d.zone);
                if g.vulnerabilities.is_empty() {
                    cleared_devices.push(g);
                } else {
                    devices.push(g);
                }
            }
        }
        devices.sort_by(|a, b| a.device.cmp(&b.device));
        cleared_devices.sort_by(|a, b| a.device.cmp(&b.device));
        AffectedReport {
            advisory: adv.advisory.id.clone(),
            title: adv.advisory.title.clone(),
            devices,
            cleared_devices,
            unparsed: unparsed_of(adv),
        }
    }

    /// Relationship products (`firmware installed_on model`) whose target matched.
    fn add_composites(
        &self,
        adv: &PreparedAdvisory,
        d: &DeviceEntry,
        hits: &mut Vec<(usize, Hit, Arc<Via>)>,
    ) {
        let targets: Vec<(usize, Confidence)> =
            hits.iter().map(|(p, h, _)| (*p, h.confidence)).collect();
        for (t, tconf) in targets {
            let Some(comps) = adv.composites_by_target.get(t) else {
                continue;
            };
            for &(rel, refp) in comps {
                let (Some(rp), Some(rprod), Some(relprod)) = (
                    adv.products.get(refp),
                    adv.advisory.products.get(refp),
                    adv.advisory.products.get(rel),
                ) else {
                    continue;
                };
                let mut found = self.subject(d.identity).and_then(|s| {
                    match_firmware_reference(rp, &rprod.product_id, &s.facts)
                        .map(|h| (h, s.via.clone()))
                });
                if found.is_none() {
                    for &cs in &d.components {
                        if let Some(c) = self.subject(cs) {
                            if let Some(h) = match_product(rp, &rprod.product_id, &c.facts) {
                                found = Some((h, c.via.clone()));
                                break;
                            }
                        }
                    }
                }
                if let Some((h, via)) = found {
                    hits.push((
                        rel,
                        Hit {
                            product_id: Arc::from(relprod.product_id.as_str()),
                            confidence: h.confidence.min(tconf),
                            specificity: h.specificity,
                            reason: format!("{} ({})", h.reason, relprod.full_name).into(),
                            version_unknown: h.version_unknown,
                        },
                        via,
                    ));
                }
            }
        }
    }

    /// Re-checks one device against every advisory in `advisories`.
    pub fn check_device(
        &self,
        id: &str,
        advisories: &AdvisoryIndex,
    ) -> Vec<(String, DeviceFinding)> {
        let Some(d) = self.entry(id) else {
            return Vec::new();
        };
        let mut subjects: Vec<(&Facts, Arc<Via>)> = Vec::new();
        for s in std::iter::once(d.identity).chain(d.components.iter().copied()) {
            if let Some(sub) = self.subject(s) {
                subjects.push((&sub.facts, sub.via.clone()));
            }
        }
        advisories.check_subjects(self, d, &subjects)
    }
}

/// Imported advisories, prepared and indexed by their match keys.
#[derive(Debug)]
pub struct AdvisoryIndex {
    aliases: VendorAliases,
    advisories: Vec<Option<PreparedAdvisory>>,
    by_id: HashMap<String, usize>,
    post: Postings<(u32, u32)>,
    /// Model-number literal prefix → products.
    model_prefixes: HashMap<String, Vec<(u32, u32)>>,
}

impl Default for AdvisoryIndex {
    fn default() -> Self {
        Self::new(VendorAliases::default())
    }
}

/// Index keys of one product. Selector 3 holds the product's primary tokens: a
/// subject whose tokens include the whole product name includes its primary token.
/// Selector 5 holds every token: a subject whose identity is contained in the name
/// has its own primary token among them.
fn product_keys(p: &PreparedProduct) -> Vec<(u8, String)> {
    let mut k = Vec::new();
    for pu in &p.purls {
        k.push((0, pu.key()));
    }
    for c in &p.cpes {
        // Components index both `vendor:product` and `*:product`; one key suffices here.
        k.push((1, format!("*:{}", c.product)));
    }
    for n in p.name_lookup_keys() {
        k.push((2, n));
    }
    // A one-token wildcard name (`AFF66X`) under each concrete name it stands for.
    if let [t] = p.name_tokens.as_slice() {
        for e in expand_wild(t) {
            if let Some(v) = &p.vendor_key {
                k.push((2, format!("{v} {e}")));
            }
            k.push((2, e));
        }
    }
    let push_tok = |sel: u8, t: &String, k: &mut Vec<(u8, String)>| {
        k.push((sel, t.clone()));
        for e in expand_wild(t) {
            k.push((sel, e));
        }
    };
    for toks in [&p.name_sorted, &p.qualified_tokens] {
        if toks.len() >= 2 {
            if let Some(t) = primary_token(toks) {
                push_tok(3, &t, &mut k);
            }
        }
    }
    if p.qualified_tokens.len() >= 2 {
        for t in &p.qualified_tokens {
            push_tok(5, t, &mut k);
        }
    }
    for h in &p.hashes {
        k.push((4, format!("{}:{}", h.alg, h.value)));
    }
    k.sort();
    k.dedup();
    k
}

impl AdvisoryIndex {
    /// An empty index.
    pub fn new(aliases: VendorAliases) -> Self {
        AdvisoryIndex {
            aliases,
            advisories: Vec::new(),
            by_id: HashMap::new(),
            post: Postings::default(),
            model_prefixes: HashMap::new(),
        }
    }

    /// Number of advisories.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Adds an advisory (replacing one with the same id); returns it, shared.
    pub fn insert(&mut self, adv: Advisory) -> Arc<Advisory> {
        self.remove(&adv.id);
        let prepared = PreparedAdvisory::new(Arc::new(adv), &self.aliases);
        let slot = self.advisories.len();
        for (pi, p) in prepared.products.iter().enumerate() {
            let r = (slot as u32, pi as u32);
            self.post.insert(&product_keys(p), r);
            for m in &p.models {
                let pre = model_prefix(m).to_string();
                let v = self.model_prefixes.entry(pre).or_default();
                v.push(r);
            }
        }
        self.by_id.insert(prepared.advisory.id.clone(), slot);
        let shared = prepared.advisory.clone();
        self.advisories.push(Some(prepared));
        shared
    }

    /// Removes an advisory by id.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(slot) = self.by_id.remove(id) else {
            return false;
        };
        let Some(prep) = self.advisories.get_mut(slot).and_then(Option::take) else {
            return false;
        };
        for (pi, p) in prep.products.iter().enumerate() {
            let r = (slot as u32, pi as u32);
            self.post.remove(&product_keys(p), r);
            for m in &p.models {
                del(&mut self.model_prefixes, model_prefix(m), r);
            }
        }
        true
    }

    /// The prepared advisory with this id.
    pub fn get(&self, id: &str) -> Option<&PreparedAdvisory> {
        self.advisories.get(*self.by_id.get(id)?)?.as_ref()
    }

    /// All advisories.
    pub fn iter(&self) -> impl Iterator<Item = &PreparedAdvisory> {
        self.advisories.iter().flatten()
    }

    fn candidates_for(&self, f: &Facts, out: &mut HashSet<(u32, u32)>) {
        for (sel, k) in subject_keys(f) {
            let m = match sel {
                0 => &self.post.purl,
                1 => &self.post.cpe,
                2 => &self.post.name,
                3 => &self.post.token,
                4 => &self.post.hash,
                _ => &self.post.primary,
            };
            if let Some(v) = m.get(&k) {
                out.extend(v.iter().copied());
            }
        }
        if let Some(m) = &f.model {
            for end in 0..=m.len() {
                if let Some(v) = m.get(..end).and_then(|pre| self.model_prefixes.get(pre)) {
                    out.extend(v.iter().copied());
                }
            }
        }
    }

    fn check_subjects(
        &self,
        fleet: &FleetIndex,
        d: &DeviceEntry,
        subjects: &[(&Facts, Arc<Via>)],
    ) -> Vec<(String, DeviceFinding)> {
        let mut per_adv: BTreeMap<u32, Vec<(usize, Hit, Arc<Via>)>> = BTreeMap::new();
        let mut cands = HashSet::new();
        for (f, via) in subjects {
            cands.clear();
            self.candidates_for(f, &mut cands);
            for &(a, p) in &cands {
                let Some(Some(adv)) = self.advisories.get(a as usize) else {
                    continue;
                };
                let (Some(pp), Some(prod)) = (
                    adv.products.get(p as usize),
                    adv.advisory.products.get(p as usize),
                ) else {
                    continue;
                };
                if prod.composite.is_some() {
                    continue;
                }
                if let Some(h) = match_product(pp, &prod.product_id, f) {
                    per_adv
                        .entry(a)
                        .or_default()
                        .push((p as usize, h, via.clone()));
                }
            }
        }
        let mut out = Vec::new();
        for (a, mut hits) in per_adv {
            let Some(Some(adv)) = self.advisories.get(a as usize) else {
                continue;
            };
            fleet.add_composites(adv, d, &mut hits);
            if let Some(f) = resolve(adv, &d.id, d.zone.as_deref(), &hits) {
                out.push((adv.advisory.id.clone(), f));
            }
        }
        out
    }
}
