//! SBOM parsing (CycloneDX JSON 1.4–1.7, SPDX 2.3 JSON, Syft JSON schema 16).
//!
//! [`parse`] detects the format from the document itself, deserializes it with serde into
//! typed, borrowing structs (no `serde_json::Value` walking), and returns the components
//! keyed by purl and mapped to OSV ecosystems (see the table in [`purl`](self) mapping
//! docs: `Debian:12`, `Alpine:v3.19`, `PyPI` with PEP 503 names, …).
//!
//! All input is untrusted: the size is capped before anything else, the JSON nesting depth
//! is checked by a cheap byte scan before serde sees the document (serde recursion is the
//! only unbounded stack use), and every failure is one [`SbomError`] variant that names
//! what was wrong.
//!
//! ```
//! use scanner::sbom::{parse, SbomFormat, SbomLimits};
//!
//! let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
//!   {"type":"library","name":"Django","version":"3.2","purl":"pkg:pypi/Django@3.2"}]}"#;
//! let sbom = parse(doc, &SbomLimits::default()).expect("valid CycloneDX");
//! assert_eq!(sbom.format, SbomFormat::CycloneDx { spec_version: "1.5".into() });
//! let c = &sbom.components[0];
//! assert_eq!(c.ecosystem.as_ref().map(|e| e.to_string()).as_deref(), Some("PyPI"));
//! assert_eq!(c.package, "django");
//! ```
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bundles::model::ecosystem::Ecosystem;

mod cyclonedx;
mod depth;
mod lenient;
mod purl;
mod spdx;
mod syft;

/// Bounds applied to every SBOM before and while it is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SbomLimits {
    /// Largest accepted document, in bytes (default 50 MiB).
    pub max_bytes: usize,
    /// Deepest accepted JSON nesting of objects and arrays (default 64). serde_json itself
    /// stops at 128, so larger values behave as 127.
    pub max_depth: usize,
    /// Most components accepted in one SBOM (default 100,000).
    pub max_components: usize,
}

impl Default for SbomLimits {
    fn default() -> Self {
        SbomLimits {
            max_bytes: 50 * 1024 * 1024,
            max_depth: 64,
            max_components: 100_000,
        }
    }
}

impl SbomLimits {
    /// Set the size cap in bytes.
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }

    /// Set the nesting depth limit.
    pub fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }

    /// Set the component count limit.
    pub fn max_components(mut self, n: usize) -> Self {
        self.max_components = n;
        self
    }
}

/// Why an SBOM was refused. Each variant names the check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SbomError {
    /// The document is larger than [`SbomLimits::max_bytes`].
    #[error("SBOM is {size} bytes, larger than the {limit}-byte limit")]
    TooLarge {
        /// The configured limit.
        limit: usize,
        /// The document size.
        size: usize,
    },
    /// Objects/arrays are nested deeper than [`SbomLimits::max_depth`].
    #[error("SBOM nests JSON objects/arrays deeper than the limit of {limit} (at byte {offset})")]
    TooDeep {
        /// The configured limit.
        limit: usize,
        /// Byte offset of the first bracket beyond the limit.
        offset: usize,
    },
    /// The document is not well-formed JSON.
    #[error("SBOM is not valid JSON: {msg} at line {line} column {column}")]
    NotJson {
        /// 1-based line of the error (0 when unknown).
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's description.
        msg: String,
    },
    /// Well-formed JSON, but none of the supported SBOM formats.
    #[error("unrecognised SBOM format: {0}")]
    UnknownFormat(String),
    /// A known format in a version this appliance does not read.
    #[error("unsupported {format} version {version:?} (supported: {supported})")]
    UnsupportedSpecVersion {
        /// `CycloneDX`, `SPDX` or `Syft`.
        format: &'static str,
        /// The version the document declares.
        version: String,
        /// The versions that are supported.
        supported: &'static str,
    },
    /// A known format whose content breaks its schema (a required field missing, a wrong type).
    #[error("invalid {format} document at {path}: {msg}")]
    Invalid {
        /// `CycloneDX`, `SPDX` or `Syft`.
        format: &'static str,
        /// JSON path of the offending value (`components[3].name`), `.` for the root.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// More components than [`SbomLimits::max_components`].
    #[error("SBOM has more than {limit} components")]
    TooManyComponents {
        /// The configured limit.
        limit: usize,
    },
}

