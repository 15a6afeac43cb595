//! The matcher: SBOM components + the active kit's advisory index → findings.
//!
//! For each component that has an OSV ecosystem, the engine makes one index lookup
//! (ecosystem, normalised lookup name, release rules: [`crate::index`]) and evaluates
//! every affected entry found with [`bundles::model::Affected::evaluate`], using the
//! ecosystem's ordering for `ECOSYSTEM` ranges and SemVer for `SEMVER` ranges
//! ([`crate::versions::ordering`], with the component's version parsed once:
//! [`Pinned`]). A version that cannot be compared is never guessed and never a silent
//! miss: the record becomes a finding marked [`Finding::undecided`] (with the record's
//! severity, so a policy's `fail_on` counts it unless the policy says `undecided: ignore`)
//! and a warning names the component and the records.
//!
//! # Merging records of one vulnerability
//!
//! Feeds publish one vulnerability several times (PyPI: `GHSA-…` and `PYSEC-…`; Debian:
//! `DSA-…`/`DLA-…` and `DEBIAN-CVE-…`). For one component, matched records are merged
//! into one finding when their id sets intersect, transitively. A record's id set is its
//! id, its `aliases`, and its `upstream` ids — the latter only when `upstream` names at most
//! one CVE: a Debian `DSA` that fixes three CVEs is *derived from* three vulnerabilities,
//! not an alias of each, and using it as a bridge would fold three findings into one.
//! Such a multi-CVE record is instead attached (as an alias, with its fixed versions and
//! references) to every finding of its CVEs when each of them is matched on its own; if
//! any of them is not, it stays a finding of its own.
//!
//! The merged finding's id is a CVE when one of the merged records *is* a CVE record, else
//! the smallest GHSA record id, else the smallest record id; every other id is listed,
//! sorted, in `aliases`. Fixed versions are merged (only those above the installed
//! version, deduplicated, in the ecosystem's order), references deduplicated, and the
//! highest severity kept.
//!
//! # Determinism
//!
//! Findings are sorted ([`canonical_order`]) and exact duplicates (the same component
//! listed twice) removed; warnings are sorted and deduplicated. The index itself is sorted
//! by advisory id whatever the order of the kit files. So the same SBOM and the same kit
//! give the same [`findings_digest`](bundles::model::findings_digest) whatever order the
//! components or advisories come in.
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use crate::index::{AdvisoryDetails, AdvisoryIndex, Hit, IndexedAdvisory};
use bundles::model::{
    Affected, BaseEcosystem, Ecosystem, Evaluation, Orderings, Range, VersionOrdering,
    VersionScheme,
};

use super::sbom::{Component, Sbom};
use super::severity::{Assessment, assess};
use super::versions::Pinned;
use bundles::model::{Finding, FindingPackage, Severity, canonical_order};

/// The engine's name and version, recorded with every scan result and evidence. The
/// `+mN` suffix is the matcher revision: it grows whenever the same SBOM and kit can give
/// different findings (a replay then says the engines differ instead of leaving a digest
/// mismatch unexplained). m2: versions read as OSV's scanner reads them (short SemVer
/// cores, whitespace) and undecided findings reported.
pub const ENGINE_VERSION: &str = concat!("stella-engine/", env!("CARGO_PKG_VERSION"), "+m2");

/// Most warnings returned per scan; the rest are counted in a final warning.
const MAX_WARNINGS: usize = 1000;

/// Most threads [`Engine::scan`] plans one scan's parts for (rayon's pool itself has one
/// thread per core).
pub const MAX_THREADS: usize = 4;

/// Parts per thread a large SBOM is cut into.
const PARTS_PER_THREAD: usize = 8;

/// Fewest components per matching thread: below this a thread costs more than it saves.
const MIN_COMPONENTS_PER_THREAD: usize = 200;

/// How many threads to match `n` components on: one per thread of rayon's pool (at most
/// [`MAX_THREADS`]), each with at least [`MIN_COMPONENTS_PER_THREAD`] components.
fn threads_for(n: usize) -> usize {
    rayon::current_num_threads()
        .min(MAX_THREADS)
        .min(n / MIN_COMPONENTS_PER_THREAD)
        .max(1)
}

