//! [`FakeConsole`]: an in-memory [`Console`] with plausible demo data, for the handler tests
//! and the `console_demo` example (which includes this file by path). Test support code:
//! it lives under `tests/`, never in the library.
//!
//! It behaves like the real thing where the web layer can tell: sessions expire, logins
//! back off after three failures, mutes change what the scan page shows, policy saves
//! validate (with a deliberately small line-based checker, not a YAML parser), uploads
//! produce a numbered report, and every action lands in a hash-chained audit list.
//! Passwords are compared in plain text: this is a test double, not an authenticator.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use bundles::model::FindingPackage;
use web::console::*;

/// The demo operator account.
pub const DEMO_USER: &str = "admin";
/// The demo operator's password.
pub const DEMO_PASSWORD: &str = "correct horse battery staple";
/// The scan whose SBOM has a component named `<script>alert(1)</script>`.
pub const HOSTILE_SCAN_ID: &str = "01JDS0000000000000000XSS01";
/// Failures allowed before the fake starts to throttle a user or address.
pub const FREE_FAILURES: u32 = 3;

const SESSION_LIFETIME: Duration = Duration::hours(12);
const AUDIT_PER_PAGE: u32 = 50;

#[derive(Debug, Clone)]
struct StoredScan {
    row: ScanRow,
    sbom_format: String,
    components: u32,
    findings: Vec<FindingRow>,
}

#[derive(Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

#[derive(Debug)]
struct State {
    now: OffsetDateTime,
    users: Vec<(String, String)>,
    sessions: HashMap<String, Session>,
    failures: HashMap<String, Failures>,
    kit: Option<KitInfo>,
    clients: Vec<ClientToken>,
    scans: Vec<StoredScan>,
    mutes: Vec<MuteRule>,
    policies: Vec<PolicyVersionText>,
    max_feed_age_days: u32,
    audit: Vec<AuditEntry>,
    imports: Vec<ImportRow>,
    staged: HashMap<String, KitInfo>,
    next_id: u64,
}

/// An in-memory console with demo data. Cheap to create; each instance is independent.
#[derive(Debug)]
pub struct FakeConsole {
    state: Mutex<State>,
}

/// The fake's fixed "now", so pages render the same on every run.
pub const FAKE_NOW: OffsetDateTime = datetime!(2026-11-22 10:00 UTC);

const DEFAULT_POLICY: &str = "# Stella Ops Offline policy
version: 1
fail_on: high              # critical | high | medium | low | none
max_feed_age_days: 7       # the dashboard's feed-age tile turns red beyond this
ignore_unfixed: false
mute:
  - advisory: CVE-2023-44487
    package: pkg:golang/golang.org/x/net
    reason: HTTP/2 is disabled on every internal service
    expires: 2027-01-31
";

struct Catalogue {
    advisory: &'static str,
    aliases: &'static [&'static str],
    summary: &'static str,
    severity: Severity,
    package: &'static str,
    version: &'static str,
    ecosystem: &'static str,
    purl_type: &'static str,
    fixed: &'static [&'static str],
}

