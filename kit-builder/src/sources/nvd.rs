//! NVD API 2.0 CVE pages (`/rest/json/cves/2.0`), from a URL (paged with
//! `startIndex` / `resultsPerPage` / `totalResults`) or from a directory of saved pages.
//! Used to enrich advisories whose aliases name a CVE with CVSS v3.1 / v4.0 metrics and the
//! English description ([`NvdIndex`]).
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::{Origin, SourceError, SourceErrorKind};
use crate::fetch::Fetcher;

/// One page of the CVE API response. Unknown fields are ignored (the API adds them).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NvdPage {
    /// Page size asked for / served.
    pub results_per_page: u64,
    /// Offset of this page.
    pub start_index: u64,
    /// Total matching CVEs.
    pub total_results: u64,
    /// The CVEs on this page.
    #[serde(default)]
    pub vulnerabilities: Vec<NvdVulnerability>,
}

/// `vulnerabilities[]`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct NvdVulnerability {
    /// The CVE record.
    pub cve: NvdCve,
}

/// `vulnerabilities[].cve` (the fields the kit uses).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NvdCve {
    /// `CVE-YYYY-NNNN`.
    pub id: String,
    /// `lastModified`, as NVD writes it (no zone: UTC).
    #[serde(default)]
    pub last_modified: Option<String>,
    /// `vulnStatus` (`Rejected` records carry no useful metrics).
    #[serde(default)]
    pub vuln_status: Option<String>,
    /// Descriptions per language.
    #[serde(default)]
    pub descriptions: Vec<LangString>,
    /// CVSS metrics.
    #[serde(default)]
    pub metrics: NvdMetrics,
}

/// `{lang, value}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct LangString {
    /// BCP 47 language (`en`, `es`).
    pub lang: String,
    /// The text.
    pub value: String,
}

/// `cve.metrics`.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NvdMetrics {
    /// `cvssMetricV31[]`.
    #[serde(default)]
    pub cvss_metric_v31: Vec<CvssMetric>,
    /// `cvssMetricV40[]`.
    #[serde(default)]
    pub cvss_metric_v40: Vec<CvssMetric>,
}

/// One scorer's metric (`source`, `type` Primary/Secondary, `cvssData`).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CvssMetric {
    /// Who scored it (`nvd@nist.gov`, a CNA address).
    #[serde(default)]
    pub source: String,
    /// `Primary` or `Secondary`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The score.
    pub cvss_data: CvssData,
}

/// `cvssData` (v3.1 and v4.0 share these fields).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CvssData {
    /// `3.1` or `4.0`.
    #[serde(default)]
    pub version: String,
    /// `CVSS:3.1/AV:N/...`.
    pub vector_string: String,
    /// 0.0–10.0.
    pub base_score: f64,
    /// `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `NONE`.
    pub base_severity: String,
}

/// Where pages come from.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum NvdLocation {
    /// The API endpoint, e.g. `https://services.nvd.nist.gov/rest/json/cves/2.0`
    /// (query parameters such as `lastModStartDate` may be included).
    Url(String),
    /// A directory of saved page files (`*.json`, read in name order).
    Dir(PathBuf),
}

/// An `nvd` source.
#[derive(Clone, Debug)]
pub struct NvdSource {
    /// Name used in errors.
    pub name: String,
    /// Where the pages are.
    pub location: NvdLocation,
    /// Sent as the `apiKey` header (raises NVD's rate limit).
    pub api_key: Option<String>,
    /// Page size asked for (NVD allows at most 2000).
    pub results_per_page: u64,
    /// Pause between pages (NVD asks for ~6 s without a key).
    pub page_delay: Duration,
    /// Largest page in bytes.
    pub max_page_bytes: u64,
    /// Most pages (a guard against a server whose paging never ends).
    pub max_pages: u64,
}

impl NvdSource {
    /// A source with NVD's documented defaults.
    pub fn new(name: impl Into<String>, location: NvdLocation) -> NvdSource {
        NvdSource {
            name: name.into(),
            location,
            api_key: None,
            results_per_page: 2000,
            page_delay: Duration::from_secs(6),
            max_page_bytes: 512 << 20,
            max_pages: 10_000,
        }
    }

