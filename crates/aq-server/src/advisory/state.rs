//! What the server knows about fleet composition and advisories, in memory, kept in step with the
//! store.
//!
//! Three pieces, each behind its own lock so that a long query never stalls ingest:
//!
//! * **compositions** (`Mutex`): per device, the identity its latest boot record attested, the
//!   latest SBOM digest it attested (boot or `sbom` record), the SBOM document linked to it (only
//!   a document whose SHA-256 equals an attested digest is ever linked) and the history of linked
//!   documents. The committer updates it for every accepted boot/`sbom` record
//!   ([`before_commit`]) and persists changed devices in the same store batch as the records, so
//!   the store never holds a composition ahead of or behind its records.
//! * **pending** (`Mutex`): fleet-index updates produced by the committer or by uploads, applied
//!   by the next reader. The committer thread never waits for a reader.
//! * **indexes** (`RwLock`): the [`FleetIndex`], the [`AdvisoryIndex`], advisory metadata and VEX
//!   statements. Queries hold the read lock; imports hold the write lock for an insert.
//!
//! Documents are stored content-addressed (`sboms/<sha256>`, `advisory_docs/<sha256>`,
//! `vex_docs/<sha256>`): they are written before anything refers to them, so a crash leaves at
//! worst an unreferenced document, and their integrity is checked by their key.

use crate::core::{Core, CoreError};
use aq_evidence::{Body, DeviceId, Kind, Record};
use aq_sbom::finding::AffectedReport;
use aq_sbom::fleet::{AdvisoryIndex, FleetIndex};
use aq_sbom::model::{Component, DeviceIdentity, DeviceRecord};
use aq_sbom::vex::VexStatement;
use aq_store::{Batch, DocWrite, Store, StoreError, StoredRecord};
use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// SBOM documents by SHA-256 (exact bytes).
pub const SBOMS: &str = "sboms";
/// Per-device composition ([`Composition`] JSON) by device id (hex).
pub const SBOM_DEVICES: &str = "sbom_devices";
/// Advisory metadata ([`AdvisoryMeta`] JSON) by advisory id.
pub const ADVISORIES: &str = "advisories";
/// Advisory documents by SHA-256 (exact bytes as imported).
pub const ADVISORY_DOCS: &str = "advisory_docs";
/// VEX documents by SHA-256 (exact bytes as imported).
pub const VEX_DOCS: &str = "vex_docs";

/// Most linked documents remembered per device.
const MAX_HISTORY: usize = 32;

/// The record that proves a fact about a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// Device id (hex).
    pub device: String,
    /// Record kind (`boot` or `sbom`).
    pub kind: String,
    /// The record's sequence number.
    pub seq: u64,
    /// The record's index in the transparency log.
    pub log_index: u64,
    /// The device's clock when it sealed the record (ms).
    pub time_ms: u64,
}

impl Attestation {
    fn of(r: &StoredRecord) -> Attestation {
        Attestation {
            device: r.device.to_hex(),
            kind: r.kind.name().to_string(),
            seq: r.seq,
            log_index: r.log_index,
            time_ms: r.time_ms,
        }
    }
}

/// An SBOM digest a device attested.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestedSbom {
    /// SHA-256 of the document (hex).
    pub digest: String,
    /// Format the device declared (`sbom` records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Size the device declared (`sbom` records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The record that attested it.
    pub attestation: Attestation,
}

/// An SBOM document linked to a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// SHA-256 of the document.
    pub digest: String,
    /// Format and spec version as read.
    pub format: String,
    /// Number of components.
    pub components: usize,
    /// Serial number / namespace of the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// The record that attested the digest.
    pub attestation: Attestation,
    /// When the server linked it (ms).
    pub linked_ms: u64,
    /// Who supplied the document (`device`, `operator:<name>`, or `stored` when the same
    /// document was already held).
    pub by: String,
}