const CATALOGUE: &[Catalogue] = &[
    Catalogue {
        advisory: "CVE-2021-44228",
        aliases: &["GHSA-jfh8-c2jp-5v3q"],
        summary: "Remote code execution via JNDI lookups in log messages (Log4Shell)",
        severity: Severity::Critical,
        package: "org.apache.logging.log4j:log4j-core",
        version: "2.14.1",
        ecosystem: "Maven",
        purl_type: "maven",
        fixed: &["2.15.0"],
    },
    Catalogue {
        advisory: "CVE-2022-37434",
        aliases: &[],
        summary: "Heap buffer over-read in inflateGetHeader",
        severity: Severity::Critical,
        package: "zlib1g",
        version: "1:1.2.11.dfsg-2",
        ecosystem: "Debian:12",
        purl_type: "deb",
        fixed: &["1:1.2.11.dfsg-2+deb11u2"],
    },
    Catalogue {
        advisory: "CVE-2021-44906",
        aliases: &["GHSA-xvch-5gv4-984h"],
        summary: "Prototype pollution in minimist",
        severity: Severity::Critical,
        package: "minimist",
        version: "1.2.5",
        ecosystem: "npm",
        purl_type: "npm",
        fixed: &["1.2.6"],
    },
    Catalogue {
        advisory: "CVE-2023-4911",
        aliases: &[],
        summary: "Buffer overflow in the dynamic loader's GLIBC_TUNABLES handling",
        severity: Severity::High,
        package: "libc6",
        version: "2.36-9",
        ecosystem: "Debian:12",
        purl_type: "deb",
        fixed: &["2.36-9+deb12u3"],
    },
    Catalogue {
        advisory: "CVE-2023-44487",
        aliases: &["GHSA-qppj-fm5r-hxr3"],
        summary: "HTTP/2 rapid reset can cause excessive work",
        severity: Severity::High,
        package: "golang.org/x/net",
        version: "0.15.0",
        ecosystem: "Go",
        purl_type: "golang",
        fixed: &["0.17.0"],
    },
    Catalogue {
        advisory: "CVE-2023-43804",
        aliases: &["GHSA-v845-jxx5-vc9f"],
        summary: "Cookie header not stripped on cross-origin redirects",
        severity: Severity::High,
        package: "urllib3",
        version: "1.26.16",
        ecosystem: "PyPI",
        purl_type: "pypi",
        fixed: &["1.26.17", "2.0.6"],
    },
    Catalogue {
        advisory: "CVE-2020-8203",
        aliases: &["GHSA-p6mc-m468-83gw"],
        summary: "Prototype pollution in zipObjectDeep",
        severity: Severity::High,
        package: "lodash",
        version: "4.17.15",
        ecosystem: "npm",
        purl_type: "npm",
        fixed: &["4.17.19"],
    },
    Catalogue {
        advisory: "CVE-2023-32681",
        aliases: &["GHSA-j8r2-6x86-q33q"],
        summary: "Proxy-Authorization header leaked to destination servers",
        severity: Severity::Medium,
        package: "requests",
        version: "2.28.2",
        ecosystem: "PyPI",
        purl_type: "pypi",
        fixed: &["2.31.0"],
    },
    Catalogue {
        advisory: "CVE-2024-22195",
        aliases: &["GHSA-h5c8-rqwp-cp95"],
        summary: "HTML attribute injection in the xmlattr filter",
        severity: Severity::Medium,
        package: "Jinja2",
        version: "3.1.2",
        ecosystem: "PyPI",
        purl_type: "pypi",
        fixed: &["3.1.3"],
    },
    Catalogue {
        advisory: "CVE-2023-0286",
        aliases: &[],
        summary: "Type confusion in X.400 address processing",
        severity: Severity::High,
        package: "libssl3",
        version: "3.0.7-1",
        ecosystem: "Debian:12",
        purl_type: "deb",
        fixed: &["3.0.8-1"],
    },
    Catalogue {
        advisory: "CVE-2022-40897",
        aliases: &["GHSA-r9hx-vwmv-q579"],
        summary: "Regular expression denial of service in package_index",
        severity: Severity::Medium,
        package: "setuptools",
        version: "58.1.0",
        ecosystem: "PyPI",
        purl_type: "pypi",
        fixed: &["65.5.1"],
    },
    Catalogue {
        advisory: "CVE-2024-24790",
        aliases: &[],
        summary: "Unexpected behaviour from Is methods for IPv4-mapped IPv6 addresses",
        severity: Severity::Low,
        package: "stdlib",
        version: "1.21.5",
        ecosystem: "Go",
        purl_type: "golang",
        fixed: &["1.21.11"],
    },
    Catalogue {
        advisory: "CVE-2023-45853",
        aliases: &[],
        summary: "Integer overflow in zipOpenNewFileInZip4_64 (minizip)",
        severity: Severity::Critical,
        package: "zlib1g",
        version: "1:1.2.13.dfsg-1",
        ecosystem: "Debian:12",
        purl_type: "deb",
        fixed: &[],
    },
    Catalogue {
        advisory: "GHSA-c2qf-rxjj-qqgw",
        aliases: &["CVE-2022-25883"],
        summary: "Regular expression denial of service in semver",
        severity: Severity::Medium,
        package: "semver",
        version: "5.7.1",
        ecosystem: "npm",
        purl_type: "npm",
        fixed: &["5.7.2", "7.5.2"],
    },
    Catalogue {
        advisory: "CVE-2023-2975",
        aliases: &[],
        summary: "AES-SIV ignores empty associated data entries",
        severity: Severity::Low,
        package: "libssl3",
        version: "3.0.7-1",
        ecosystem: "Debian:12",
        purl_type: "deb",
        fixed: &["3.0.10-1"],
    },
    Catalogue {
        advisory: "CVE-2024-0001",
        aliases: &[],
        summary: "Advisory without a severity in the feeds",
        severity: Severity::Unknown,
        package: "left-pad",
        version: "1.3.0",
        ecosystem: "npm",
        purl_type: "npm",
        fixed: &[],
    },
];

const APPS: &[&str] = &[
    "payments-api",
    "frontend-web",
    "erp-gateway",
    "billing-worker",
    "auth-service",
    "reporting-batch",
    "hmi-panel",
    "plc-bridge",
    "historian",
    "label-printer",
];
const CLIENTS: &[&str] = &["ci-frontend", "ci-payments", "ci-legacy-erp"];

fn purl(c: &Catalogue) -> String {
    format!("pkg:{}/{}@{}", c.purl_type, c.package, c.version)
}

fn finding(c: &Catalogue, layer: Option<String>) -> FindingRow {
    FindingRow {
        finding: Finding {
            id: c.advisory.into(),
            aliases: c.aliases.iter().map(|s| (*s).to_owned()).collect(),
            summary: Some(c.summary.into()),
            severity: c.severity,
            package: FindingPackage {
                name: c.package.into(),
                version: c.version.into(),
                purl: Some(purl(c)),
                ecosystem: c.ecosystem.into(),
            },
            fixed_versions: c.fixed.iter().map(|s| (*s).to_owned()).collect(),
            layer,
            cvss: None,
            references: Vec::new(),
            path: None,
            muted: false,
            mute_reason: None,
            undecided: false,
        },
        muted: None,
    }
}

fn layer_digest(n: u64) -> String {
    let h = Sha256::digest(n.to_le_bytes());
    format!("sha256:{}", hex::encode(h))
}