/// Most record ids named in one "cannot compare" warning.
const MAX_IDS_PER_WARNING: usize = 5;

/// The result of one scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOutcome {
    /// The findings, in canonical order.
    pub findings: Vec<Finding>,
    /// Components that could not be decided (unparseable version, no version), sorted.
    pub warnings: Vec<String>,
    /// Number of components in the SBOM.
    pub components: usize,
}

/// The scan engine over one advisory index (the active kit's).
#[derive(Debug, Clone)]
pub struct Engine {
    index: Arc<AdvisoryIndex>,
    records: Arc<RecordCache>,
}

/// Most matched records whose details are kept decoded between scans.
pub const RECORD_CACHE_ENTRIES: usize = 8192;

/// What findings show about one matched record, decoded from the index's details store,
/// with its record-level severity assessed (CVSS vectors parsed) once.
#[derive(Debug)]
struct RecordView {
    details: AdvisoryDetails,
    assessment: Assessment,
}

/// Matched records shared between scans: CI pipelines scan the same dependencies again
/// and again, and reading + decoding a record's details and parsing its CVSS vectors was
/// an eighth of a scan's CPU. Bounded by [`RECORD_CACHE_ENTRIES`] (emptied when full);
/// an engine is built per activated kit, so entries never outlive their kit.
#[derive(Debug, Default)]
struct RecordCache {
    map: parking_lot::RwLock<HashMap<usize, Arc<RecordView>>>,
}

impl Engine {
    /// An engine over `index`.
    pub fn new(index: Arc<AdvisoryIndex>) -> Engine {
        Engine {
            index,
            records: Arc::default(),
        }
    }

    /// The details of a matched record, from the cache or the index. A record whose
    /// details cannot be read is reported without them (and not cached).
    fn record_view(&self, record: usize) -> Result<Arc<RecordView>, String> {
        if let Some(v) = self.records.map.read().get(&record) {
            return Ok(Arc::clone(v));
        }
        let details = self.index.details(record).map_err(|e| e.to_string())?;
        let assessment = assess(&details.severity, details.database_severity.as_deref());
        let view = Arc::new(RecordView {
            details,
            assessment,
        });
        let mut map = self.records.map.write();
        if map.len() >= RECORD_CACHE_ENTRIES {
            map.clear();
        }
        map.insert(record, Arc::clone(&view));
        Ok(view)
    }

    /// The index this engine matches against.
    pub fn index(&self) -> &AdvisoryIndex {
        &self.index
    }

    /// Matches every component of `sbom`. A large SBOM is cut into parts matched on
    /// rayon's pool (persistent threads, one per core: a thread spawned per scan paid
    /// glibc's arena set-up each time and made two threads slower than one); the result is
    /// the same as matching on one thread, since findings and warnings are sorted at the
    /// end.
    #[tracing::instrument(skip_all, fields(components = sbom.components.len()))]
    pub fn scan(&self, sbom: &Sbom) -> ScanOutcome {
        self.scan_on(sbom, threads_for(sbom.components.len()))
    }

    /// [`Engine::scan`] as if on `threads` threads: 1 matches on the calling thread; more
    /// cut the SBOM into `threads` × 8 parts (at least 16 components each) for rayon's
    /// pool. For benchmarks, and for tests that hold the result independent of it.
    pub fn scan_on(&self, sbom: &Sbom, threads: usize) -> ScanOutcome {
        let comps = &sbom.components;
        let threads = threads.clamp(1, comps.len().max(1));
        let (mut findings, mut warnings) = if threads <= 1 {
            self.scan_slice(comps, sbom)
        } else {
            use rayon::prelude::*;
            let parts: Vec<(Vec<Finding>, Vec<String>)> = comps
                // Small parts, balanced by rayon's work stealing: components are sorted by
                // name, so halves can hold very different amounts of matching work.
                .par_chunks(comps.len().div_ceil(threads * PARTS_PER_THREAD).max(16))
                .map(|part| self.scan_slice(part, sbom))
                .collect();
            let mut f = Vec::new();
            let mut w = Vec::new();
            for (f2, w2) in parts {
                f.extend(f2);
                w.extend(w2);
            }
            (f, w)
        };
        findings.sort_by(canonical_order);
        findings.dedup();
        // What the SBOM reader could not use (invalid or unusable purls, types no source
        // covers) is part of the answer too: a component is never dropped silently.
        warnings.extend(sbom.warnings.iter().cloned());
        warnings.sort();
        warnings.dedup();
        if warnings.len() > MAX_WARNINGS {
            let more = warnings.len() - MAX_WARNINGS;
            warnings.truncate(MAX_WARNINGS);
            warnings.push(format!("… and {more} more warnings"));
        }
        ScanOutcome {
            findings,
            warnings,
            components: sbom.components.len(),
        }
    }