/// A device's identity as its latest boot record attested it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestedIdentity {
    /// Vendor.
    pub vendor: String,
    /// Product.
    pub product: String,
    /// Model / order number.
    pub model: String,
    /// Firmware version.
    pub firmware_version: String,
    /// Hardware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_version: Option<String>,
    /// Firmware image digest (TcbInfo FWID, hex).
    pub fwid: String,
    /// The boot record.
    pub attestation: Attestation,
}

impl AttestedIdentity {
    fn same_claims(&self, v: &aq_verify::engine::DeviceIdentity) -> bool {
        self.vendor == v.vendor
            && self.product == v.product
            && self.model == v.model
            && self.firmware_version == v.firmware_version
            && self.hardware_version == v.hardware_version
            && self.fwid == v.fwid.to_hex()
    }

    fn same_claims_as(&self, o: &AttestedIdentity) -> bool {
        self.vendor == o.vendor
            && self.product == o.product
            && self.model == o.model
            && self.firmware_version == o.firmware_version
            && self.hardware_version == o.hardware_version
            && self.fwid == o.fwid
    }

    fn matcher_identity(&self) -> DeviceIdentity {
        let opt = |s: &str| (!s.trim().is_empty()).then(|| s.to_string());
        DeviceIdentity {
            vendor: self.vendor.clone(),
            product: self.product.clone(),
            family: None,
            model: opt(&self.model),
            firmware_version: opt(&self.firmware_version),
            hardware_version: self.hardware_version.as_deref().and_then(opt),
            firmware_hashes: vec![aq_sbom::model::Digest::new("SHA-256", &self.fwid)],
        }
    }
}

/// Everything known about one device's composition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Composition {
    /// Identity from the latest boot record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<AttestedIdentity>,
    /// Latest attested SBOM digest (none when the device attests no SBOM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attested: Option<AttestedSbom>,
    /// The document matching the latest attested digest, once the server holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Link>,
    /// Every document linked to the device, oldest first (the current one last).
    #[serde(default)]
    pub history: Vec<Link>,
}

/// A parsed SBOM document.
#[derive(Debug)]
pub struct SbomDoc {
    /// Format and spec version.
    pub format: String,
    /// Serial number / namespace.
    pub serial: Option<String>,
    /// Components.
    pub components: Vec<Component>,
}

impl SbomDoc {
    /// From a parsed SBOM.
    pub fn from_sbom(s: aq_sbom::model::Sbom) -> SbomDoc {
        use aq_sbom::model::SbomFormat as F;
        let format = match &s.format {
            F::CycloneDx(v) => format!("CycloneDX {v}"),
            F::SpdxJson(v) => format!("{v} JSON"),
            F::SpdxTagValue(v) => format!("{v} tag-value"),
            F::Spdx3(v) => format!("SPDX {v}"),
        };
        let mut components = s.components;
        if let Some(subject) = s.subject
            && !components
                .iter()
                .any(|c| c.name == subject.name && c.version == subject.version)
        {
            components.push(subject);
        }
        SbomDoc {
            format,
            serial: s.serial,
            components,
        }
    }
}

/// Metadata of an imported advisory (the `advisories` collection).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryMeta {
    /// Tracking id.
    pub id: String,
    /// Title.
    pub title: String,
    /// `csaf` or `osv`.
    pub format: String,
    /// SHA-256 of the imported document (key in `advisory_docs`).
    pub digest: String,
    /// When it was imported (ms): the awareness time for reports.
    pub imported_ms: u64,
    /// Who imported it.
    pub imported_by: String,
    /// VEX documents applied to it, in import order.
    #[serde(default)]
    pub vex: Vec<VexMeta>,
}

/// A VEX document applied to an advisory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexMeta {
    /// SHA-256 of the document (key in `vex_docs`).
    pub digest: String,
    /// Statements it holds.
    pub statements: usize,
    /// When (ms).
    pub imported_ms: u64,
    /// Who.
    pub imported_by: String,
}