    fn origin(&self) -> Origin {
        Origin {
            name: self.name.clone(),
            kind: "nvd",
            target: match &self.location {
                NvdLocation::Url(u) => u.clone(),
                NvdLocation::Dir(d) => d.display().to_string(),
            },
        }
    }

    fn parse(&self, what: &str, bytes: &[u8]) -> Result<NvdPage, SourceError> {
        serde_json::from_slice(bytes).map_err(|e| {
            self.origin().err(SourceErrorKind::Json {
                what: what.to_string(),
                reason: e.to_string(),
            })
        })
    }

    /// Fetches every page. Online pages go through the cache (so an offline rebuild finds
    /// them under the same URLs).
    pub fn fetch_pages(&self, fetcher: &Fetcher) -> Result<Vec<NvdPage>, SourceError> {
        match &self.location {
            NvdLocation::Dir(dir) => self.read_dir(dir),
            NvdLocation::Url(url) => self.fetch_url_pages(fetcher, url),
        }
    }

    fn read_dir(&self, dir: &std::path::Path) -> Result<Vec<NvdPage>, SourceError> {
        let io = |path: &std::path::Path, source| {
            self.origin().err(SourceErrorKind::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
            .collect();
        files.sort();
        if files.len() as u64 > self.max_pages {
            return Err(self.origin().err(SourceErrorKind::Limit {
                what: "NVD page files".into(),
                actual: files.len() as u64,
                limit: self.max_pages,
            }));
        }
        files
            .iter()
            .map(|p| {
                let len = std::fs::metadata(p).map_err(|e| io(p, e))?.len();
                if len > self.max_page_bytes {
                    return Err(self.origin().err(SourceErrorKind::Limit {
                        what: format!("{} bytes", p.display()),
                        actual: len,
                        limit: self.max_page_bytes,
                    }));
                }
                let bytes = std::fs::read(p).map_err(|e| io(p, e))?;
                self.parse(&p.display().to_string(), &bytes)
            })
            .collect()
    }

    fn page_url(&self, base: &str, start: u64) -> Result<String, SourceError> {
        let mut url = reqwest::Url::parse(base).map_err(|e| {
            self.origin()
                .err(SourceErrorKind::Config(format!("url: {e}")))
        })?;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "startIndex" && k != "resultsPerPage")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("startIndex", &start.to_string())
            .append_pair("resultsPerPage", &self.results_per_page.to_string());
        Ok(url.to_string())
    }

    fn fetch_url_pages(&self, fetcher: &Fetcher, base: &str) -> Result<Vec<NvdPage>, SourceError> {
        if self.results_per_page == 0 {
            return Err(self.origin().err(SourceErrorKind::Config(
                "results_per_page must be > 0".into(),
            )));
        }
        if self.api_key.is_some() && !fetcher.is_offline() {
            // The key must travel as a header; the cache layer downloads without custom
            // headers, so keyed requests bypass it (and cannot be replayed offline).
            return self.fetch_keyed(fetcher, base);
        }
        let mut pages = Vec::new();
        let mut start = 0u64;
        loop {
            let url = self.page_url(base, start)?;
            let path = fetcher
                .fetch_url(&url, self.max_page_bytes)
                .map_err(|e| self.origin().err(e))?;
            let bytes = std::fs::read(&path)
                .map_err(|source| self.origin().err(SourceErrorKind::Io { path, source }))?;
            let page = self.parse(&url, &bytes)?;
            let next = self.advance(&page, start, pages.len() as u64)?;
            pages.push(page);
            match next {
                Some(n) => {
                    start = n;
                    if !fetcher.is_offline() {
                        std::thread::sleep(self.page_delay);
                    }
                }
                None => return Ok(pages),
            }
        }
    }

    fn fetch_keyed(&self, fetcher: &Fetcher, base: &str) -> Result<Vec<NvdPage>, SourceError> {
        let key = self.api_key.clone().unwrap_or_default();
        let mut pages = Vec::new();
        let mut start = 0u64;
        loop {
            let url = self.page_url(base, start)?;
            let resp = fetcher
                .get(&url, &[("apiKey", key.clone())], self.max_page_bytes)
                .map_err(|e| self.origin().err(e))?;
            let page = self.parse(&url, &resp.body)?;
            let next = self.advance(&page, start, pages.len() as u64)?;
            pages.push(page);
            match next {
                Some(n) => {
                    start = n;
                    std::thread::sleep(self.page_delay);
                }
                None => return Ok(pages),
            }
        }
    }

    /// Checks a page against the request and returns the next start index, if any.
    fn advance(
        &self,
        page: &NvdPage,
        start: u64,
        fetched: u64,
    ) -> Result<Option<u64>, SourceError> {
        let paging = |m: String| self.origin().err(SourceErrorKind::Paging(m));
        if page.start_index != start {
            return Err(paging(format!(
                "asked for startIndex {start}, got {}",
                page.start_index
            )));
        }
        let got = page.vulnerabilities.len() as u64;
        let next = start.saturating_add(got);
        if next >= page.total_results {
            return Ok(None);
        }
        if got == 0 {
            return Err(paging(format!(
                "empty page at startIndex {start} of {} results",
                page.total_results
            )));
        }
        if fetched + 1 >= self.max_pages {
            return Err(self.origin().err(SourceErrorKind::Limit {
                what: "NVD pages".into(),
                actual: fetched + 1,
                limit: self.max_pages,
            }));
        }
        Ok(Some(next))
    }
}

/// A CVSS score chosen for enrichment.
#[derive(Clone, Debug, PartialEq)]
pub struct CvssScore {
    /// The vector.
    pub vector: String,
    /// Base score.
    pub base_score: f64,
    /// Base severity as NVD writes it (`HIGH`).
    pub base_severity: String,
    /// Who scored it.
    pub source: String,
}

/// What NVD adds to an advisory.
#[derive(Clone, Debug, PartialEq)]
pub struct CveEnrichment {
    /// The CVE id.
    pub id: String,
    /// The English description.
    pub description: Option<String>,
    /// CVSS v3.1 (the `Primary` metric when there is one).
    pub cvss_v31: Option<CvssScore>,
    /// CVSS v4.0 (the `Primary` metric when there is one).
    pub cvss_v40: Option<CvssScore>,
}

fn pick(metrics: &[CvssMetric]) -> Option<CvssScore> {
    let m = metrics
        .iter()
        .find(|m| m.kind == "Primary")
        .or_else(|| metrics.first())?;
    Some(CvssScore {
        vector: m.cvss_data.vector_string.clone(),
        base_score: m.cvss_data.base_score,
        base_severity: m.cvss_data.base_severity.clone(),
        source: m.source.clone(),
    })
}

/// CVE id → enrichment, built from pages (later pages win, so an update feed can be laid
/// over a full one).
#[derive(Clone, Debug, Default)]
pub struct NvdIndex {
    by_id: BTreeMap<String, CveEnrichment>,
}

impl NvdIndex {
    /// Indexes every CVE on the pages.
    pub fn from_pages<'a>(pages: impl IntoIterator<Item = &'a NvdPage>) -> NvdIndex {
        let mut by_id = BTreeMap::new();
        for v in pages.into_iter().flat_map(|p| &p.vulnerabilities) {
            let cve = &v.cve;
            let description = cve
                .descriptions
                .iter()
                .find(|d| d.lang == "en")
                .map(|d| d.value.clone());
            by_id.insert(
                cve.id.clone(),
                CveEnrichment {
                    id: cve.id.clone(),
                    description,
                    cvss_v31: pick(&cve.metrics.cvss_metric_v31),
                    cvss_v40: pick(&cve.metrics.cvss_metric_v40),
                },
            );
        }
        NvdIndex { by_id }
    }

    /// Number of CVEs.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// One CVE.
    pub fn get(&self, cve: &str) -> Option<&CveEnrichment> {
        self.by_id.get(cve)
    }

    /// The first CVE among an advisory's id and aliases that NVD knows.
    pub fn for_advisory(&self, advisory: &bundles::model::Advisory) -> Option<&CveEnrichment> {
        std::iter::once(advisory.id())
            .chain(advisory.aliases())
            .map(|id| id.as_str())
            .filter(|id| id.starts_with("CVE-"))
            .find_map(|id| self.get(id))
    }
}