    fn scan_slice(&self, comps: &[Component], sbom: &Sbom) -> (Vec<Finding>, Vec<String>) {
        let mut findings = Vec::new();
        let mut warnings = Vec::new();
        for c in comps {
            let Some(eco) = &c.ecosystem else { continue };
            self.scan_component(c, eco, sbom, &mut findings, &mut warnings);
        }
        (findings, warnings)
    }

    fn scan_component(
        &self,
        c: &Component,
        eco: &Ecosystem,
        sbom: &Sbom,
        findings: &mut Vec<Finding>,
        warnings: &mut Vec<String>,
    ) {
        let version = c.match_version.as_str();
        let lookup_eco = lookup_ecosystem(c, eco, sbom);
        let hits: Vec<Hit<'_>> = self.index.lookup(&lookup_eco, &c.package).collect();
        if version.is_empty() {
            warnings.push(format!(
                "{} ({eco}): no version in the SBOM, so it cannot be matched ({} advisor{} of the kit name this package)",
                describe(c),
                hits.len(),
                if hits.len() == 1 { "y" } else { "ies" },
            ));
            return;
        }
        if hits.is_empty() {
            return;
        }
        let scheme = eco.scheme();
        // The component's version is parsed once for every comparison below.
        let eco_ordering = Pinned::new(scheme, version);
        let semver_ordering = Pinned::new(semver_ranges_scheme(scheme), version);
        let orderings = Orderings {
            semver: &semver_ordering,
            ecosystem: &eco_ordering,
        };
        let mut matched: Vec<Hit<'_>> = Vec::new();
        let mut undecided: Vec<Hit<'_>> = Vec::new();
        for hit in hits {
            match hit.affected.evaluate(version, orderings) {
                Evaluation::Affected => matched.push(hit),
                Evaluation::Undecidable => undecided.push(hit),
                Evaluation::NotAffected => {}
            }
        }
        // A record is undecidable for this component only if none of its entries matched.
        undecided.retain(|u| !matched.iter().any(|h| h.record == u.record));
        if !undecided.is_empty() {
            let mut ids: Vec<&str> = undecided.iter().map(|h| h.advisory.id().as_str()).collect();
            ids.dedup();
            let shown: Vec<&str> = ids.iter().take(MAX_IDS_PER_WARNING).copied().collect();
            let more = ids.len() - shown.len();
            warnings.push(format!(
                "{} ({eco}): version {version:?} cannot be compared in the {scheme:?} ordering with {} advisor{} ({}{}); reported as undecided (the policy counts it unless `undecided: ignore`), check by hand",
                describe(c),
                ids.len(),
                if ids.len() == 1 { "y" } else { "ies" },
                shown.join(", "),
                if more > 0 { format!(", {more} more") } else { String::new() },
            ));
        }
        if matched.is_empty() && undecided.is_empty() {
            return;
        }
        // What findings show is read from the index's details store for the matched
        // and undecided records only.
        let mut details: Vec<(usize, Arc<RecordView>)> =
            Vec::with_capacity(matched.len() + undecided.len());
        for h in matched.iter().chain(&undecided) {
            if details.iter().any(|(r, _)| *r == h.record) {
                continue;
            }
            let d = self.record_view(h.record).unwrap_or_else(|e| {
                warnings.push(format!(
                    "{} ({eco}): {e}; the finding is reported without aliases, summary, severity or references",
                    describe(c)
                ));
                Arc::new(RecordView {
                    details: AdvisoryDetails::default(),
                    assessment: Assessment {
                        severity: Severity::Unknown,
                        cvss: None,
                    },
                })
            });
            details.push((h.record, d));
        }
        let first = findings.len();
        for group in group_records(&matched, &details) {
            findings.push(build_finding(c, eco, version, &group, orderings));
        }
        // An undecided vulnerability that a decided finding of this component already
        // reports (through an alias) is not reported twice.
        for group in group_records(&undecided, &details) {
            let mut f = build_finding(c, eco, version, &group, orderings);
            let known = findings[first..].iter().any(|d| {
                std::iter::once(&d.id)
                    .chain(&d.aliases)
                    .any(|k| *k == f.id || f.aliases.contains(k))
            });
            if !known {
                f.undecided = true;
                findings.push(f);
            }
        }
    }
}

