//! SPDX 2.3 JSON (spdx/spdx-spec support/2.3, `schemas/spdx-schema.json`).
//!
//! Packages carry their purl as an external reference of category `PACKAGE-MANAGER`
//! (the 2.3 spelling) or `PACKAGE_MANAGER` (later schema revisions), type `purl`. The
//! package(s) the document DESCRIBES are the subject (Syft's scanned directory or image),
//! not inventory, unless they are real packages with a purl.
use std::collections::{BTreeSet, HashSet};

use serde::Deserialize;

use super::lenient::Str;
use super::{Distro, RawComponent, RawSbom, SbomError, SbomFormat, is_sha256_digest};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc<'a> {
    #[serde(borrow, default)]
    name: Option<Str<'a>>,
    #[serde(borrow, default)]
    document_describes: Option<Vec<Str<'a>>>,
    #[serde(borrow, default)]
    packages: Option<Vec<Package<'a>>>,
    #[serde(borrow, default)]
    relationships: Option<Vec<Relationship<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Package<'a> {
    #[serde(rename = "SPDXID", borrow)]
    spdx_id: Str<'a>,
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow, default)]
    version_info: Option<Str<'a>>,
    #[serde(borrow, default)]
    primary_package_purpose: Option<Str<'a>>,
    #[serde(borrow, default)]
    external_refs: Option<Vec<ExternalRef<'a>>>,
    #[serde(borrow, default)]
    checksums: Option<Vec<Checksum<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef<'a> {
    #[serde(borrow)]
    reference_category: Str<'a>,
    #[serde(borrow)]
    reference_type: Str<'a>,
    #[serde(borrow)]
    reference_locator: Str<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checksum<'a> {
    #[serde(borrow)]
    algorithm: Str<'a>,
    #[serde(borrow)]
    checksum_value: Str<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Relationship<'a> {
    #[serde(borrow)]
    spdx_element_id: Str<'a>,
    #[serde(borrow)]
    relationship_type: Str<'a>,
    #[serde(borrow)]
    related_spdx_element: Str<'a>,
}

impl Package<'_> {
    fn purl(&self) -> Option<&str> {
        self.external_refs
            .iter()
            .flatten()
            .find(|r| {
                matches!(
                    r.reference_category.as_str(),
                    "PACKAGE-MANAGER" | "PACKAGE_MANAGER"
                ) && r.reference_type.as_str() == "purl"
            })
            .map(|r| r.reference_locator.as_str())
            .filter(|p| !p.is_empty())
    }

    fn purpose(&self) -> &str {
        self.primary_package_purpose
            .as_ref()
            .map_or("", |p| p.as_str())
    }

    fn version(&self) -> Option<&str> {
        self.version_info
            .as_ref()
            .map(|v| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The subject of the document rather than an inventory item.
    fn is_subject(&self) -> bool {
        match self.purl() {
            None => true,
            Some(p) => {
                p.starts_with("pkg:oci/")
                    || p.starts_with("pkg:docker/")
                    || matches!(self.purpose(), "CONTAINER" | "FILE")
            }
        }
    }

    fn image_digest(&self) -> Option<String> {
        if self.purpose() != "CONTAINER" {
            return None;
        }
        if let Some(v) = self.version().filter(|v| is_sha256_digest(v)) {
            return Some(v.to_string());
        }
        self.checksums
            .iter()
            .flatten()
            .filter(|c| c.algorithm.as_str() == "SHA256")
            .map(|c| format!("sha256:{}", c.checksum_value.as_str()))
            .find(|d| is_sha256_digest(d))
    }
}

pub(crate) fn parse(bytes: &[u8]) -> Result<RawSbom, SbomError> {
    let doc: Doc<'_> = super::from_slice(bytes, "SPDX")?;
    let mut described: HashSet<&str> = doc
        .document_describes
        .iter()
        .flatten()
        .map(Str::as_str)
        .collect();
    for r in doc.relationships.iter().flatten() {
        match r.relationship_type.as_str() {
            "DESCRIBES" if r.spdx_element_id.as_str() == "SPDXRef-DOCUMENT" => {
                described.insert(r.related_spdx_element.as_str());
            }
            "DESCRIBED_BY" if r.related_spdx_element.as_str() == "SPDXRef-DOCUMENT" => {
                described.insert(r.spdx_element_id.as_str());
            }
            _ => {}
        }
    }
    let mut distro = None;
    let mut image_digest = None;
    let mut components = Vec::new();
    for p in doc.packages.iter().flatten() {
        if p.purpose() == "OPERATING_SYSTEM" {
            if distro.is_none() {
                distro = Some(Distro {
                    id: p.name.as_str().to_ascii_lowercase(),
                    version_id: p.version().map(str::to_string),
                    codename: None,
                    pretty_name: None,
                });
            }
            continue;
        }
        if described.contains(p.spdx_id.as_str()) && p.is_subject() {
            if image_digest.is_none() {
                image_digest = p.image_digest();
            }
            continue;
        }
        components.push(RawComponent {
            name: p.name.as_str().to_string(),
            version: p.version().unwrap_or_default().to_string(),
            purl: p.purl().map(str::to_string),
            bom_ref: Some(p.spdx_id.as_str().to_string()),
            ..RawComponent::default()
        });
    }
    Ok(RawSbom {
        format: SbomFormat::Spdx,
        name: doc.name.map(|n| n.0.into_owned()),
        image_digest,
        distro,
        components,
        layers: BTreeSet::new(),
    })
}
