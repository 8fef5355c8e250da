//! The normalised component and device model every format is read into.
//!
//! One shape for CycloneDX, SPDX 2.x (JSON and tag-value) and SPDX 3.0 components,
//! and one for a device's identity as its attested claims state it. Both are plain
//! serde data so a store can persist them and rebuild the fleet index from them.

use serde::{Deserialize, Serialize};

/// What kind of thing a component is (CycloneDX component types, SPDX purposes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentType {
    /// An application.
    Application,
    /// A library.
    #[default]
    Library,
    /// A framework.
    Framework,
    /// Firmware.
    Firmware,
    /// A physical device.
    Device,
    /// A device driver.
    DeviceDriver,
    /// An operating system.
    OperatingSystem,
    /// A container image.
    Container,
    /// A platform.
    Platform,
    /// A file.
    File,
    /// Source code.
    Source,
    /// Anything else, as named by the document.
    Other(String),
}

impl ComponentType {
    /// Maps a CycloneDX `type` or SPDX `primaryPackagePurpose` value.
    pub fn from_name(s: &str) -> Self {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "application" => Self::Application,
            "library" => Self::Library,
            "framework" => Self::Framework,
            "firmware" => Self::Firmware,
            "device" => Self::Device,
            "device-driver" => Self::DeviceDriver,
            "operating-system" => Self::OperatingSystem,
            "container" => Self::Container,
            "platform" => Self::Platform,
            "file" => Self::File,
            "source" => Self::Source,
            other => Self::Other(other.to_string()),
        }
    }
}

/// A digest of a component or firmware image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Digest {
    /// Algorithm, normalised to upper case without separators (`SHA256`, `MD5`).
    pub alg: String,
    /// Lower-case hex value.
    pub value: String,
}

impl Digest {
    /// Normalises algorithm names (`SHA-256`, `sha256` → `SHA256`) and hex case.
    pub fn new(alg: &str, value: &str) -> Self {
        Digest {
            alg: alg
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_uppercase(),
            value: value.trim().to_ascii_lowercase(),
        }
    }
}

/// One component of an SBOM, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Component {
    /// The document's own reference (CycloneDX `bom-ref`, SPDX `SPDXID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    /// Name.
    pub name: String,
    /// Vendor: supplier, manufacturer, publisher or author, whichever the document gives first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Group / namespace (CycloneDX `group`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Version as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Package URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// CPE names (2.2 URI or 2.3 formatted string).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpes: Vec<String>,
    /// Digests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Digest>,
    /// Component type.
    #[serde(default)]
    pub kind: ComponentType,
    /// A version range instead of a version (CycloneDX 1.7 external components).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_range: Option<String>,
}

/// Which format and version an SBOM was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", content = "spec_version", rename_all = "kebab-case")]
pub enum SbomFormat {
    /// CycloneDX JSON with its `specVersion`.
    CycloneDx(String),
    /// SPDX 2.x JSON with its `spdxVersion`.
    SpdxJson(String),
    /// SPDX 2.x tag-value with its `SPDXVersion`.
    SpdxTagValue(String),
    /// SPDX 3.0 JSON-LD.
    Spdx3(String),
}

/// A parsed SBOM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sbom {
    /// Format and spec version.
    pub format: SbomFormat,
    /// CycloneDX `serialNumber` or SPDX `documentNamespace` / `@id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// What the SBOM describes (CycloneDX `metadata.component`, SPDX `documentDescribes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Component>,
    /// All components, nested ones flattened.
    pub components: Vec<Component>,
    /// SHA-256 of the exact bytes the SBOM was read from, lower-case hex.
    pub digest: String,
}

/// A device's identity, from its attested claims (certificate subject, TcbInfo).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct DeviceIdentity {
    /// Manufacturer.
    pub vendor: String,
    /// Product name (`SIMATIC S7-1500 CPU 1511-1 PN`, `SIPROTEC 5 7SA82`).
    pub product: String,
    /// Product family, if the vendor states one (`P3`, `S7-1500`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Order / model number (`6ES7511-1AK02-0AB0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Firmware version from TcbInfo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// Hardware version / variant (`CP300`, `Series B`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_version: Option<String>,
    /// Firmware image digests (TcbInfo FWIDs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firmware_hashes: Vec<Digest>,
}

/// Everything the matcher knows about one device. The store persists this and
/// replays it into [`crate::fleet::FleetIndex::upsert_device`] to rebuild the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DeviceRecord {
    /// Stable device id.
    pub id: String,
    /// Zone the device is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Attested identity.
    pub identity: DeviceIdentity,
    /// Components from the device's attested SBOM(s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// Digest of the SBOM the components came from (as attested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom_digest: Option<String>,
    /// Serial number of that SBOM (for BOM-link VEX statements).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom_serial: Option<String>,
}