/// Deterministic pseudo-random numbers for demo data (not for anything secret).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

fn purl_without_version(p: &str) -> &str {
    p.rsplit_once('@').map_or(p, |(a, _)| a)
}

fn random_hex() -> Result<String, ConsoleError> {
    let mut b = [0u8; 24];
    getrandom::fill(&mut b).map_err(|e| ConsoleError::Internal(e.to_string().into()))?;
    Ok(hex::encode(b))
}

fn fail_on_rank(sev: Severity) -> bool {
    matches!(sev, Severity::Critical | Severity::High)
}

impl State {
    fn record(&mut self, actor: &str, action: &str, detail: String, ok: bool) {
        let seq = self.audit.len() as u64;
        let prev = self
            .audit
            .last()
            .map(|e| e.hash.clone())
            .unwrap_or_default();
        let mut h = Sha256::new();
        for part in [prev.as_str(), actor, action, detail.as_str()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        self.audit.push(AuditEntry {
            seq,
            at: self.now,
            actor: actor.into(),
            action: action.into(),
            detail,
            ok,
            hash: hex::encode(h.finalize()),
        });
    }

    fn applies(&self, f: &FindingRow) -> Option<MuteInfo> {
        let today = self.now.date();
        self.mutes
            .iter()
            .rev()
            .find(|m| {
                m.request.advisory == f.finding.id
                    && m.request.expires.is_none_or(|d| d >= today)
                    && (m.request.scope == MuteScope::Everywhere
                        || purl_without_version(&m.request.purl) == purl_without_version(f.purl()))
            })
            .map(|m| MuteInfo {
                reason: m.request.reason.clone(),
                by: m.created_by.clone(),
                expires: m.request.expires,
                scope: m.request.scope,
            })
    }

    /// The scan as the console shows it now: mutes applied, counts and verdict recomputed.
    fn view(&self, s: &StoredScan) -> ScanDetail {
        let findings: Vec<FindingRow> = s
            .findings
            .iter()
            .map(|f| FindingRow {
                muted: self.applies(f),
                ..f.clone()
            })
            .collect();
        let counts: SeverityCounts = findings
            .iter()
            .filter(|f| f.muted.is_none())
            .map(|f| f.finding.severity)
            .collect();
        let verdict = if findings
            .iter()
            .any(|f| f.muted.is_none() && fail_on_rank(f.finding.severity))
        {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        let mut digest = Sha256::new();
        for f in &findings {
            digest.update(f.finding.id.as_bytes());
            digest.update(f.purl().as_bytes());
        }
        ScanDetail {
            scan: ScanRow {
                verdict,
                counts,
                ..s.row.clone()
            },
            sbom_format: s.sbom_format.clone(),
            components: s.components,
            policy_version: self.policies.last().map_or(0, |p| p.meta.version),
            findings_digest: format!("sha256:{}", hex::encode(digest.finalize())),
            findings,
            evidence_available: true,
        }
    }

    fn throttle_key_secs(&self, key: &str) -> Option<u64> {
        let f = self.failures.get(key)?;
        if f.count < FREE_FAILURES {
            return None;
        }
        // 30 s after the third failure, doubling after each further one, capped at 1 h.
        let wait = 30u64 << (f.count - FREE_FAILURES).min(7);
        let wait = wait.min(3600);
        let elapsed = f.last.elapsed().as_secs();
        (elapsed < wait).then(|| wait - elapsed)
    }
}

impl FakeConsole {
    /// A console with demo data: one active kit, three clients (one at its quota, one
    /// whose token expires in five days), 48 scans (one with a hostile component name),
    /// a policy with two versions and an audit trail.
    pub fn demo() -> Self {
        let now = FAKE_NOW;
        let created = now - Duration::days(4) - Duration::hours(3);
        let kit = KitInfo {
            sequence: 42,
            kit_id: "plant-7-2026-11-18-0042".into(),
            site: Some("plant-7".into()),
            created,
            expires: created + Duration::days(30),
            activated: Some(now - Duration::days(4)),
            advisory_counts: [
                ("Debian:12", 38_410),
                ("npm", 21_907),
                ("PyPI", 17_482),
                ("Alpine:v3.20", 6_085),
                ("Maven", 5_113),
                ("Go", 3_226),
                ("crates.io", 1_871),
                ("RubyGems", 1_102),
            ]
            .into_iter()
            .map(|(e, n)| EcosystemCount {
                ecosystem: e.into(),
                advisories: n,
            })
            .collect(),
            trivy_db_updated: Some(created - Duration::hours(2)),
        };
        let clients = CLIENTS
            .iter()
            .zip([(128, 26), (333, 26), (12, 5)])
            .map(|(id, (used, days))| ClientToken {
                client_id: (*id).into(),
                tier: "Free".into(),
                used_today: used,
                max_scans_per_day: 333,
                expires: now + Duration::days(days),
                token: format!(
                    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ{}IiwidGllciI6IkZyZWUiLCJtYXhTY2Fuc1BlckRheSI6MzMzfQ.FAKE-SIGNATURE-{}",
                    hex::encode(id.as_bytes()),
                    id.len()
                ),
                token_id: Some(format!("jti-{id}")),
                revoked: None,
                token_revoked: false,
            })
            .collect();

        let mut rng = Lcg(0x5eed);
        let mut scans = Vec::new();
        for i in 0..47u64 {
            let app = APPS[rng.below(APPS.len() as u64) as usize];
            let image = (i % 2 == 0).then(|| {
                format!(
                    "registry.plant7.local/{app}:1.{}.{}",
                    rng.below(9),
                    rng.below(20)
                )
            });
            let n = rng.below(7);
            let mut findings = Vec::new();
            for _ in 0..n {
                let c = &CATALOGUE[rng.below(CATALOGUE.len() as u64) as usize];
                if findings
                    .iter()
                    .any(|f: &FindingRow| f.finding.id == c.advisory)
                {
                    continue;
                }
                let layer = image.as_ref().map(|_| layer_digest(rng.below(4)));
                findings.push(finding(c, layer));
            }
            scans.push(StoredScan {
                row: ScanRow {
                    id: format!("01JDS{:021}", 47 - i),
                    name: app.into(),
                    image,
                    created: now - Duration::minutes((i * 97 + rng.below(60)) as i64),
                    verdict: Verdict::Pass,
                    counts: SeverityCounts::default(),
                    client_id: CLIENTS[rng.below(3) as usize].into(),
                    kit_sequence: if i < 30 { 42 } else { 41 },
                },
                sbom_format: if i % 3 == 0 {
                    "SPDX 2.3"
                } else {
                    "CycloneDX 1.6"
                }
                .into(),
                components: 40 + rng.below(400) as u32,
                findings,
            });
        }
        // The hostile SBOM: component names are attacker-controlled text.
        scans.insert(
            3,
            StoredScan {
                row: ScanRow {
                    id: HOSTILE_SCAN_ID.into(),
                    name: "vendor-drop \"<b>bold</b>\"".into(),
                    image: None,
                    created: now - Duration::minutes(200),
                    verdict: Verdict::Pass,
                    counts: SeverityCounts::default(),
                    client_id: "ci-frontend".into(),
                    kit_sequence: 42,
                },
                sbom_format: "CycloneDX 1.5".into(),
                components: 3,
                findings: vec![FindingRow {
                    finding: Finding {
                        id: "GHSA-xss0-0000-0000".into(),
                        aliases: vec!["CVE-2026-0001".into()],
                        summary: Some("Summary with <img src=x onerror=alert(2)>".into()),
                        severity: Severity::High,
                        package: FindingPackage {
                            name: "<script>alert(1)</script>".into(),
                            version: "1.0.0\"><svg onload=alert(3)>".into(),
                            purl: Some("pkg:npm/%3Cscript%3Ealert(1)%3C/script%3E@1.0.0".into()),
                            ecosystem: "npm".into(),
                        },
                        fixed_versions: vec!["1.0.1".into()],
                        layer: None,
                        cvss: None,
                        references: Vec::new(),
                        path: None,
                        muted: false,
                        mute_reason: None,
                        undecided: false,
                    },
                    muted: None,
                }],
            },
        );

        let p1 = DEFAULT_POLICY.replace("fail_on: high ", "fail_on: critical");
        let policies = vec![
            PolicyVersionText {
                meta: PolicyVersion {
                    version: 1,
                    author: "admin".into(),
                    created: now - Duration::days(60),
                    digest: hex::encode(Sha256::digest(p1.as_bytes())),
                },
                yaml: p1,
            },
            PolicyVersionText {
                meta: PolicyVersion {
                    version: 2,
                    author: "admin".into(),
                    created: now - Duration::days(9),
                    digest: hex::encode(Sha256::digest(DEFAULT_POLICY.as_bytes())),
                },
                yaml: DEFAULT_POLICY.into(),
            },
        ];

        let mut state = State {
            now,
            users: vec![(DEMO_USER.into(), DEMO_PASSWORD.into())],
            sessions: HashMap::new(),
            failures: HashMap::new(),
            kit: Some(kit),
            clients,
            scans,
            mutes: Vec::new(),
            policies,
            max_feed_age_days: 7,
            audit: Vec::new(),
            imports: vec![
                ImportRow {
                    at: now - Duration::days(4),
                    actor: "admin".into(),
                    file_name: "plant-7-0042.ouk".into(),
                    sequence: Some(42),
                    status: ImportStatus::Activated,
                    reason: "all 9 checks passed".into(),
                },
                ImportRow {
                    at: now - Duration::days(4) - Duration::minutes(6),
                    actor: "admin".into(),
                    file_name: "plant-7-0040.ouk".into(),
                    sequence: Some(40),
                    status: ImportStatus::Refused,
                    reason: "check 5 (rollback): sequence 40 is not newer than the active kit #41"
                        .into(),
                },
                ImportRow {
                    at: now - Duration::days(34),
                    actor: "cli".into(),
                    file_name: "plant-7-0041.ouk".into(),
                    sequence: Some(41),
                    status: ImportStatus::Activated,
                    reason: "all 9 checks passed".into(),
                },
            ],
            staged: HashMap::new(),
            next_id: 1,
        };
        state.record(
            "cli",
            "init",
            "appliance initialised, 1 vendor key pinned".into(),
            true,
        );
        state.record("cli", "import", "kit #41 activated".into(), true);
        state.record("admin", "policy.save", "policy version 1".into(), true);
        state.record("admin", "policy.save", "policy version 2".into(), true);
        state.record("admin", "login", "from 10.7.0.12".into(), true);
        state.record("admin", "import", "kit #40 refused: rollback".into(), false);
        state.record("admin", "import", "kit #42 activated".into(), true);
        FakeConsole {
            state: Mutex::new(state),
        }
    }

    /// Adds a scan with `n` findings (cycling through the demo advisories with
    /// distinct package versions) and returns its id. Used by the render benchmark.
    pub fn add_scan_with_findings(&self, n: usize) -> String {
        let mut st = self.state.lock();
        let id = format!("01JDSBIG{:018}", n);
        let findings = (0..n)
            .map(|i| {
                let c = &CATALOGUE[i % CATALOGUE.len()];
                let mut f = finding(c, Some(layer_digest((i % 7) as u64)));
                let p = &mut f.finding.package;
                p.version = format!("{}.{i}", c.version);
                p.purl = Some(format!(
                    "pkg:{}/{}-{i}@{}",
                    c.purl_type, c.package, p.version
                ));
                p.name = format!("{}-{i}", c.package);
                f
            })
            .collect();
        let created = st.now - Duration::minutes(1);
        st.scans.insert(
            0,
            StoredScan {
                row: ScanRow {
                    id: id.clone(),
                    name: "monolith-all-deps".into(),
                    image: Some("registry.plant7.local/monolith:9.9.9".into()),
                    created,
                    verdict: Verdict::Fail,
                    counts: SeverityCounts::default(),
                    client_id: "ci-frontend".into(),
                    kit_sequence: 42,
                },
                sbom_format: "CycloneDX 1.6".into(),
                components: u32::try_from(n).unwrap_or(u32::MAX),
                findings,
            },
        );
        id
    }

    /// Removes the active kit and clients (an appliance that was just initialised).
    pub fn without_kit(self) -> Self {
        {
            let mut st = self.state.lock();
            st.kit = None;
            st.clients.clear();
        }
        self
    }

    /// Audit records so far (tests assert that actions are audited).
    pub fn audit_actions(&self) -> Vec<(String, String, bool)> {
        self.state
            .lock()
            .audit
            .iter()
            .map(|e| (e.actor.clone(), e.action.clone(), e.ok))
            .collect()
    }

    /// Mute rules stored so far.
    pub fn mute_rules(&self) -> Vec<MuteRule> {
        self.state.lock().mutes.clone()
    }
}

/// The fake's policy checker: line-based, just enough to produce line-numbered errors.
fn check_policy(yaml: &str) -> (Vec<PolicyError>, Option<u32>) {
    const KEYS: &[&str] = &[
        "version",
        "fail_on",
        "max_feed_age_days",
        "ignore_unfixed",
        "mute",
    ];
    let mut errors = Vec::new();
    let mut max_age = None;
    for (i, raw) in yaml.lines().enumerate() {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let content = raw.split(" #").next().unwrap_or("");
        if raw.contains('\t') {
            errors.push(PolicyError {
                line,
                msg: "tab character: YAML indentation must use spaces".into(),
            });
            continue;
        }
        let t = content.trim();
        if t.is_empty() || t.starts_with('#') || raw.starts_with(' ') {
            continue;
        }
        let Some((key, value)) = t.split_once(':') else {
            errors.push(PolicyError {
                line,
                msg: format!("expected `key: value`, found `{t}`"),
            });
            continue;
        };
        let value = value.trim();
        match key {
            "fail_on" if !["critical", "high", "medium", "low", "none"].contains(&value) => {
                errors.push(PolicyError {
                    line,
                    msg: format!(
                        "fail_on must be one of critical, high, medium, low, none (found `{value}`)"
                    ),
                });
            }
            "max_feed_age_days" => match value.parse::<u32>() {
                Ok(n) if (1..=365).contains(&n) => max_age = Some(n),
                _ => errors.push(PolicyError {
                    line,
                    msg: format!("max_feed_age_days must be a whole number of days from 1 to 365 (found `{value}`)"),
                }),
            },
            k if !KEYS.contains(&k) => errors.push(PolicyError {
                line,
                msg: format!("unknown key `{k}` (expected one of: {})", KEYS.join(", ")),
            }),
            _ => {}
        }
    }
    (errors, max_age)
}

fn kit_checks(
    upload: &KitUpload,
    content: &str,
    active: Option<&KitInfo>,
    now: OffsetDateTime,
) -> (Vec<CheckResult>, Option<KitInfo>) {
    let mut checks = Vec::new();
    let mut push = |number: &str, name: &str, passed: bool, detail: String| {
        checks.push(CheckResult {
            number: number.into(),
            name: name.into(),
            passed,
            detail,
        });
        passed
    };
    let sequence = content
        .split_whitespace()
        .find_map(|w| w.strip_prefix("sequence="))
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| active.map_or(1, |k| k.sequence + 1));
    let kit = KitInfo {
        sequence,
        kit_id: format!("plant-7-2026-11-22-{sequence:04}"),
        site: Some("plant-7".into()),
        created: now - Duration::hours(20),
        expires: now - Duration::hours(20) + Duration::days(30),
        activated: None,
        advisory_counts: active
            .map(|k| k.advisory_counts.clone())
            .unwrap_or_default(),
        trivy_db_updated: Some(now - Duration::hours(22)),
    };
    let steps: [(&str, &str, bool, String); 9] = [
        (
            "1",
            "Size within limits",
            true,
            format!("{} bytes (limit 4 GiB)", upload.size),
        ),
        (
            "2",
            "Detached signature present",
            upload.signature.is_some(),
            if upload.signature.is_some() {
                "upload.ouk.minisig".into()
            } else {
                "no .minisig was uploaded: upload it together with the kit".into()
            },
        ),
        (
            "3",
            "Signed by a pinned vendor key",
            !content.contains("BADSIG"),
            if content.contains("BADSIG") {
                "signature does not verify with key RWQ…7A2F".into()
            } else {
                "key id 5C3F9E0D7A2F (threshold 1 of 1)".into()
            },
        ),
        (
            "4",
            "Manifest parses and names only safe paths",
            true,
            "12 entries".into(),
        ),
        (
            "5",
            "Not a rollback",
            active.is_none_or(|k| sequence > k.sequence),
            match active {
                Some(k) if sequence <= k.sequence => format!(
                    "sequence {sequence} is not newer than the active kit #{}",
                    k.sequence
                ),
                _ => format!(
                    "sequence {sequence} > last accepted {}",
                    active.map_or(0, |k| k.sequence)
                ),
            },
        ),
        (
            "6",
            "Not expired, clock not rolled back",
            true,
            format!("expires {}", kit.expires.date()),
        ),
        (
            "7",
            "Every entry matches its size and sha256",
            !content.contains("TAMPERED"),
            if content.contains("TAMPERED") {
                "entry osv/npm.jsonl.zst: sha256 mismatch".into()
            } else {
                "12 of 12 entries verified".into()
            },
        ),
        ("8", "Bound to this site", true, "site plant-7".into()),
        (
            "9",
            "Client tokens verified and re-signed",
            true,
            "3 tokens re-signed with the appliance key".into(),
        ),
    ];
    for (n, name, ok, detail) in steps {
        if !push(n, name, ok, detail) {
            break;
        }
    }
    (checks, Some(kit))
}

impl Console for FakeConsole {
    fn verify_login(
        &self,
        user: &str,
        password: &str,
        client_ip: Option<IpAddr>,
    ) -> Result<LoginOutcome, ConsoleError> {
        let mut st = self.state.lock();
        let keys = [
            format!("user:{user}"),
            format!(
                "ip:{}",
                client_ip.map_or_else(|| "unknown".into(), |i| i.to_string())
            ),
        ];
        if let Some(secs) = keys.iter().filter_map(|k| st.throttle_key_secs(k)).max() {
            st.record(user, "login", "throttled".into(), false);
            return Ok(LoginOutcome::Throttled {
                retry_after_secs: secs,
            });
        }
        let ok = st.users.iter().any(|(u, p)| u == user && p == password);
        if !ok {
            for k in keys {
                let f = st.failures.entry(k).or_insert(Failures {
                    count: 0,
                    last: Instant::now(),
                });
                f.count += 1;
                f.last = Instant::now();
            }
            st.record(user, "login", "wrong password".into(), false);
            return Ok(LoginOutcome::Invalid);
        }
        for k in &keys {
            st.failures.remove(k);
        }
        let session = Session {
            token: random_hex()?,
            user: user.into(),
            csrf: random_hex()?,
            expires: st.now + SESSION_LIFETIME,
        };
        st.sessions.insert(session.token.clone(), session.clone());
        st.record(user, "login", "session opened".into(), true);
        Ok(LoginOutcome::Success(session))
    }