/// The searchable indexes.
#[derive(Debug, Default)]
pub struct Indexes {
    /// Devices with identity and components.
    pub fleet: FleetIndex,
    /// Prepared advisories.
    pub advisories: AdvisoryIndex,
    /// Advisory metadata by id.
    pub meta: BTreeMap<String, AdvisoryMeta>,
    /// VEX statements by advisory id.
    pub vex: HashMap<String, Vec<VexStatement>>,
}

/// Compositions and parsed documents.
#[derive(Debug, Default)]
pub struct Compositions {
    /// Per device.
    pub devices: HashMap<DeviceId, Composition>,
    /// Parsed SBOM documents by digest.
    pub docs: HashMap<String, Arc<SbomDoc>>,
    dirty: BTreeSet<DeviceId>,
}

/// The result of linking a document to a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linked {
    /// It is the device's current composition.
    Current,
    /// The device has attested a newer digest since: kept in its history only.
    HistoryOnly,
    /// Already linked with this attestation: nothing changed.
    Unchanged,
}

impl Compositions {
    /// Notes an identity from an accepted boot record; true if the claims changed.
    fn observe_identity(&mut self, d: DeviceId, id: AttestedIdentity) -> bool {
        let c = self.devices.entry(d).or_default();
        match &c.identity {
            Some(old) if old.attestation.seq >= id.attestation.seq => false,
            Some(old) => {
                let changed = !old.same_claims_as(&id);
                c.identity = Some(id);
                self.dirty.insert(d);
                changed
            }
            None => {
                c.identity = Some(id);
                self.dirty.insert(d);
                true
            }
        }
    }

    /// Notes an attested SBOM digest (`None`: the device attests no SBOM); true if the device's
    /// current document changed.
    fn observe_sbom(&mut self, d: DeviceId, att: Option<AttestedSbom>, seq: u64, now: u64) -> bool {
        let c = self.devices.entry(d).or_default();
        let newest_seq = c.attested.as_ref().map(|a| a.attestation.seq);
        if newest_seq.is_some_and(|s| s >= seq) {
            return false;
        }
        self.dirty.insert(d);
        let Some(att) = att else {
            c.attested = None;
            return c.current.take().is_some();
        };
        c.attested = Some(att.clone());
        match &mut c.current {
            // Same document attested again (a reboot): the newer record proves it now.
            Some(cur) if cur.digest == att.digest => {
                cur.attestation = att.attestation;
                false
            }
            _ => {
                if let Some(doc) = self.docs.get(&att.digest).cloned() {
                    link_into(c, &att, &doc, "stored", now);
                } else {
                    c.current = None;
                }
                true
            }
        }
    }

    /// Links the stored document `att.digest` to `d`, as proven by `att`.
    pub fn link(&mut self, d: DeviceId, att: &AttestedSbom, by: &str, now: u64) -> Linked {
        let Some(doc) = self.docs.get(&att.digest).cloned() else {
            return Linked::Unchanged;
        };
        let c = self.devices.entry(d).or_default();
        if c.current.as_ref().is_some_and(|cur| {
            cur.digest == att.digest && cur.attestation.seq >= att.attestation.seq
        }) {
            return Linked::Unchanged;
        }
        self.dirty.insert(d);
        let newer_elsewhere = c
            .attested
            .as_ref()
            .is_some_and(|a| a.attestation.seq > att.attestation.seq && a.digest != att.digest);
        if newer_elsewhere {
            if !c.history.iter().any(|h| h.digest == att.digest) {
                c.history.push(new_link(att, &doc, by, now));
                trim(&mut c.history);
            }
            return Linked::HistoryOnly;
        }
        if c.attested
            .as_ref()
            .is_none_or(|a| a.attestation.seq <= att.attestation.seq)
        {
            c.attested = Some(att.clone());
        }
        link_into(c, att, &doc, by, now);
        Linked::Current
    }