/// The SBOM format and version that was detected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SbomFormat {
    /// CycloneDX JSON.
    CycloneDx {
        /// `specVersion` (`1.4` … `1.7`).
        spec_version: String,
    },
    /// SPDX 2.3 JSON.
    Spdx,
    /// Syft native JSON.
    Syft {
        /// `schema.version` (`16.x.y`).
        schema: String,
    },
}

impl fmt::Display for SbomFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SbomFormat::CycloneDx { spec_version } => write!(f, "CycloneDX {spec_version}"),
            SbomFormat::Spdx => f.write_str("SPDX 2.3"),
            SbomFormat::Syft { schema } => write!(f, "Syft JSON {schema}"),
        }
    }
}

/// The operating system an SBOM says it describes (Syft `distro`, a CycloneDX
/// `operating-system` component, an SPDX `OPERATING_SYSTEM` package).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distro {
    /// os-release `ID`, lowercase (`debian`, `ubuntu`, `alpine`, `rocky`, `rhel`).
    pub id: String,
    /// os-release `VERSION_ID` (`12`, `22.04`, `3.19.1`).
    pub version_id: Option<String>,
    /// os-release `VERSION_CODENAME` (`bookworm`).
    pub codename: Option<String>,
    /// os-release `PRETTY_NAME`.
    pub pretty_name: Option<String>,
}

/// One package found in the SBOM.
///
/// Strings are kept verbatim (an SBOM name may contain `<script>`): escaping is the
/// console's job.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Component {
    /// The name as the SBOM gives it.
    pub name: String,
    /// The version as the SBOM gives it (`""` when absent).
    pub version: String,
    /// The purl as the SBOM gives it.
    pub purl: Option<String>,
    /// The OSV ecosystem, when the purl maps to one the product matches.
    pub ecosystem: Option<Ecosystem>,
    /// The ecosystem-native lookup name: PEP 503 for PyPI, `group:artifact` for Maven,
    /// `namespace/name` for Go and Packagist, the **source** package for Debian, Ubuntu
    /// and Alpine, the binary package for RPM.
    pub package: String,
    /// The version to compare against advisories: the source version for deb/apk when
    /// known, `epoch:version-release` for rpm, else the package version.
    pub match_version: String,
    /// The image layer (digest or diff-id) that introduced the package, when known.
    pub layer: Option<String>,
    /// Where the package was found inside the scanned artifact, when known.
    pub path: Option<String>,
    /// The CycloneDX `bom-ref` / SPDX `SPDXID` / Syft artifact id.
    pub bom_ref: Option<String>,
}

/// A parsed SBOM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sbom {
    /// The detected format.
    pub format: SbomFormat,
    /// What the SBOM describes: CycloneDX `metadata.component.name`, the SPDX document
    /// name, the Syft source name.
    pub name: Option<String>,
    /// The image's manifest digest (`sha256:<64 hex>`), when the SBOM names one.
    pub image_digest: Option<String>,
    /// The operating system, when the SBOM names one.
    pub distro: Option<Distro>,
    /// The components, in a canonical order (sorted), so that the same SBOM always gives
    /// the same list whatever order the producer wrote.
    pub components: Vec<Component>,
    /// Every layer digest / diff-id the SBOM references.
    pub layers: BTreeSet<String>,
    /// Non-fatal problems (an unparseable purl, an OS package of unknown release). Those
    /// components are kept but never matched.
    pub warnings: Vec<String>,
}

/// The warning on an SBOM that lists no component at all.
pub const EMPTY_SBOM_WARNING: &str = "the SBOM lists no components: nothing was matched (was it generated from the right image or folder?)";

/// Most warnings kept per SBOM; a hostile document cannot grow this list without bound.
const MAX_WARNINGS: usize = 100;