    fn session(&self, token: &str) -> Result<Option<Session>, ConsoleError> {
        let st = self.state.lock();
        Ok(st
            .sessions
            .get(token)
            .filter(|s| s.expires > st.now)
            .cloned())
    }

    fn end_session(&self, token: &str) -> Result<(), ConsoleError> {
        let mut st = self.state.lock();
        if let Some(s) = st.sessions.remove(token) {
            st.record(&s.user, "logout", "session closed".into(), true);
        }
        Ok(())
    }

    fn dashboard(&self) -> Result<DashboardData, ConsoleError> {
        let st = self.state.lock();
        let views: Vec<ScanDetail> = st.scans.iter().map(|s| st.view(s)).collect();
        let new_criticals = views
            .iter()
            .filter(|v| v.scan.kit_sequence == st.kit.as_ref().map_or(0, |k| k.sequence))
            .flat_map(|v| {
                v.findings
                    .iter()
                    .filter(|f| f.finding.severity == Severity::Critical && f.muted.is_none())
                    .map(move |f| NewCritical {
                        scan_id: v.scan.id.clone(),
                        scan_name: v.scan.name.clone(),
                        advisory: f.finding.id.clone(),
                        package: f.finding.package.name.clone(),
                        version: f.finding.package.version.clone(),
                    })
            })
            .take(8)
            .collect();
        Ok(DashboardData {
            now: st.now,
            max_feed_age_days: st.max_feed_age_days,
            kit: st.kit.clone(),
            quotas: st
                .clients
                .iter()
                .map(|c| ClientQuota {
                    client_id: c.client_id.clone(),
                    used: c.used_today,
                    limit: c.max_scans_per_day,
                    token_expires: c.expires,
                })
                .collect(),
            recent_scans: views.iter().take(10).map(|v| v.scan.clone()).collect(),
            new_criticals,
        })
    }