/// `name version` of a component, with its purl when it has one.
fn describe(c: &Component) -> String {
    match &c.purl {
        Some(p) => format!("{} {} [{p}]", c.name, c.version),
        None => format!("{} {}", c.name, c.version),
    }
}

/// The ecosystem to look a component up in. The same as its own, except for Red Hat,
/// whose component carries no release: the RHEL major is taken from the purl `distro=`
/// qualifier, the SBOM's distro, or the `.elN` tag of the RPM release, so that
/// `enterprise_linux:8` records never match a RHEL 9 package.
fn lookup_ecosystem(c: &Component, eco: &Ecosystem, sbom: &Sbom) -> Ecosystem {
    if *eco.base() != BaseEcosystem::RedHat || eco.release().is_some() {
        return eco.clone();
    }
    let from_purl = c.purl.as_deref().and_then(|p| {
        let q = p.split_once('?')?.1;
        let d = q.split('&').find_map(|kv| kv.strip_prefix("distro="))?;
        let v = d.rsplit_once('-').map_or(d, |(_, v)| v);
        leading_digits(v)
    });
    let from_distro = || {
        let d = sbom.distro.as_ref()?;
        matches!(d.id.as_str(), "rhel" | "redhat")
            .then(|| d.version_id.as_deref().and_then(leading_digits))
            .flatten()
    };
    let from_release = || {
        let i = c.match_version.rfind(".el")?;
        leading_digits(&c.match_version[i + 3..])
    };
    match from_purl.or_else(from_distro).or_else(from_release) {
        Some(major) => Ecosystem::with_release(BaseEcosystem::RedHat, major),
        None => eco.clone(),
    }
}

fn leading_digits(s: &str) -> Option<String> {
    let d: String = s.chars().take_while(char::is_ascii_digit).collect();
    (!d.is_empty()).then_some(d)
}

/// One matched record and its matching affected entries.
struct Matched<'a> {
    advisory: &'a IndexedAdvisory,
    details: &'a AdvisoryDetails,
    assessment: &'a Assessment,
    affected: Vec<&'a Affected>,
}