    /// Devices whose latest attested digest is `digest` but which have no document linked for it.
    pub fn awaiting(&self, digest: &str) -> Vec<(DeviceId, AttestedSbom)> {
        self.devices
            .iter()
            .filter_map(|(d, c)| {
                let a = c.attested.as_ref()?;
                (a.digest == digest && c.current.as_ref().is_none_or(|cur| cur.digest != digest))
                    .then(|| (*d, a.clone()))
            })
            .collect()
    }

    /// The matcher's view of a device.
    pub fn record(&self, d: &DeviceId) -> Option<DeviceRecord> {
        let c = self.devices.get(d)?;
        let ident = c.identity.as_ref()?;
        let doc = c.current.as_ref().and_then(|l| self.docs.get(&l.digest));
        Some(DeviceRecord {
            id: d.to_hex(),
            zone: None,
            identity: ident.matcher_identity(),
            components: doc.map(|x| x.components.clone()).unwrap_or_default(),
            sbom_digest: c.current.as_ref().map(|l| l.digest.clone()),
            sbom_serial: doc.and_then(|x| x.serial.clone()),
        })
    }

    /// Takes the devices changed since the last call, with their documents for the store.
    fn take_dirty(&mut self) -> Vec<DocWrite> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .filter_map(|d| {
                let c = self.devices.get(&d)?;
                Some(DocWrite {
                    collection: SBOM_DEVICES.into(),
                    key: d.to_hex(),
                    value: Some(serde_json::to_vec(c).ok()?),
                })
            })
            .collect()
    }
}

fn new_link(att: &AttestedSbom, doc: &SbomDoc, by: &str, now: u64) -> Link {
    Link {
        digest: att.digest.clone(),
        format: doc.format.clone(),
        components: doc.components.len(),
        serial: doc.serial.clone(),
        attestation: att.attestation.clone(),
        linked_ms: now,
        by: by.to_string(),
    }
}

fn link_into(c: &mut Composition, att: &AttestedSbom, doc: &SbomDoc, by: &str, now: u64) {
    let l = new_link(att, doc, by, now);
    if c.history.last().is_none_or(|h| h.digest != l.digest) {
        c.history.push(l.clone());
        trim(&mut c.history);
    }
    c.current = Some(l);
}

fn trim(h: &mut Vec<Link>) {
    let excess = h.len().saturating_sub(MAX_HISTORY);
    h.drain(..excess);
}

/// The server's SBOM and advisory state.
#[derive(Debug, Default)]
pub struct SbomState {
    /// Compositions and documents.
    pub comp: Mutex<Compositions>,
    pending: Mutex<Vec<(DeviceId, Option<DeviceRecord>)>>,
    index: RwLock<Indexes>,
    generation: AtomicU64,
    cache: Mutex<HashMap<String, (u64, Arc<AffectedReport>)>>,
}

impl SbomState {
    /// Queues the fleet-index update for devices whose matcher view changed.
    pub fn queue(&self, comp: &Compositions, devices: impl IntoIterator<Item = DeviceId>) {
        let mut p = self.pending.lock();
        for d in devices {
            p.push((d, comp.record(&d)));
        }
    }

    /// Applies queued fleet updates (if any).
    fn apply_pending(&self) {
        let queued = std::mem::take(&mut *self.pending.lock());
        if queued.is_empty() {
            return;
        }
        let mut ix = self.index.write();
        for (d, rec) in queued {
            match rec {
                Some(r) => ix.fleet.upsert_device(r),
                None => {
                    ix.fleet.remove_device(&d.to_hex());
                }
            }
        }
        self.bump();
    }