    fn scans(&self, q: &ScanQuery) -> Result<ScanPage, ConsoleError> {
        let st = self.state.lock();
        let text = q.text.as_ref().map(|t| t.to_lowercase());
        let matching: Vec<ScanRow> = st
            .scans
            .iter()
            .map(|s| st.view(s).scan)
            .filter(|r| {
                text.as_ref().is_none_or(|t| {
                    r.name.to_lowercase().contains(t)
                        || r.image
                            .as_ref()
                            .is_some_and(|i| i.to_lowercase().contains(t))
                })
            })
            .filter(|r| q.verdict.is_none_or(|v| r.verdict == v))
            .filter(|r| q.from.is_none_or(|d| r.created.date() >= d))
            .filter(|r| q.to.is_none_or(|d| r.created.date() <= d))
            .collect();
        let per = q.per_page.max(1) as usize;
        let skip = (q.page.max(1) as usize - 1).saturating_mul(per);
        Ok(ScanPage {
            total: matching.len() as u64,
            rows: matching.into_iter().skip(skip).take(per).collect(),
        })
    }

    fn scan(&self, scan_id: &str) -> Result<Option<ScanDetail>, ConsoleError> {
        let st = self.state.lock();
        Ok(st
            .scans
            .iter()
            .find(|s| s.row.id == scan_id)
            .map(|s| st.view(s)))
    }

