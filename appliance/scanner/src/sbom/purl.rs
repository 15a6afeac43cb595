//! purl → OSV ecosystem mapping.
//!
//! Language ecosystems map one-to-one from the purl type. OS package types need a release,
//! taken from the purl `distro=` qualifier, else from the SBOM-level distro. The table below
//! is what OSV names each one (ossf/osv-schema `docs/schema.md` "Ecosystems" and
//! `ecosystems.json`; osv-scanner / osv-scalibr purl conversion):
//!
//! | purl | OSV ecosystem | lookup name (`package`) | sources |
//! | --- | --- | --- | --- |
//! | `pkg:npm/@scope/name` | `npm` | `@scope/name` | osv-schema "npm" |
//! | `pkg:pypi/Name` | `PyPI` | PEP 503-normalised name | osv-schema "PyPI: names are normalized (PEP 503)" |
//! | `pkg:cargo/name` | `crates.io` | name | osv-schema |
//! | `pkg:golang/mod/path` | `Go` | module path, case kept | osv-schema "Go: module path" |
//! | `pkg:maven/group/artifact` | `Maven` | `group:artifact` | osv-schema "Maven: groupId:artifactId" |
//! | `pkg:nuget/Name` | `NuGet` | name | osv-schema |
//! | `pkg:gem/name` | `RubyGems` | name | osv-schema |
//! | `pkg:composer/vendor/name` | `Packagist` | `vendor/name` | osv-schema |
//! | `pkg:hex/name`, `pkg:pub/name` | `Hex`, `Pub` | name | osv-schema |
//! | `pkg:deb/debian/…?distro=debian-12.5` | `Debian:12` | **source** package | Debian OSV (DSA/DLA/DTSA) is per source package; osv-schema "Debian:<major>" |
//! | `pkg:deb/ubuntu/…?distro=ubuntu-22.04` | `Ubuntu:22.04` | **source** package | Ubuntu OSV is per source package. NOTE: real OSV Ubuntu data spells LTS releases `Ubuntu:22.04:LTS` (FORMATS.md §3); the matcher compares releases by prefix |
//! | `pkg:apk/alpine/…?distro=alpine-3.19.1` | `Alpine:v3.19` | origin (source) package | osv-schema "Alpine:v<major>.<minor>" (the `v` is required); secdb is per origin |
//! | `pkg:apk/wolfi/…`, `pkg:apk/chainguard/…` | `Wolfi`, `Chainguard` | origin package | osv-schema (no release suffix) |
//! | `pkg:rpm/redhat/…?distro=rhel-9.2` | `Red Hat` | binary package | Red Hat OSV releases are CPE suffixes (`Red Hat:enterprise_linux:9::appstream`) that no SBOM carries, so no release is set |
//! | `pkg:rpm/rocky/…?distro=rocky-9.3` | `Rocky Linux:9` | binary package | osv-schema "Rocky Linux:<major>" |
//! | `pkg:rpm/almalinux/…?distro=almalinux-9` | `AlmaLinux:9` | binary package | osv-schema "AlmaLinux:<major>" |
//!
//! An OS package whose release cannot be determined gets no ecosystem (and a warning):
//! matching it against every release of the distribution would report advisories for
//! versions it never shipped.
use std::borrow::Cow;

use bundles::model::ecosystem::{BaseEcosystem, Ecosystem};
use packageurl::PackageUrl;

use super::Distro;

/// What the scan engine needs to look a component up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapped {
    pub(crate) ecosystem: Option<Ecosystem>,
    pub(crate) package: String,
    pub(crate) match_version: String,
}

/// Source-package facts a format carries outside the purl (Trivy `SrcName`/`SrcVersion`,
/// Syft `metadata.source`/`sourceVersion`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SourceHint {
    pub(crate) name: Option<String>,
    pub(crate) version: Option<String>,
}