    /// The indexes, with every queued update applied.
    pub fn read(&self) -> RwLockReadGuard<'_, Indexes> {
        self.apply_pending();
        self.index.read()
    }

    /// Changes the indexes (imports).
    pub fn write<T>(&self, f: impl FnOnce(&mut Indexes) -> T) -> T {
        self.apply_pending();
        let r = f(&mut self.index.write());
        self.bump();
        r
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Relaxed);
    }

    /// The affected population of an advisory with its VEX applied (zones not filled in), or
    /// `None` if there is no such advisory. Cached until the fleet, the advisories or VEX change.
    pub fn affected(&self, id: &str) -> Option<Arc<AffectedReport>> {
        let ix = self.read();
        let generation = self.generation.load(Relaxed);
        if let Some((g, r)) = self.cache.lock().get(id)
            && *g == generation
        {
            return Some(r.clone());
        }
        let prepared = ix.advisories.get(id)?;
        let mut report = ix.fleet.affected_by(prepared);
        if let Some(st) = ix.vex.get(id) {
            aq_sbom::vex::apply_vex(&mut report, st, &ix.fleet);
        }
        let report = Arc::new(report);
        let mut cache = self.cache.lock();
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(id.to_string(), (generation, report.clone()));
        Some(report)
    }
}

fn identity_of(r: &StoredRecord, b: &aq_evidence::Boot) -> AttestedIdentity {
    AttestedIdentity {
        vendor: b.vendor.clone(),
        product: b.product.clone(),
        model: b.model.clone(),
        firmware_version: b.firmware_version.clone(),
        hardware_version: b.hardware_version.clone(),
        fwid: b.fwid.to_hex(),
        attestation: Attestation::of(r),
    }
}

/// The SBOM digest a boot or `sbom` record attests (`None` for the all-zero digest: no SBOM).
pub fn attested_sbom(r: &StoredRecord, body: &Body) -> Option<Option<AttestedSbom>> {
    let (digest, format, size) = match body {
        Body::Boot(b) => (b.sbom_digest, None, None),
        Body::Sbom(s) => (
            s.digest,
            serde_json::to_value(s.format)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string)),
            Some(s.size),
        ),
        _ => return None,
    };
    if digest == aq_evidence::Digest::ZERO {
        return Some(None);
    }
    Some(Some(AttestedSbom {
        digest: digest.to_hex(),
        format,
        size,
        attestation: Attestation::of(r),
    }))
}

/// Applies one accepted boot or `sbom` record; returns true if the device's matcher view changed.
fn observe(comp: &mut Compositions, r: &StoredRecord, now: u64) -> bool {
    if !matches!(r.kind, Kind::Boot | Kind::Sbom) {
        return false;
    }
    let Ok(rec) = Record::decode(&r.bytes) else {
        return false;
    };
    let mut changed = false;
    if let Body::Boot(b) = &rec.payload.body {
        changed |= comp.observe_identity(r.device, identity_of(r, b));
    }
    if let Some(att) = attested_sbom(r, &rec.payload.body) {
        changed |= comp.observe_sbom(r.device, att, r.seq, now);
    }
    changed
}

/// Called by the committer with the batch it is about to commit (log indexes assigned): follows
/// accepted boot and `sbom` records, and adds the changed compositions to the same batch.
pub fn before_commit(core: &Core, batch: &mut Batch) {
    let st = &core.sbom;
    let now = crate::core::now_ms();
    let mut comp = st.comp.lock();
    let mut changed = Vec::new();
    for r in &batch.records {
        if observe(&mut comp, r, now) {
            changed.push(r.device);
        }
    }
    changed.sort();
    changed.dedup();
    if !changed.is_empty() {
        st.queue(&comp, changed);
    }
    batch.docs.extend(comp.take_dirty());
}

/// Rebuilds a device's composition from its latest boot and `sbom` records in the store.
fn from_store(
    store: &dyn Store,
    d: &DeviceId,
    comp: &mut Compositions,
    now: u64,
) -> Result<(), StoreError> {
    let mut recs: Vec<StoredRecord> = [Kind::Boot, Kind::Sbom]
        .into_iter()
        .map(|k| store.latest_of_kind(d, k))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    recs.sort_by_key(|r| r.seq);
    for r in &recs {
        observe(comp, r, now);
    }
    Ok(())
}