impl Matched<'_> {
    /// `CVE-` ids in `upstream`: more than one makes this a multi-vulnerability record.
    fn upstream_cves(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .details
            .upstream
            .iter()
            .map(|i| i.as_str())
            .filter(|i| i.starts_with("CVE-"))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn is_bundle(&self) -> bool {
        self.upstream_cves().len() > 1
    }

    /// The ids used to merge: id, aliases, and upstream unless this is a bundle.
    fn keys(&self) -> Vec<&str> {
        let mut k: Vec<&str> = std::iter::once(self.advisory.id().as_str())
            .chain(self.details.aliases.iter().map(|i| i.as_str()))
            .collect();
        if !self.is_bundle() {
            k.extend(self.details.upstream.iter().map(|i| i.as_str()));
        }
        k
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Groups the matched records of one component (see the module documentation).
fn group_records<'a>(
    hits: &[Hit<'a>],
    details: &'a [(usize, Arc<RecordView>)],
) -> Vec<GroupOwned<'a>> {
    // One entry per record, in index (= id) order; a record may match through several
    // affected entries (two ranges for the same package, listed separately).
    let mut order: Vec<usize> = hits.iter().map(|h| h.record).collect();
    order.sort_unstable();
    order.dedup();
    let records: Vec<Matched<'a>> = order
        .iter()
        .filter_map(|r| {
            let hs: Vec<&Hit<'a>> = hits.iter().filter(|h| h.record == *r).collect();
            let first = hs.first()?;
            let (_, d) = details.iter().find(|(rec, _)| rec == r)?;
            Some(Matched {
                advisory: first.advisory,
                details: &d.details,
                assessment: &d.assessment,
                affected: hs.iter().map(|h| h.affected).collect(),
            })
        })
        .collect();

    let n = records.len();
    let mut parent: Vec<usize> = (0..n).collect();
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        for k in r.keys() {
            match owner.get(k) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    // Smaller root wins: the grouping does not depend on iteration order.
                    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                    parent[hi] = lo;
                }
                None => {
                    owner.insert(k, i);
                }
            }
        }
    }
    let mut roots: Vec<usize> = (0..n).map(|i| find(&mut parent, i)).collect();

    // Multi-CVE records alone in their group: attach them to the groups of their CVEs
    // when every one of those CVEs is matched by another group.
    let mut attach: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in 0..n {
        let alone = roots.iter().filter(|&&r| r == roots[i]).count() == 1;
        if !alone || !records[i].is_bundle() {
            continue;
        }
        let mut targets = Vec::new();
        let mut all = true;
        for cve in records[i].upstream_cves() {
            let target = (0..n).find(|&j| j != i && records[j].keys().contains(&cve));
            match target {
                Some(j) => targets.push(roots[j]),
                None => all = false,
            }
        }
        if all && !targets.is_empty() {
            targets.sort_unstable();
            targets.dedup();
            attach.push((i, targets));
        }
    }
    let attached_ids: Vec<usize> = attach.iter().map(|(i, _)| *i).collect();
    for &i in &attached_ids {
        roots[i] = usize::MAX;
    }

    let mut out: Vec<GroupOwned<'a>> = Vec::new();
    let mut root_list: Vec<usize> = roots.iter().copied().filter(|&r| r != usize::MAX).collect();
    root_list.sort_unstable();
    root_list.dedup();
    let member = |i: usize| {
        let r = &records[i];
        Member {
            advisory: r.advisory,
            details: r.details,
            assessment: r.assessment,
            affected: r.affected.clone(),
        }
    };
    for root in root_list {
        out.push(GroupOwned {
            members: (0..n).filter(|&i| roots[i] == root).map(member).collect(),
            attached: attach
                .iter()
                .filter(|(_, t)| t.contains(&root))
                .map(|(i, _)| member(*i))
                .collect(),
        });
    }
    out
}

/// A record in a group: the advisory, its details and record-level severity, its matching
/// affected entries.
struct Member<'a> {
    advisory: &'a IndexedAdvisory,
    details: &'a AdvisoryDetails,
    assessment: &'a Assessment,
    affected: Vec<&'a Affected>,
}

/// A merged group: member records, plus multi-CVE records attached to it.
struct GroupOwned<'a> {
    members: Vec<Member<'a>>,
    attached: Vec<Member<'a>>,
}

/// The primary id: a CVE record id, else a GHSA record id, else the smallest record id.
fn primary_id<'a>(record_ids: &[&'a str]) -> &'a str {
    let pick = |prefix: &str| {
        record_ids
            .iter()
            .copied()
            .filter(|i| i.starts_with(prefix))
            .min()
    };
    pick("CVE-")
        .or_else(|| pick("GHSA-"))
        .or_else(|| record_ids.iter().copied().min())
        .unwrap_or("")
}

/// Orders two versions in the ecosystem's ordering; unparseable or equal-ranked versions
/// fall back to their text so the order is always the same.
fn version_order(o: &dyn VersionOrdering, a: &str, b: &str) -> Ordering {
    match o.compare(a, b) {
        Some(Ordering::Equal) | None => a.cmp(b),
        Some(ord) => ord,
    }
}