/// Map one component. `Err` carries a warning for the console; the component is still kept.
pub(crate) fn map(
    purl: &str,
    name: &str,
    version: &str,
    src: &SourceHint,
    doc_distro: Option<&Distro>,
) -> Result<Mapped, String> {
    let parsed = PackageUrl::from_str_checked(purl)
        .map_err(|e| format!("purl {purl:?} of {name:?} is invalid: {e}"))?;
    let ty = parsed.ty();
    // Percent-decoding can give a name a NUL or another control character, which no
    // advisory names: say so instead of looking it up and finding nothing.
    let parts = [parsed.namespace(), Some(parsed.name()), parsed.version()];
    if parts
        .iter()
        .flatten()
        .any(|p| p.chars().any(char::is_control))
    {
        return Err(format!(
            "purl {purl:?} of {name:?} has a control character in its namespace, name or version: not matched"
        ));
    }
    // The purl version is percent-decoded by the crate (`1%3A2.3-1` → `1:2.3-1`).
    let base_version = match parsed.version() {
        Some(v) if !v.is_empty() => v,
        _ => version,
    };
    let epoch = parsed
        .qualifiers()
        .get("epoch")
        .map(|e| e.as_ref())
        .filter(|e| !e.is_empty() && *e != "0");
    let pkg_version = match epoch {
        Some(e) if !base_version.contains(':') => format!("{e}:{base_version}"),
        _ => base_version.to_string(),
    };
    let ns = parsed.namespace();
    let pname = parsed.name();
    let lang = |base: BaseEcosystem, package: String| Mapped {
        ecosystem: Some(Ecosystem::new(base)),
        package,
        match_version: pkg_version.clone(),
    };
    let joined = |sep: &str| match ns {
        Some(n) if !n.is_empty() => format!("{n}{sep}{pname}"),
        _ => pname.to_string(),
    };
    let mapped = match ty {
        "npm" => lang(BaseEcosystem::Npm, joined("/")),
        "pypi" => lang(BaseEcosystem::PyPI, pep503(pname)),
        "cargo" => lang(BaseEcosystem::CratesIo, pname.to_string()),
        "golang" => lang(BaseEcosystem::Go, go_module_path(purl, &joined("/"))),
        "maven" => match ns {
            Some(g) if !g.is_empty() => lang(BaseEcosystem::Maven, format!("{g}:{pname}")),
            _ => return Err(format!("maven purl {purl:?} has no group (namespace)")),
        },
        "nuget" => lang(BaseEcosystem::NuGet, pname.to_string()),
        "gem" => lang(BaseEcosystem::RubyGems, pname.to_string()),
        "composer" => lang(BaseEcosystem::Packagist, joined("/")),
        "hex" => lang(BaseEcosystem::Hex, pname.to_string()),
        "pub" => lang(BaseEcosystem::Pub, pname.to_string()),
        "deb" | "apk" | "rpm" => {
            let qualifier_distro = parsed.qualifiers().get("distro").map(|d| d.as_ref());
            let ecosystem = os_ecosystem(ty, ns, qualifier_distro, doc_distro).ok_or_else(|| {
                format!(
                    "cannot tell the OS release of {purl:?} (no distro qualifier and no SBOM distro): not matched"
                )
            });
            // Distros publish advisories per source package, except the RPM family,
            // whose OSV data names binary packages.
            let (package, match_version) = if ty == "rpm" {
                (pname.to_string(), pkg_version.clone())
            } else {
                let upstream = parsed.qualifiers().get("upstream").map(|u| u.as_ref());
                source_package(pname, &pkg_version, upstream, src)
            };
            return ecosystem.map(|e| Mapped {
                ecosystem: Some(e),
                package,
                match_version,
            });
        }
        _ => Mapped {
            ecosystem: None,
            package: joined("/"),
            match_version: pkg_version.clone(),
        },
    };
    Ok(mapped)
}