    fn download(
        &self,
        scan_id: &str,
        kind: DownloadKind,
    ) -> Result<Option<Download>, ConsoleError> {
        let Some(d) = self.scan(scan_id)? else {
            return Ok(None);
        };
        let body = format!(
            "{{\"fake\":true,\"scan_id\":\"{}\",\"findings_digest\":\"{}\"}}\n",
            d.scan.id, d.findings_digest
        );
        Ok(Some(match kind {
            DownloadKind::Evidence => Download {
                file_name: format!("{scan_id}.dsse.json"),
                content_type: "application/vnd.dsse.envelope.v1+json".into(),
                bytes: body.into_bytes(),
            },
            DownloadKind::Bundle => Download {
                file_name: format!("{scan_id}-evidence-bundle.json"),
                content_type: "application/json".into(),
                bytes: body.into_bytes(),
            },
        }))
    }

    fn policy(&self) -> Result<PolicyView, ConsoleError> {
        let st = self.state.lock();
        let current = st
            .policies
            .last()
            .ok_or_else(|| ConsoleError::Internal("no policy".into()))?;
        Ok(PolicyView {
            yaml: current.yaml.clone(),
            version: current.meta.version,
            history: st.policies.iter().rev().map(|p| p.meta.clone()).collect(),
        })
    }

