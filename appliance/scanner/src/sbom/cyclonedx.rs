//! CycloneDX JSON 1.4–1.7 (CycloneDX/specification `schema/bom-1.x.schema.json`).
//!
//! Read: `metadata.component` (the subject: name, image digest, Trivy `DiffID` layers),
//! `components[]` nested through `components`, `operating-system` components (the distro),
//! and the Syft (`syft:location:<i>:…`) and Trivy (`aquasecurity:trivy:…`) properties that
//! carry layers, paths and source packages. `metadata.tools` is not read, so both its 1.4
//! array form and its 1.5+ object form are accepted.
use std::collections::BTreeSet;

use serde::Deserialize;

use super::lenient::Str;
use super::purl::SourceHint;
use super::{Distro, RawComponent, RawSbom, SbomError, SbomFormat, is_sha256_digest};

#[derive(Deserialize)]
struct Bom<'a> {
    #[serde(borrow, default)]
    metadata: Option<Metadata<'a>>,
    #[serde(borrow, default)]
    components: Option<Vec<Comp<'a>>>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(borrow, default)]
    component: Option<Comp<'a>>,
}

#[derive(Deserialize)]
struct Comp<'a> {
    #[serde(rename = "type", borrow, default)]
    ty: Option<Str<'a>>,
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow, default)]
    version: Option<Str<'a>>,
    #[serde(borrow, default)]
    purl: Option<Str<'a>>,
    #[serde(rename = "bom-ref", borrow, default)]
    bom_ref: Option<Str<'a>>,
    #[serde(borrow, default)]
    description: Option<Str<'a>>,
    #[serde(borrow, default)]
    properties: Option<Vec<Prop<'a>>>,
    #[serde(borrow, default)]
    components: Option<Vec<Comp<'a>>>,
}

#[derive(Deserialize)]
struct Prop<'a> {
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow, default)]
    value: Option<Str<'a>>,
}

const TRIVY: &str = "aquasecurity:trivy:";

impl<'a> Comp<'a> {
    fn props(&self) -> impl Iterator<Item = (&str, &str)> {
        self.properties
            .iter()
            .flatten()
            .filter_map(|p| Some((p.name.as_str(), p.value.as_ref()?.as_str())))
    }

    fn prop(&self, name: &str) -> Option<&str> {
        self.props()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    }