/// Format-independent component facts, before ecosystem mapping.
#[derive(Debug, Default)]
pub(crate) struct RawComponent {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) purl: Option<String>,
    pub(crate) layer: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) bom_ref: Option<String>,
    pub(crate) source: purl::SourceHint,
}

/// Format-independent document facts, before ecosystem mapping.
#[derive(Debug)]
pub(crate) struct RawSbom {
    pub(crate) format: SbomFormat,
    pub(crate) name: Option<String>,
    pub(crate) image_digest: Option<String>,
    pub(crate) distro: Option<Distro>,
    pub(crate) components: Vec<RawComponent>,
    pub(crate) layers: BTreeSet<String>,
}

/// Parse an SBOM (CycloneDX JSON, SPDX 2.3 JSON or Syft JSON), detecting its format.
///
/// # Errors
///
/// [`SbomError::TooLarge`] / [`SbomError::TooDeep`] / [`SbomError::TooManyComponents`] when
/// a limit is exceeded, [`SbomError::NotJson`] for malformed JSON,
/// [`SbomError::UnknownFormat`] / [`SbomError::UnsupportedSpecVersion`] when the document is
/// not a supported SBOM, [`SbomError::Invalid`] when it breaks its format's schema.
pub fn parse(bytes: &[u8], limits: &SbomLimits) -> Result<Sbom, SbomError> {
    if bytes.len() > limits.max_bytes {
        return Err(SbomError::TooLarge {
            limit: limits.max_bytes,
            size: bytes.len(),
        });
    }
    // A UTF-8 byte order mark is legal in files written by some Windows tools.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    depth::check(bytes, limits.max_depth)?;
    let raw = detect_and_parse(bytes)?;
    if raw.components.len() > limits.max_components {
        return Err(SbomError::TooManyComponents {
            limit: limits.max_components,
        });
    }
    Ok(finish(raw))
}

/// The supported CycloneDX versions. 1.7 is read because current Trivy (0.76) writes it and
/// nothing this parser reads changed between 1.6 and 1.7.
const CDX_VERSIONS: &[&str] = &["1.4", "1.5", "1.6", "1.7"];
const CDX_SUPPORTED: &str = "1.4, 1.5, 1.6, 1.7";

fn detect_and_parse(bytes: &[u8]) -> Result<RawSbom, SbomError> {
    let probe = lenient::probe(bytes)?;
    match probe.kind() {
        lenient::Kind::CycloneDx(version) => {
            if !CDX_VERSIONS.contains(&version.as_str()) {
                return Err(SbomError::UnsupportedSpecVersion {
                    format: "CycloneDX",
                    version,
                    supported: CDX_SUPPORTED,
                });
            }
            cyclonedx::parse(bytes, version)
        }
        lenient::Kind::Spdx(version) => {
            if version != "SPDX-2.3" {
                return Err(SbomError::UnsupportedSpecVersion {
                    format: "SPDX",
                    version,
                    supported: "SPDX-2.3",
                });
            }
            spdx::parse(bytes)
        }
        lenient::Kind::Syft(schema) => {
            if schema.split('.').next() != Some("16") {
                return Err(SbomError::UnsupportedSpecVersion {
                    format: "Syft",
                    version: schema,
                    supported: "16.x",
                });
            }
            syft::parse(bytes, schema)
        }
        lenient::Kind::Error(e) => Err(e),
    }
}

/// Typed deserialization. The fast path runs plain serde_json; only when the document
/// breaks the schema is it parsed again with path tracking (which costs ~25% on every
/// parse), so that the error names the offending value.
pub(crate) fn from_slice<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
    format: &'static str,
) -> Result<T, SbomError> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(e) if !e.is_data() => Err(json_error(e, format, ".".into())),
        Err(first) => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            match serde_path_to_error::deserialize::<_, T>(&mut de) {
                Err(e) => {
                    let path = e.path().to_string();
                    Err(json_error(e.into_inner(), format, path))
                }
                // Unreachable in practice (same input, same deserializer); report the
                // first error rather than assume.
                Ok(_) => Err(json_error(first, format, ".".into())),
            }
        }
    }
}