    fn policy_version(&self, version: u32) -> Result<Option<PolicyVersionText>, ConsoleError> {
        Ok(self
            .state
            .lock()
            .policies
            .iter()
            .find(|p| p.meta.version == version)
            .cloned())
    }

    fn tokens(&self) -> Result<TokensView, ConsoleError> {
        let st = self.state.lock();
        Ok(TokensView {
            now: st.now,
            kit_sequence: st.kit.as_ref().map(|k| k.sequence),
            clients: st.clients.clone(),
        })
    }

    fn audit(&self, page: u32) -> Result<AuditView, ConsoleError> {
        let st = self.state.lock();
        let skip = (page.max(1) as usize - 1).saturating_mul(AUDIT_PER_PAGE as usize);
        Ok(AuditView {
            chain: ChainStatus {
                intact: true,
                records: st.audit.len() as u64,
                message: "Signed head matches the appliance key.".into(),
            },
            entries: st
                .audit
                .iter()
                .rev()
                .skip(skip)
                .take(AUDIT_PER_PAGE as usize)
                .cloned()
                .collect(),
            total: st.audit.len() as u64,
            per_page: AUDIT_PER_PAGE,
        })
    }

    fn imports(&self) -> Result<Vec<ImportRow>, ConsoleError> {
        Ok(self.state.lock().imports.clone())
    }

    fn mute(&self, request: &MuteRequest, actor: &str) -> Result<MuteRule, ConsoleError> {
        if request.reason.trim().is_empty() {
            return Err(ConsoleError::Invalid("a mute needs a reason".into()));
        }
        let mut st = self.state.lock();
        let rule = MuteRule {
            id: format!("mute-{}", st.next_id),
            request: request.clone(),
            created_by: actor.into(),
            created: st.now,
        };
        st.next_id += 1;
        st.mutes.push(rule.clone());
        st.record(
            actor,
            "mute",
            format!(
                "{} in {} ({}): {}",
                request.advisory,
                request.purl,
                request.scope.as_str(),
                request.reason
            ),
            true,
        );
        Ok(rule)
    }