    fn trivy(&self, key: &str) -> Option<&str> {
        self.props()
            .find(|(n, _)| n.strip_prefix(TRIVY) == Some(key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    }

    fn is_os(&self) -> bool {
        self.ty
            .as_ref()
            .is_some_and(|t| t.as_str() == "operating-system")
    }

    /// Syft writes one `syft:location:<i>:{path,layerID}` pair per location, sorted as
    /// strings (`0, 1, 10, 2`): take the lowest index numerically.
    fn syft_location(&self) -> (Option<&str>, Option<&str>) {
        let mut best: Option<(u32, Option<&str>, Option<&str>)> = None;
        for (n, v) in self.props() {
            let Some(rest) = n.strip_prefix("syft:location:") else {
                continue;
            };
            let Some((idx, field)) = rest.split_once(':') else {
                continue;
            };
            let Ok(idx) = idx.parse::<u32>() else {
                continue;
            };
            let entry = match &mut best {
                Some(b) if b.0 == idx => b,
                Some(b) if b.0 < idx => continue,
                _ => best.insert((idx, None, None)),
            };
            match field {
                "path" => entry.1 = Some(v),
                "layerID" => entry.2 = Some(v),
                _ => {}
            }
        }
        best.map_or((None, None), |(_, p, l)| (p, l))
    }

    fn to_raw(&self, layers: &mut BTreeSet<String>) -> RawComponent {
        let (syft_path, syft_layer) = self.syft_location();
        let trivy_digest = self.trivy("LayerDigest");
        let trivy_diff = self.trivy("LayerDiffID");
        for l in [syft_layer, trivy_digest, trivy_diff].into_iter().flatten() {
            layers.insert(l.to_string());
        }
        // Trivy splits the source version like the binary one: [epoch:]version[-release].
        let source_version = self.trivy("SrcVersion").map(|v| {
            let mut s = String::new();
            if let Some(e) = self.trivy("SrcEpoch").filter(|e| *e != "0") {
                s.push_str(e);
                s.push(':');
            }
            s.push_str(v);
            if let Some(r) = self.trivy("SrcRelease") {
                s.push('-');
                s.push_str(r);
            }
            s
        });
        RawComponent {
            name: self.name.as_str().to_string(),
            version: self
                .version
                .as_ref()
                .map(|v| v.as_str().to_string())
                .unwrap_or_default(),
            purl: self
                .purl
                .as_ref()
                .map(|p| p.as_str().to_string())
                .filter(|p| !p.is_empty()),
            layer: trivy_digest
                .or(trivy_diff)
                .or(syft_layer)
                .map(str::to_string),
            path: self.trivy("FilePath").or(syft_path).map(str::to_string),
            bom_ref: self.bom_ref.as_ref().map(|b| b.as_str().to_string()),
            source: SourceHint {
                name: self.trivy("SrcName").map(str::to_string),
                version: source_version,
            },
        }
    }

    fn to_distro(&self) -> Distro {
        let version = self
            .version
            .as_ref()
            .map(|v| v.as_str())
            .filter(|v| !v.is_empty());
        Distro {
            id: self
                .prop("syft:distro:id")
                .unwrap_or(self.name.as_str())
                .to_ascii_lowercase(),
            version_id: self
                .prop("syft:distro:versionID")
                .or(version)
                .map(str::to_string),
            codename: self.prop("syft:distro:versionCodename").map(str::to_string),
            pretty_name: self
                .prop("syft:distro:prettyName")
                .or(self.description.as_ref().map(|d| d.as_str()))
                .map(str::to_string),
        }
    }
}

pub(crate) fn parse(bytes: &[u8], spec_version: String) -> Result<RawSbom, SbomError> {
    let bom: Bom<'_> = super::from_slice(bytes, "CycloneDX")?;
    let mut layers = BTreeSet::new();
    let mut name = None;
    let mut image_digest = None;
    let mut stack: Vec<&Comp<'_>> = Vec::new();
    if let Some(subject) = bom.metadata.as_ref().and_then(|m| m.component.as_ref()) {
        name = Some(subject.name.as_str().to_string());
        // Trivy: `RepoDigest` = `repo@sha256:…`; Syft: the image's version is its digest.
        let repo_digest = subject
            .props()
            .filter(|(n, _)| n.strip_prefix(TRIVY) == Some("RepoDigest"))
            .filter_map(|(_, v)| v.rsplit_once('@').map(|(_, d)| d))
            .find(|d| is_sha256_digest(d));
        let version_digest = subject.version.as_ref().map(|v| v.as_str()).filter(|v| {
            is_sha256_digest(v)
                && subject
                    .ty
                    .as_ref()
                    .is_some_and(|t| t.as_str() == "container")
        });
        image_digest = repo_digest.or(version_digest).map(str::to_string);
        for (n, v) in subject.props() {
            if n.strip_prefix(TRIVY) == Some("DiffID") && !v.is_empty() {
                layers.insert(v.to_string());
            }
        }
        // Sub-components of the subject are part of the inventory too.
        stack.extend(subject.components.iter().flatten().rev());
    }
    stack.extend(bom.components.iter().flatten().rev());
    let mut components = Vec::new();
    let mut distro = None;
    // Pre-order walk with an explicit stack: document order, no recursion.
    while let Some(c) = stack.pop() {
        stack.extend(c.components.iter().flatten().rev());
        if c.is_os() {
            // The OS is the platform, not a package; the first one names the distro.
            if distro.is_none() {
                distro = Some(c.to_distro());
            }
            continue;
        }
        components.push(c.to_raw(&mut layers));
    }
    Ok(RawSbom {
        format: SbomFormat::CycloneDx { spec_version },
        name,
        image_digest,
        distro,
        components,
        layers,
    })
}