/// The SBOM digests a device attested in its latest boot and `sbom` records, from the store.
pub fn attested_in_store(store: &dyn Store, d: &DeviceId) -> Result<Vec<AttestedSbom>, StoreError> {
    let mut out = Vec::new();
    for k in [Kind::Boot, Kind::Sbom] {
        if let Some(r) = store.latest_of_kind(d, k)?
            && let Ok(rec) = Record::decode(&r.bytes)
            && let Some(Some(a)) = attested_sbom(&r, &rec.payload.body)
        {
            out.push(a);
        }
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.attestation.seq));
    Ok(out)
}

/// Loads everything at start-up: documents, compositions (re-derived from the records for any
/// device whose stored composition disagrees with its verifier state), advisories and VEX.
pub fn load(core: &Core) -> Result<(), CoreError> {
    let store = core.store.as_ref();
    let now = crate::core::now_ms();
    let mut comp = Compositions::default();
    for (digest, bytes) in store.list_docs(SBOMS)? {
        if !aq_sbom::sbom::digest_matches(&bytes, &digest) {
            tracing::warn!(%digest, "stored SBOM does not hash to its key; ignored");
            continue;
        }
        match aq_sbom::sbom::parse_sbom(&bytes) {
            Ok(s) => {
                comp.docs.insert(digest, Arc::new(SbomDoc::from_sbom(s)));
            }
            Err(e) => tracing::warn!(%digest, error = %e, "stored SBOM unreadable; ignored"),
        }
    }
    for (k, v) in store.list_docs(SBOM_DEVICES)? {
        if let (Some(d), Ok(c)) = (
            DeviceId::from_hex(&k),
            serde_json::from_slice::<Composition>(&v),
        ) {
            comp.devices.insert(d, c);
        }
    }
    let mut devices = Vec::new();
    for row in store.devices()? {
        let Ok(snap) = serde_json::from_slice::<aq_verify::DeviceSnapshot>(&row.snapshot) else {
            continue;
        };
        let Some(ident) = snap.identity else { continue };
        let fresh = comp
            .devices
            .get(&row.device)
            .and_then(|c| c.identity.as_ref())
            .is_some_and(|i| i.same_claims(&ident));
        if !fresh {
            // Written before this feature, or the store caught up from the log after a crash.
            comp.devices.remove(&row.device);
            from_store(store, &row.device, &mut comp, now)?;
        }
        devices.push(row.device);
    }
    let fixups = comp.take_dirty();
    if !fixups.is_empty() {
        store.commit(&Batch {
            docs: fixups,
            ..Batch::default()
        })?;
    }
    let mut ix = Indexes::default();
    for d in &devices {
        if let Some(r) = comp.record(d) {
            ix.fleet.upsert_device(r);
        }
    }
    for (id, v) in store.list_docs(ADVISORIES)? {
        let Ok(meta) = serde_json::from_slice::<AdvisoryMeta>(&v) else {
            tracing::warn!(%id, "advisory metadata unreadable; ignored");
            continue;
        };
        let Some(bytes) = store.get_doc(ADVISORY_DOCS, &meta.digest)? else {
            tracing::warn!(%id, "advisory document missing; ignored");
            continue;
        };
        match super::parse_advisory(&bytes) {
            Ok(a) => {
                ix.advisories.insert(a);
            }
            Err(e) => {
                tracing::warn!(%id, error = %e, "advisory unreadable; ignored");
                continue;
            }
        }
        let mut statements = Vec::new();
        for v in &meta.vex {
            if let Some(b) = store.get_doc(VEX_DOCS, &v.digest)?
                && let Ok(s) = super::parse_vex(&b)
            {
                statements.extend(s);
            }
        }
        if !statements.is_empty() {
            ix.vex.insert(id.clone(), statements);
        }
        ix.meta.insert(id, meta);
    }
    *core.sbom.comp.lock() = comp;
    *core.sbom.index.write() = ix;
    core.sbom.bump();
    Ok(())
}