fn json_error(e: serde_json::Error, format: &'static str, path: String) -> SbomError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io | Category::Syntax | Category::Eof => SbomError::NotJson {
            line: e.line(),
            column: e.column(),
            msg: strip_position(&e.to_string()),
        },
        Category::Data => SbomError::Invalid {
            format,
            path,
            msg: strip_position(&e.to_string()),
        },
    }
}

/// serde_json appends " at line L column C"; the variants carry those separately.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// `sha256:<64 lowercase hex>`, the only digest form accepted as an image digest.
pub(crate) fn is_sha256_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The type of a purl that parsed (`pkg:TYPE/…`), lower-cased as the spec says.
fn purl_type(p: &str) -> String {
    p.strip_prefix("pkg:")
        .unwrap_or(p)
        .trim_start_matches('/')
        .split(['/', '@', '?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Components per part when a large SBOM's purls are mapped on rayon's pool.
const MAP_PART: usize = 128;

fn finish(raw: RawSbom) -> Sbom {
    let distro = raw.distro.as_ref();
    let map_one = |c: RawComponent| -> (Component, Option<String>) {
        let mut warning = None;
        let (ecosystem, package, match_version) = match c.purl.as_deref() {
            Some(p) => match purl::map(p, &c.name, &c.version, &c.source, distro) {
                Ok(m) => (m.ecosystem, m.package, m.match_version),
                Err(w) => {
                    warning = Some(w);
                    (None, c.name.clone(), c.version.clone())
                }
            },
            None => (None, c.name.clone(), c.version.clone()),
        };
        let version = if c.version.is_empty() {
            match_version.clone()
        } else {
            c.version
        };
        let component = Component {
            name: c.name,
            version,
            purl: c.purl,
            ecosystem,
            package,
            match_version,
            layer: c.layer,
            path: c.path,
            bom_ref: c.bom_ref,
        };
        (component, warning)
    };
    // Purl parsing is most of this step: a large SBOM maps its parts in parallel (the
    // order of the result, and so of the warnings, is the input order either way).
    let mapped: Vec<(Component, Option<String>)> = if raw.components.len() > 2 * MAP_PART {
        use rayon::prelude::*;
        raw.components
            .into_par_iter()
            .with_min_len(MAP_PART)
            .map(map_one)
            .collect()
    } else {
        raw.components.into_iter().map(map_one).collect()
    };
    let mut warnings = Vec::new();
    let mut components = Vec::with_capacity(mapped.len());
    // Purl types no advisory source covers: one warning per type, with a count and an
    // example, so such components are never dropped silently.
    let mut unmatched: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (c, w) in mapped {
        if w.is_none()
            && c.ecosystem.is_none()
            && let Some(p) = &c.purl
        {
            let ty = purl_type(p);
            let e = unmatched
                .entry(ty.to_owned())
                .or_insert_with(|| (0, p.clone()));
            e.0 += 1;
        }
        components.push(c);
        if let Some(w) = w
            && warnings.len() < MAX_WARNINGS
        {
            warnings.push(w);
        }
    }
    for (ty, (n, example)) in unmatched {
        if warnings.len() >= MAX_WARNINGS {
            break;
        }
        let example: String = example.chars().take(120).collect();
        warnings.push(format!(
            "{n} component{} with purl type {ty:?} (e.g. {example}): no advisory source of the kit covers this type; not matched",
            if n == 1 { "" } else { "s" }
        ));
    }
    if components.is_empty() {
        // A valid document that lists nothing passes (there is nothing to fail on), but
        // never silently: an empty SBOM is most often a generator run on the wrong folder.
        warnings.push(EMPTY_SBOM_WARNING.to_owned());
    }
    // Canonical order: the derived Ord compares name, version, purl, ecosystem, … so two
    // documents listing the same packages in different orders give identical output.
    components.sort_unstable();
    let mut layers = raw.layers;
    layers.extend(components.iter().filter_map(|c| c.layer.clone()));
    Sbom {
        format: raw.format,
        name: raw.name.filter(|n| !n.is_empty()),
        image_digest: raw.image_digest,
        distro: raw.distro,
        components,
        layers,
        warnings,
    }
}