/// The source package name and version of a deb/apk binary package: `upstream=name@ver`
/// (Syft) wins, then format metadata, then the binary package itself.
fn source_package(
    binary: &str,
    binary_version: &str,
    upstream: Option<&str>,
    src: &SourceHint,
) -> (String, String) {
    let (up_name, up_version) = match upstream {
        Some(u) => match u.split_once('@') {
            Some((n, v)) => (Some(n), Some(v)),
            None => (Some(u), None),
        },
        None => (None, None),
    };
    let name = up_name
        .filter(|n| !n.is_empty())
        .or(src.name.as_deref().filter(|n| !n.is_empty()))
        .unwrap_or(binary);
    let version = up_version
        .filter(|v| !v.is_empty())
        .or(src.version.as_deref().filter(|v| !v.is_empty()))
        .unwrap_or(binary_version);
    (name.to_string(), version.to_string())
}

/// PEP 503: lowercase, runs of `-`, `_`, `.` become one `-`.
pub(crate) fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// Go module paths are case-sensitive (`github.com/BurntSushi/toml`), but the purl crate
/// lowercases golang namespaces per the purl spec. Recover the original spelling from the
/// raw purl when it is the same path up to case.
fn go_module_path(raw: &str, canonical: &str) -> String {
    let rest = raw
        .strip_prefix("pkg:")
        .map(|r| r.trim_start_matches('/'))
        .and_then(|r| {
            r.get(..7)
                .filter(|t| t.eq_ignore_ascii_case("golang/"))
                .map(|_| &r[7..])
        });
    let Some(rest) = rest else {
        return canonical.to_string();
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let path = &rest[..end];
    let path = path.rsplit_once('@').map_or(path, |(p, _)| p);
    let decoded: Cow<'_, str> = percent_encoding::percent_decode_str(path.trim_matches('/'))
        .decode_utf8()
        .unwrap_or(Cow::Borrowed(""));
    if decoded.eq_ignore_ascii_case(canonical) {
        decoded.into_owned()
    } else {
        canonical.to_string()
    }
}

/// A parsed `distro=` qualifier or SBOM distro: `debian-12.5` → (`debian`, `12.5`);
/// `bookworm` → (`bookworm`, none).
fn split_distro(q: &str) -> (&str, Option<&str>) {
    match q.rsplit_once('-') {
        Some((id, ver)) if ver.starts_with(|c: char| c.is_ascii_digit()) => (id, Some(ver)),
        _ => (q, None),
    }
}

/// Debian and Ubuntu release codenames (debian `distro-info-data`), for `distro=bookworm`.
const CODENAMES: &[(&str, &str, &str)] = &[
    ("jessie", "debian", "8"),
    ("stretch", "debian", "9"),
    ("buster", "debian", "10"),
    ("bullseye", "debian", "11"),
    ("bookworm", "debian", "12"),
    ("trixie", "debian", "13"),
    ("forky", "debian", "14"),
    ("xenial", "ubuntu", "16.04"),
    ("bionic", "ubuntu", "18.04"),
    ("focal", "ubuntu", "20.04"),
    ("jammy", "ubuntu", "22.04"),
    ("kinetic", "ubuntu", "22.10"),
    ("lunar", "ubuntu", "23.04"),
    ("mantic", "ubuntu", "23.10"),
    ("noble", "ubuntu", "24.04"),
    ("oracular", "ubuntu", "24.10"),
    ("plucky", "ubuntu", "25.04"),
    ("questing", "ubuntu", "25.10"),
];

/// Resolve (distro id, version) from a qualifier, falling back to the SBOM distro.
fn resolve_distro<'a>(
    qualifier: Option<&'a str>,
    doc: Option<&'a Distro>,
) -> Option<(Cow<'a, str>, Option<Cow<'a, str>>)> {
    if let Some(q) = qualifier.filter(|q| !q.is_empty()) {
        let (id, ver) = split_distro(q);
        if ver.is_none()
            && let Some((_, d, v)) = CODENAMES
                .iter()
                .find(|(c, _, _)| c.eq_ignore_ascii_case(id))
        {
            return Some((Cow::Borrowed(*d), Some(Cow::Borrowed(*v))));
        }
        return Some((Cow::Owned(id.to_ascii_lowercase()), ver.map(Cow::Borrowed)));
    }
    let doc = doc?;
    let version = doc.version_id.as_deref().map(Cow::Borrowed).or_else(|| {
        doc.codename.as_deref().and_then(|c| {
            CODENAMES
                .iter()
                .find(|(n, _, _)| n.eq_ignore_ascii_case(c))
                .map(|(_, _, v)| Cow::Borrowed(*v))
        })
    });
    Some((Cow::Owned(doc.id.to_ascii_lowercase()), version))
}