fn build_finding(
    c: &Component,
    eco: &Ecosystem,
    version: &str,
    g: &GroupOwned<'_>,
    orderings: Orderings<'_>,
) -> Finding {
    let (semver, eco_ordering) = (orderings.semver, orderings.ecosystem);
    let record_ids: Vec<&str> = g.members.iter().map(|m| m.advisory.id().as_str()).collect();
    let primary = primary_id(&record_ids);

    let mut ids: Vec<&str> = Vec::new();
    for m in &g.members {
        let d = m.details;
        ids.push(m.advisory.id().as_str());
        ids.extend(d.aliases.iter().map(|i| i.as_str()));
        ids.extend(d.upstream.iter().map(|i| i.as_str()));
    }
    for m in &g.attached {
        ids.push(m.advisory.id().as_str());
    }
    ids.retain(|i| *i != primary);
    ids.sort_unstable();
    ids.dedup();

    // Fixed versions above the installed one; a fixed version that cannot be compared is
    // kept (better an extra hint than a lost one).
    let mut fixed: Vec<&str> = Vec::new();
    for m in g.members.iter().chain(g.attached.iter()) {
        for aff in &m.affected {
            for range in aff.ranges() {
                let o: &dyn VersionOrdering = match range {
                    Range::Semver(_) => semver,
                    Range::Ecosystem(_) => eco_ordering,
                    Range::Git { .. } => continue,
                };
                for f in range.fixed_versions() {
                    let above = o
                        .compare(f, version)
                        .is_none_or(|ord| ord == Ordering::Greater);
                    if above && !fixed.contains(&f) {
                        fixed.push(f);
                    }
                }
            }
        }
    }
    // Insertion sort: never panics, even if an ordering were inconsistent; lists are short.
    let mut sorted: Vec<&str> = Vec::with_capacity(fixed.len());
    for f in fixed {
        let pos = sorted
            .iter()
            .position(|s| version_order(eco_ordering, f, s) == Ordering::Less)
            .unwrap_or(sorted.len());
        sorted.insert(pos, f);
    }

    // An affected entry's own severity wins over the record's (assessed once, cached).
    let mut best: Option<Assessment> = None;
    for m in g.members.iter().chain(g.attached.iter()) {
        let own = m
            .affected
            .iter()
            .map(|x| x.severity())
            .find(|s| !s.is_empty());
        let this = match own {
            Some(entries) => assess(entries, m.details.database_severity.as_deref()),
            None => m.assessment.clone(),
        };
        if best.as_ref().is_none_or(|b| this.outranks(b)) {
            best = Some(this);
        }
    }
    let best = best.unwrap_or(Assessment {
        severity: Severity::Unknown,
        cvss: None,
    });

    let summary = g
        .members
        .iter()
        .find(|m| m.advisory.id().as_str() == primary)
        .and_then(|m| m.details.summary.as_deref())
        .or_else(|| g.members.iter().find_map(|m| m.details.summary.as_deref()))
        .map(str::to_string);

    let mut references: Vec<String> = Vec::new();
    for m in g.members.iter().chain(g.attached.iter()) {
        for r in &m.details.references {
            if !references.iter().any(|have| **have == **r) {
                references.push(r.to_string());
            }
        }
    }

    Finding {
        id: primary.to_string(),
        aliases: ids.into_iter().map(str::to_string).collect(),
        package: FindingPackage {
            name: c.name.clone(),
            version: c.version.clone(),
            purl: c.purl.clone(),
            ecosystem: eco.to_string(),
        },
        fixed_versions: sorted.into_iter().map(str::to_string).collect(),
        severity: best.severity,
        cvss: best.cvss,
        summary,
        references,
        layer: c.layer.clone(),
        path: c.path.clone(),
        muted: false,
        mute_reason: None,
        undecided: false,
    }
}

/// The scheme for an advisory's `SEMVER` ranges. vuln.go.dev writes every Go range as
/// `SEMVER`, including the standard library's (`go1.21.3` in an SBOM); the Go ordering
/// equals SemVer on `x.y.z` and also understands Go's spellings (optional `v`,
/// `+incompatible`, toolchain versions), so Go components use it for those ranges.
fn semver_ranges_scheme(scheme: VersionScheme) -> VersionScheme {
    match scheme {
        VersionScheme::Go => VersionScheme::Go,
        _ => VersionScheme::Semver,
    }
}