    fn save_policy(&self, yaml: &str, author: &str) -> Result<PolicySave, ConsoleError> {
        let (errors, max_age) = check_policy(yaml);
        let mut st = self.state.lock();
        if !errors.is_empty() {
            st.record(
                author,
                "policy.save",
                format!("rejected: {} errors", errors.len()),
                false,
            );
            return Ok(PolicySave::Rejected(errors));
        }
        let version = st.policies.last().map_or(1, |p| p.meta.version + 1);
        let meta = PolicyVersion {
            version,
            author: author.into(),
            created: st.now,
            digest: hex::encode(Sha256::digest(yaml.as_bytes())),
        };
        st.policies.push(PolicyVersionText {
            meta,
            yaml: yaml.into(),
        });
        if let Some(n) = max_age {
            st.max_feed_age_days = n;
        }
        st.record(
            author,
            "policy.save",
            format!("policy version {version}"),
            true,
        );
        Ok(PolicySave::Saved { version })
    }

    fn import_kit(&self, upload: &KitUpload, actor: &str) -> Result<ImportReport, ConsoleError> {
        // Read at most 64 KiB: the fake only looks for marker words.
        let mut head = Vec::new();
        {
            use std::io::Read;
            let f = std::fs::File::open(&upload.kit)
                .map_err(|e| ConsoleError::Internal(Box::new(e)))?;
            f.take(64 * 1024)
                .read_to_end(&mut head)
                .map_err(|e| ConsoleError::Internal(Box::new(e)))?;
        }
        let content = String::from_utf8_lossy(&head);
        let mut st = self.state.lock();
        let (checks, kit) = kit_checks(upload, &content, st.kit.as_ref(), st.now);
        let passed = checks.iter().all(|c| c.passed);
        let failed = checks.iter().find(|c| !c.passed);
        let import_id = passed.then(|| format!("imp-{}", st.next_id));
        st.next_id += 1;
        let row = ImportRow {
            at: st.now,
            actor: actor.into(),
            file_name: upload.original_name.clone(),
            sequence: kit.as_ref().map(|k| k.sequence),
            status: if passed {
                ImportStatus::Staged
            } else {
                ImportStatus::Refused
            },
            reason: failed.map_or_else(
                || format!("all {} checks passed", checks.len()),
                |c| format!("check {} ({}): {}", c.number, c.name, c.detail),
            ),
        };
        st.record(actor, "import", row.reason.clone(), passed);
        st.imports.insert(0, row);
        if let (Some(id), Some(k)) = (&import_id, &kit) {
            st.staged.insert(id.clone(), k.clone());
        }
        Ok(ImportReport {
            import_id,
            kit,
            checks,
        })
    }

    fn activate_kit(&self, import_id: &str, actor: &str) -> Result<KitInfo, ConsoleError> {
        let mut st = self.state.lock();
        let Some(mut kit) = st.staged.remove(import_id) else {
            return Err(ConsoleError::NotFound {
                what: format!("staged import {import_id}"),
            });
        };
        if st.kit.as_ref().is_some_and(|k| k.sequence >= kit.sequence) {
            return Err(ConsoleError::Conflict(format!(
                "kit #{} is no longer newer than the active kit",
                kit.sequence
            )));
        }
        kit.activated = Some(st.now);
        st.kit = Some(kit.clone());
        if let Some(row) = st
            .imports
            .iter_mut()
            .find(|r| r.status == ImportStatus::Staged && r.sequence == Some(kit.sequence))
        {
            row.status = ImportStatus::Activated;
        }
        st.record(
            actor,
            "activate",
            format!("kit #{} activated", kit.sequence),
            true,
        );
        Ok(kit)
    }

    fn revoke(
        &self,
        target: RevokeTarget,
        id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<(), ConsoleError> {
        let mut st = self.state.lock();
        let now = st.now;
        let mut found = false;
        for c in &mut st.clients {
            match target {
                RevokeTarget::Client if c.client_id == id => {
                    found = true;
                    c.revoked.get_or_insert(RevocationInfo {
                        by: actor.into(),
                        reason: reason.into(),
                        at: now,
                    });
                }
                RevokeTarget::Token if c.token_id.as_deref() == Some(id) => {
                    found = true;
                    c.token_revoked = true;
                }
                _ => {}
            }
        }
        if !found {
            return Err(ConsoleError::NotFound {
                what: format!("{} {id}", target.as_str()),
            });
        }
        st.record(
            actor,
            "revocation.add",
            format!("{} {id}: {reason}", target.as_str()),
            true,
        );
        Ok(())
    }

    fn lift_revocation(
        &self,
        target: RevokeTarget,
        id: &str,
        actor: &str,
    ) -> Result<(), ConsoleError> {
        let mut st = self.state.lock();
        let mut found = false;
        for c in &mut st.clients {
            match target {
                RevokeTarget::Client if c.client_id == id && c.revoked.is_some() => {
                    found = true;
                    c.revoked = None;
                }
                RevokeTarget::Token if c.token_id.as_deref() == Some(id) && c.token_revoked => {
                    found = true;
                    c.token_revoked = false;
                }
                _ => {}
            }
        }
        if !found {
            return Err(ConsoleError::NotFound {
                what: format!("revocation of {} {id}", target.as_str()),
            });
        }
        st.record(
            actor,
            "revocation.lift",
            format!("{} {id}", target.as_str()),
            true,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_policy_checker_points_at_lines() {
        let (e, age) = check_policy("fail_on: hihg\nmax_feed_age_days: 9\nbogus: 1\n\tx: 1\n");
        let lines: Vec<u32> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 3, 4]);
        assert_eq!(age, Some(9));
        assert!(check_policy(DEFAULT_POLICY).0.is_empty());
    }
}