/// The OSV ecosystem (with release) of an OS package.
fn os_ecosystem(
    ty: &str,
    namespace: Option<&str>,
    qualifier: Option<&str>,
    doc: Option<&Distro>,
) -> Option<Ecosystem> {
    let (id, version) = resolve_distro(qualifier, doc)?;
    // The purl namespace names the vendor; the distro id must agree when both are present,
    // except for the RPM family where `redhat` packages run on RHEL clones and vice versa.
    let vendor = namespace
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| id.to_string());
    distro_ecosystem(ty, &vendor, &id, version.as_deref())
}

/// `(purl type, vendor namespace, distro id, version)` → OSV ecosystem.
fn distro_ecosystem(ty: &str, vendor: &str, id: &str, version: Option<&str>) -> Option<Ecosystem> {
    let major = |v: &str| {
        v.split('.')
            .next()
            .filter(|m| !m.is_empty())
            .map(str::to_string)
    };
    let major_minor = |v: &str| {
        let mut it = v.split('.');
        match (it.next(), it.next()) {
            (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => Some(format!("{a}.{b}")),
            _ => None,
        }
    };
    match (ty, vendor) {
        ("deb", "debian") if id == "debian" => Some(Ecosystem::with_release(
            BaseEcosystem::Debian,
            major(version?)?,
        )),
        ("deb", "ubuntu") if id == "ubuntu" => Some(Ecosystem::with_release(
            BaseEcosystem::Ubuntu,
            major_minor(version?)?,
        )),
        ("apk", "alpine") if id == "alpine" => Some(Ecosystem::with_release(
            BaseEcosystem::Alpine,
            format!("v{}", major_minor(version?.trim_start_matches('v'))?),
        )),
        ("apk", "wolfi") => Some(Ecosystem::new(BaseEcosystem::Wolfi)),
        ("apk", "chainguard") => Some(Ecosystem::new(BaseEcosystem::Chainguard)),
        ("rpm", "redhat" | "rhel") => Some(Ecosystem::new(BaseEcosystem::RedHat)),
        ("rpm", "rocky") => Some(Ecosystem::with_release(
            BaseEcosystem::RockyLinux,
            major(version?)?,
        )),
        ("rpm", "almalinux") => Some(Ecosystem::with_release(
            BaseEcosystem::AlmaLinux,
            major(version?)?,
        )),
        _ => None,
    }
}

impl Distro {
    /// The OSV ecosystem of this distribution's OS packages (`debian` 12 → `Debian:12`,
    /// `alpine` 3.19.1 → `Alpine:v3.19`, `rocky` 9.3 → `Rocky Linux:9`, `rhel` → `Red Hat`),
    /// or `None` for a distribution the product does not match.
    pub fn ecosystem(&self) -> Option<Ecosystem> {
        let (id, version) = resolve_distro(None, Some(self))?;
        let ty = match id.as_ref() {
            "debian" | "ubuntu" => "deb",
            "alpine" | "wolfi" | "chainguard" => "apk",
            "rhel" | "redhat" | "rocky" | "almalinux" => "rpm",
            _ => return None,
        };
        distro_ecosystem(ty, &id, &id, version.as_deref())
    }
}

/// `PackageUrl::from_str` with a guard against pathological inputs (the crate allocates
/// per qualifier; no real purl is longer than a few hundred bytes).
trait FromStrChecked: Sized {
    fn from_str_checked(s: &str) -> Result<Self, String>;
}

/// Purls longer than this are refused rather than parsed.
const MAX_PURL_LEN: usize = 4096;

impl FromStrChecked for PackageUrl<'static> {
    fn from_str_checked(s: &str) -> Result<Self, String> {
        if s.len() > MAX_PURL_LEN {
            return Err(format!("longer than {MAX_PURL_LEN} bytes"));
        }
        s.parse::<PackageUrl<'static>>().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(purl: &str) -> Mapped {
        map(purl, "n", "", &SourceHint::default(), None).expect(purl)
    }

    fn eco(purl: &str) -> String {
        m(purl).ecosystem.map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn language_ecosystems() {
        let cases = [
            ("pkg:npm/%40babel/core@7.0.0", "npm", "@babel/core", "7.0.0"),
            ("pkg:npm/lodash@4.17.15", "npm", "lodash", "4.17.15"),
            ("pkg:pypi/Django@3.2", "PyPI", "django", "3.2"),
            (
                "pkg:pypi/zope.interface@5.0",
                "PyPI",
                "zope-interface",
                "5.0",
            ),
            ("pkg:pypi/Foo__Bar-.baz@1", "PyPI", "foo-bar-baz", "1"),
            ("pkg:cargo/serde@1.0.1", "crates.io", "serde", "1.0.1"),
            (
                "pkg:golang/github.com/BurntSushi/toml@v1.2.0",
                "Go",
                "github.com/BurntSushi/toml",
                "v1.2.0",
            ),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar",
                "Maven",
                "org.apache.logging.log4j:log4j-core",
                "2.14.1",
            ),
            (
                "pkg:nuget/Newtonsoft.Json@12.0.1",
                "NuGet",
                "Newtonsoft.Json",
                "12.0.1",
            ),
            ("pkg:gem/rails@6.0.0", "RubyGems", "rails", "6.0.0"),
            (
                "pkg:composer/laravel/framework@8.0.0",
                "Packagist",
                "laravel/framework",
                "8.0.0",
            ),
            ("pkg:hex/phoenix@1.5.0", "Hex", "phoenix", "1.5.0"),
            ("pkg:pub/http@0.13.0", "Pub", "http", "0.13.0"),
        ];
        for (purl, e, package, version) in cases {
            let got = m(purl);
            assert_eq!(
                got.ecosystem.map(|x| x.to_string()).as_deref(),
                Some(e),
                "{purl}"
            );
            assert_eq!(got.package, package, "{purl}");
            assert_eq!(got.match_version, version, "{purl}");
        }
    }

    #[test]
    fn os_releases_from_qualifiers() {
        let cases = [
            ("pkg:deb/debian/bash@5.2?distro=debian-12", "Debian:12"),
            ("pkg:deb/debian/bash@5.2?distro=debian-12.5", "Debian:12"),
            ("pkg:deb/debian/bash@5.2?distro=bookworm", "Debian:12"),
            ("pkg:deb/debian/bash@5.2?distro=debian-11", "Debian:11"),
            (
                "pkg:deb/ubuntu/bash@5.1?distro=ubuntu-22.04",
                "Ubuntu:22.04",
            ),
            ("pkg:deb/ubuntu/bash@5.1?distro=jammy", "Ubuntu:22.04"),
            (
                "pkg:apk/alpine/musl@1.2.4-r2?distro=alpine-3.19.1",
                "Alpine:v3.19",
            ),
            (
                "pkg:apk/alpine/musl@1.2.4-r2?distro=alpine-3.20",
                "Alpine:v3.20",
            ),
            ("pkg:apk/wolfi/glibc@2.39-r1?distro=wolfi-20230201", "Wolfi"),
            (
                "pkg:rpm/redhat/openssl@3.0.7-24.el9?distro=rhel-9.2",
                "Red Hat",
            ),
            (
                "pkg:rpm/rocky/openssl@3.0.7-24.el9?distro=rocky-9.3",
                "Rocky Linux:9",
            ),
            (
                "pkg:rpm/almalinux/openssl@3.0.7-24.el9?distro=almalinux-9",
                "AlmaLinux:9",
            ),
        ];
        for (purl, want) in cases {
            assert_eq!(eco(purl), want, "{purl}");
        }
    }

    #[test]
    fn os_release_from_sbom_distro() {
        let d = Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            codename: None,
            pretty_name: None,
        };
        let got = map(
            "pkg:deb/debian/bash@5.2",
            "bash",
            "",
            &SourceHint::default(),
            Some(&d),
        )
        .expect("maps");
        assert_eq!(
            got.ecosystem.map(|e| e.to_string()).as_deref(),
            Some("Debian:12")
        );
        // A Debian purl on an Alpine SBOM distro does not borrow Alpine's release.
        let a = Distro {
            id: "alpine".into(),
            version_id: Some("3.19.1".into()),
            codename: None,
            pretty_name: None,
        };
        assert!(
            map(
                "pkg:deb/debian/bash@5.2",
                "bash",
                "",
                &SourceHint::default(),
                Some(&a)
            )
            .is_err()
        );
        assert!(
            map(
                "pkg:deb/debian/bash@5.2",
                "bash",
                "",
                &SourceHint::default(),
                None
            )
            .is_err()
        );
        assert_eq!(
            a.ecosystem().map(|e| e.to_string()).as_deref(),
            Some("Alpine:v3.19")
        );
    }

    #[test]
    fn debian_source_package_and_version() {
        // Syft: upstream=name@version, version percent-decoded.
        let got = m(
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12&upstream=openssl%403.0.11-1~deb12u2",
        );
        assert_eq!(got.package, "openssl");
        assert_eq!(got.match_version, "3.0.11-1~deb12u2");
        // upstream without version: the binary version is the source version.
        let got =
            m("pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib");
        assert_eq!(got.package, "zlib");
        assert_eq!(got.match_version, "1:1.2.13.dfsg-1");
        // Trivy: epoch qualifier and Src* properties.
        let src = SourceHint {
            name: Some("zlib".into()),
            version: Some("1:1.2.13.dfsg-1".into()),
        };
        let got = map(
            "pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12.15&epoch=1",
            "zlib1g",
            "1:1.2.13.dfsg-1",
            &src,
            None,
        )
        .expect("maps");
        assert_eq!(got.package, "zlib");
        assert_eq!(got.match_version, "1:1.2.13.dfsg-1");
    }

    #[test]
    fn rpm_binary_name_and_epoch() {
        let got = m(
            "pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?arch=x86_64&epoch=1&distro=rocky-9.3&upstream=openssl-3.0.7-24.el9.src.rpm",
        );
        assert_eq!(got.package, "openssl-libs");
        assert_eq!(got.match_version, "1:3.0.7-24.el9");
        let got = m("pkg:rpm/almalinux/bash@5.1.8-6.el9?epoch=0&distro=almalinux-9");
        assert_eq!(got.match_version, "5.1.8-6.el9");
    }

    #[test]
    fn unknown_types_keep_no_ecosystem_and_bad_purls_warn() {
        let got = m("pkg:github/actions/checkout@v4");
        assert_eq!(got.ecosystem, None);
        assert_eq!(got.package, "actions/checkout");
        for bad in [
            "not a purl",
            "pkg:",
            "pkg:npm/",
            "pkg:maven/artifact@1",
            "pkg:pypi/ns/x@1",
        ] {
            assert!(
                map(bad, "x", "1", &SourceHint::default(), None).is_err(),
                "{bad}"
            );
        }
        assert!(
            map(
                &format!("pkg:npm/{}", "a".repeat(5000)),
                "x",
                "1",
                &SourceHint::default(),
                None
            )
            .is_err()
        );
    }
}
