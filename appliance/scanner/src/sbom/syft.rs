//! Syft native JSON, schema 16 (anchore/syft `syft/format/syftjson/model/*.go`).
//!
//! Read: `artifacts[]` (name, version, purl, locations with `layerID`, and the per-type
//! `metadata` fields that name a source package: dpkg `source`/`sourceVersion`, apk
//! `originPackage`), `source` (name, image `manifestDigest`, `layers`), and `distro`.
//! `metadata` differs per package type, so its fields are read leniently: an unexpected
//! type there is ignored rather than refusing the SBOM.
use std::collections::BTreeSet;

use serde::Deserialize;

use super::lenient::{Loose, Str, text};
use super::purl::SourceHint;
use super::{Distro, RawComponent, RawSbom, SbomError, SbomFormat, is_sha256_digest};

#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(borrow)]
    artifacts: Vec<Artifact<'a>>,
    #[serde(borrow, default)]
    source: Option<Source<'a>>,
    #[serde(borrow, default)]
    distro: Option<SyftDistro<'a>>,
}

#[derive(Deserialize)]
struct Artifact<'a> {
    #[serde(borrow, default)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow, default)]
    version: Option<Str<'a>>,
    #[serde(borrow, default)]
    purl: Option<Str<'a>>,
    #[serde(borrow, default)]
    locations: Option<Vec<Location<'a>>>,
    #[serde(borrow, default)]
    metadata: Option<Metadata<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    #[serde(borrow, default)]
    path: Option<Str<'a>>,
    #[serde(rename = "layerID", borrow, default)]
    layer_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    annotations: Option<Annotations<'a>>,
}

#[derive(Deserialize)]
struct Annotations<'a> {
    #[serde(borrow, default)]
    evidence: Option<Loose<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata<'a> {
    #[serde(borrow, default)]
    source: Option<Loose<'a>>,
    #[serde(borrow, default)]
    source_version: Option<Loose<'a>>,
    #[serde(borrow, default)]
    origin_package: Option<Loose<'a>>,
}

#[derive(Deserialize)]
struct Source<'a> {
    #[serde(borrow, default)]
    name: Option<Loose<'a>>,
    #[serde(borrow, default)]
    metadata: Option<SourceMetadata<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SourceMetadata<'a> {
    #[serde(borrow, default)]
    manifest_digest: Option<Loose<'a>>,
    #[serde(borrow, default)]
    repo_digests: Option<Vec<Loose<'a>>>,
    #[serde(borrow, default)]
    layers: Option<Vec<Layer<'a>>>,
}

#[derive(Deserialize)]
struct Layer<'a> {
    #[serde(borrow, default)]
    digest: Option<Loose<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyftDistro<'a> {
    #[serde(borrow, default)]
    id: Option<Loose<'a>>,
    #[serde(rename = "versionID", borrow, default)]
    version_id: Option<Loose<'a>>,
    #[serde(borrow, default)]
    version_codename: Option<Loose<'a>>,
    #[serde(borrow, default)]
    pretty_name: Option<Loose<'a>>,
}

impl Artifact<'_> {
    /// Prefer the location Syft marks as primary evidence (the package DB), else the first.
    fn location(&self) -> Option<&Location<'_>> {
        let locs = self.locations.as_deref()?;
        locs.iter()
            .find(|l| {
                l.annotations
                    .as_ref()
                    .and_then(|a| text(&a.evidence))
                    .is_some_and(|e| e == "primary")
            })
            .or_else(|| locs.first())
    }
}

pub(crate) fn parse(bytes: &[u8], schema: String) -> Result<RawSbom, SbomError> {
    let doc: Doc<'_> = super::from_slice(bytes, "Syft")?;
    let mut layers = BTreeSet::new();
    let mut image_digest = None;
    let mut name = None;
    if let Some(source) = &doc.source {
        name = text(&source.name).map(str::to_string);
        if let Some(m) = &source.metadata {
            for l in m.layers.iter().flatten() {
                if let Some(d) = text(&l.digest) {
                    layers.insert(d.to_string());
                }
            }
            let repo_digest = m
                .repo_digests
                .iter()
                .flatten()
                .filter_map(|d| d.text()?.rsplit_once('@').map(|(_, d)| d))
                .find(|d| is_sha256_digest(d));
            image_digest = text(&m.manifest_digest)
                .filter(|d| is_sha256_digest(d))
                .or(repo_digest)
                .map(str::to_string);
        }
    }
    let distro = doc.distro.as_ref().and_then(|d| {
        Some(Distro {
            id: text(&d.id)?.to_ascii_lowercase(),
            version_id: text(&d.version_id).map(str::to_string),
            codename: text(&d.version_codename).map(str::to_string),
            pretty_name: text(&d.pretty_name).map(str::to_string),
        })
    });
    let components = doc
        .artifacts
        .iter()
        .map(|a| {
            let loc = a.location();
            for l in a.locations.iter().flatten() {
                if let Some(id) = l.layer_id.as_ref().filter(|i| !i.as_str().is_empty()) {
                    layers.insert(id.as_str().to_string());
                }
            }
            let meta = a.metadata.as_ref();
            RawComponent {
                name: a.name.as_str().to_string(),
                version: a
                    .version
                    .as_ref()
                    .map(|v| v.as_str().to_string())
                    .unwrap_or_default(),
                purl: a
                    .purl
                    .as_ref()
                    .map(|p| p.as_str().to_string())
                    .filter(|p| !p.is_empty()),
                layer: loc
                    .and_then(|l| l.layer_id.as_ref())
                    .map(|l| l.as_str().to_string())
                    .filter(|l| !l.is_empty()),
                path: loc
                    .and_then(|l| l.path.as_ref())
                    .map(|p| p.as_str().to_string())
                    .filter(|p| !p.is_empty()),
                bom_ref: a.id.as_ref().map(|i| i.as_str().to_string()),
                source: SourceHint {
                    name: meta
                        .and_then(|m| text(&m.source).or(text(&m.origin_package)))
                        .map(str::to_string),
                    version: meta
                        .and_then(|m| text(&m.source_version))
                        .map(str::to_string),
                },
            }
        })
        .collect();
    Ok(RawSbom {
        format: SbomFormat::Syft { schema },
        name,
        image_digest,
        distro,
        components,
        layers,
    })
}
