//! Optional Rego rules of a policy, for what the YAML mute rules cannot say.
//!
//! The policy document may carry one Rego module in its `rego:` field. It is part of the
//! same YAML text, so it is versioned, digested into evidence, audited and replayed
//! exactly like the mute rules. It is compiled (with [`regorus`]) when the policy is
//! parsed or validated: a module that does not parse, does not declare `package stella`,
//! declares neither `mute` nor `deny`, or is too large is refused with a
//! [`RegoError`] naming the line and column, so `PUT /api/v1/policy` answers 400.
//!
//! ```yaml
//! fail_on: critical
//! rego: |
//!   package stella
//!
//!   # Low and medium npm findings are noise for this team.
//!   mute := "npm low/medium accepted by the web team" if {
//!     input.package.ecosystem == "npm"
//!     input.severity in {"low", "medium"}
//!   }
//!
//!   # Nothing without a fix may ship in the production layer.
//!   deny contains msg if {
//!     count(input.fixed_versions) == 0
//!     input.layer == "sha256:…"
//!     msg := sprintf("%s in %s has no fix", [input.id, input.package.name])
//!   }
//! ```
//!
//! # Semantics
//!
//! The module is evaluated once per finding that no YAML mute rule mutes (YAML rules win),
//! and only when a module is present (a policy without one costs nothing). `input` is the
//! finding: `id`, `aliases`, `severity` (`critical|high|medium|low|unknown`),
//! `package{name,version,purl,ecosystem}`, `fixed_versions`, `layer`, `path`, `undecided`
//! (true when the engine could not decide the version against the ranges), and
//! `input.scan` = `{sbom_name, components, kit_sequence, kit_age_days}`.
//!
//! - `mute` (a non-empty string): the finding is muted with the reason `rego: <mute>`; it
//!   stays in the results (`muted: true`) and its `deny` is not evaluated (a muted finding
//!   never fails a verdict).
//! - `deny` (a set of strings): any entry fails the verdict even when no severity reaches
//!   `fail_on`; each distinct message becomes a scan warning `policy deny: <msg>`.
//! - Any other value, or a runtime error (a conflict, a type error, an unknown function,
//!   the time limit), is an error *for that finding*: it is not muted, the verdict fails
//!   (fail closed: a crafted SBOM must not dodge a `deny` by making the rules error), and a
//!   warning names the finding and the error.
//!
//! No builtin here reaches the network, the clock, randomness or the environment
//! (regorus is built without its `http`, `time`, `opa-runtime` and `rand` features), so the
//! same SBOM, kit and policy give the same answer: replay reproduces the verdict.
//!
//! # Limits (the module is operator-written, the input is untrusted)
//!
//! - The module is at most [`MAX_REGO_BYTES`] and [`MAX_REGO_LINES`] lines; regorus
//!   refuses nesting deeper than 32.
//! - `numbers.range` and `numbers.range_step` are refused: they build their whole array in
//!   one builtin call, which no time limit can interrupt (a mistaken bound could take all
//!   memory).
//! - Each finding's evaluation is stopped after [`EVAL_LIMIT_PER_FINDING`], and one scan
//!   spends at most [`EVAL_BUDGET_PER_SCAN`] in Rego; findings left when the budget is
//!   spent are errors (so a pathological module fails scans quickly and loudly instead of
//!   hanging them). Time is checked between evaluation steps, so a single builtin call
//!   (a huge `sprintf` width, say) can overrun it; regorus cannot bound memory without
//!   replacing the process allocator, which we do not do.
//! - Compilation and evaluation run on their own thread with a [`STACK_BYTES`] stack:
//!   regorus recurses once per rule-to-rule reference, and a 16 KiB module can chain
//!   ~1,800 rules, which needs ~60 MiB of stack in a debug build (measured). The stack is
//!   reserved, not committed: only the pages used cost memory.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};
use serde::Serialize;

/// Largest Rego module accepted (bytes).
pub const MAX_REGO_BYTES: usize = 16 * 1024;
/// Most lines in a Rego module.
pub const MAX_REGO_LINES: usize = 1_000;
/// Longest evaluation of one finding.
pub const EVAL_LIMIT_PER_FINDING: Duration = Duration::from_millis(100);
/// Most time one scan spends evaluating Rego.
pub const EVAL_BUDGET_PER_SCAN: Duration = Duration::from_secs(2);
/// Stack of the thread that compiles and evaluates (see the module doc).
pub const STACK_BYTES: usize = 256 * 1024 * 1024;
/// Longest `mute` reason or `deny` message kept (longer ones are cut).
pub const MAX_MESSAGE: usize = super::MAX_FIELD;
/// The package the module must declare.
pub const PACKAGE: &str = "stella";

/// The file name regorus reports locations against.
const SOURCE_NAME: &str = "policy.rego";
/// Builtins refused at compile time (see the module doc).
const REFUSED_BUILTINS: &[&str] = &["numbers.range", "numbers.range_step"];

/// Why a Rego module was refused, or why evaluating it failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegoError {
    /// The module is larger than [`MAX_REGO_BYTES`] or longer than [`MAX_REGO_LINES`].
    #[error(
        "the module is {size} bytes in {lines} lines, more than the limit of {max_bytes} bytes / {max_lines} lines"
    )]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// Lines received.
        lines: usize,
        /// Byte limit.
        max_bytes: usize,
        /// Line limit.
        max_lines: usize,
    },
    /// The module does not parse or does not compile.
    #[error("{}{message}", location(*line, *column))]
    Syntax {
        /// 1-based line, when regorus names one.
        line: Option<u32>,
        /// 1-based column, when regorus names one.
        column: Option<u32>,
        /// What is wrong.
        message: String,
    },
    /// The module declares another package.
    #[error("the module declares package `{found}`; it must declare `package {PACKAGE}`")]
    Package {
        /// The package declared (`data.` prefix removed).
        found: String,
    },
    /// The module declares neither a `mute` nor a `deny` rule.
    #[error("the module declares neither a `mute` nor a `deny` rule, so it would do nothing")]
    NoRules,
    /// The module calls a builtin that is refused.
    #[error(
        "line {line}: `{builtin}` is not allowed (it builds its whole result in one step, beyond the evaluation time limit)"
    )]
    RefusedBuiltin {
        /// The builtin.
        builtin: &'static str,
        /// 1-based line.
        line: usize,
    },
    /// Evaluation failed (runtime error, time limit, a rule of the wrong type).
    #[error("{0}")]
    Eval(String),
    /// The evaluation thread could not run.
    #[error("the Rego evaluation thread failed: {0}")]
    Thread(String),
}

fn location(line: Option<u32>, column: Option<u32>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: "),
        (Some(l), None) => format!("line {l}: "),
        _ => String::new(),
    }
}

/// The scan facts every finding's `input.scan` carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScanFacts {
    /// The SBOM's own name (its root component), if it has one.
    pub sbom_name: Option<String>,
    /// Components in the SBOM.
    pub components: u64,
    /// Sequence of the kit scanned against.
    pub kit_sequence: u64,
    /// Whole days between the kit's creation and the scan.
    pub kit_age_days: i64,
}

/// The package part of [`RegoFinding`].
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RegoPackage<'a> {
    /// Component name.
    pub name: &'a str,
    /// Installed version.
    pub version: &'a str,
    /// purl, if any.
    pub purl: Option<&'a str>,
    /// OSV ecosystem.
    pub ecosystem: &'a str,
}

/// One finding as `input` shows it (plus `input.scan`).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RegoFinding<'a> {
    /// Advisory id.
    pub id: &'a str,
    /// Its aliases.
    pub aliases: &'a [String],
    /// `critical|high|medium|low|unknown`.
    pub severity: &'a str,
    /// The component.
    pub package: RegoPackage<'a>,
    /// Versions that fix it (empty: no fix).
    pub fixed_versions: &'a [String],
    /// Layer digest, when known.
    pub layer: Option<&'a str>,
    /// Path, when known.
    pub path: Option<&'a str>,
    /// The engine could not decide the version against the advisory's ranges.
    pub undecided: bool,
}

/// What the module says about one finding.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Neither muted nor denied.
    Pass,
    /// Muted; the reason is already prefixed `rego: `.
    Mute(String),
    /// Denied with these messages (sorted, distinct, non-empty).
    Deny(Vec<String>),
    /// Evaluation failed: not muted, and the verdict fails.
    Error(RegoError),
}

/// One compiled Rego module: its source text (what is stored, digested and compared) and
/// the prepared engine.
#[derive(Clone)]
pub struct RegoModule {
    source: String,
    compiled: Result<Compiled, RegoError>,
}

#[derive(Clone)]
struct Compiled {
    engine: Engine,
    has_mute: bool,
    has_deny: bool,
}

impl std::fmt::Debug for RegoModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegoModule")
            .field("bytes", &self.source.len())
            .field("compiled", &self.compiled.as_ref().map(|_| ()))
            .finish()
    }
}

/// Two modules are the same when their text is.
impl PartialEq for RegoModule {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for RegoModule {}

impl Serialize for RegoModule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

/// Deserialising compiles; a module that does not compile is kept with its error, which
/// [`RegoModule::check`] (called by [`super::Policy::validate`]) reports as a
/// [`super::PolicyError`] rather than a bare YAML error.
impl<'de> serde::Deserialize<'de> for RegoModule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

impl RegoModule {
    /// Compiles `source` (never fails: see [`RegoModule::check`]).
    pub fn new(source: String) -> Self {
        let compiled = compile_on_big_stack(&source);
        Self { source, compiled }
    }

    /// The module text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Why the module was refused, if it was.
    pub fn check(&self) -> Result<(), RegoError> {
        self.compiled.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// Evaluates the module over `findings` (see the module doc). Returns one decision per
    /// finding, in order. Runs on its own thread; never panics.
    pub fn evaluate(&self, scan: &ScanFacts, findings: &[RegoFinding<'_>]) -> Vec<Decision> {
        let compiled = match &self.compiled {
            Ok(c) => c,
            Err(e) => return vec![Decision::Error(e.clone()); findings.len()],
        };
        let run = || evaluate_all(compiled, scan, findings);
        match on_big_stack(run) {
            Ok(d) => d,
            Err(e) => vec![Decision::Error(e); findings.len()],
        }
    }
}

/// Runs `f` on a thread with a [`STACK_BYTES`] stack (see the module doc).
fn on_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, RegoError> {
    std::thread::scope(|s| {
        let h = std::thread::Builder::new()
            .name("stella-rego".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(s, f)
            .map_err(|e| RegoError::Thread(e.to_string()))?;
        h.join()
            .map_err(|_| RegoError::Thread("the evaluation panicked".into()))
    })
}

fn compile_on_big_stack(source: &str) -> Result<Compiled, RegoError> {
    precheck(source)?;
    on_big_stack(|| compile(source))?
}

/// The cheap checks that come before regorus sees the text.
fn precheck(source: &str) -> Result<(), RegoError> {
    let lines = source.lines().count();
    if source.len() > MAX_REGO_BYTES || lines > MAX_REGO_LINES {
        return Err(RegoError::TooLarge {
            size: source.len(),
            lines,
            max_bytes: MAX_REGO_BYTES,
            max_lines: MAX_REGO_LINES,
        });
    }
    for (line, code) in code_words(source) {
        if let Some(b) = REFUSED_BUILTINS.iter().find(|b| **b == code) {
            return Err(RegoError::RefusedBuiltin { builtin: b, line });
        }
    }
    Ok(())
}

/// The dotted words (`numbers.range`) outside strings and comments, with their line.
fn code_words(source: &str) -> Vec<(usize, &str)> {
    let b = source.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0usize, 1usize);
    while i < b.len() {
        match b[i] {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    line += usize::from(b[i] == b'\n');
                    i += 1;
                }
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.')
                {
                    i += 1;
                }
                if let Some(w) = source.get(start..i) {
                    out.push((line, w));
                }
            }
            _ => i += 1,
        }
    }
    out
}

fn compile(source: &str) -> Result<Compiled, RegoError> {
    let mut engine = Engine::new();
    let package = engine
        .add_policy(SOURCE_NAME.to_owned(), source.to_owned())
        .map_err(|e| syntax(&e.to_string()))?;
    let package = package.strip_prefix("data.").unwrap_or(&package);
    if package != PACKAGE {
        return Err(RegoError::Package {
            found: package.to_owned(),
        });
    }
    let declared = |rule: &str| {
        engine
            .has_declared_rule_rooted_at(SOURCE_NAME, rule)
            .map_err(|e| syntax(&e.to_string()))
    };
    let has_mute = declared("mute")?;
    let has_deny = declared("deny")?;
    if !has_mute && !has_deny {
        return Err(RegoError::NoRules);
    }
    // Preparing the engine runs regorus' static analysis (unsafe variables, rule
    // scheduling) now, once, instead of on the first scan; clones stay prepared.
    let entry = if has_mute {
        "data.stella.mute"
    } else {
        "data.stella.deny"
    };
    engine
        .compile_with_entrypoint(&entry.into())
        .map_err(|e| syntax(&e.to_string()))?;
    Ok(Compiled {
        engine,
        has_mute,
        has_deny,
    })
}

/// Reads regorus' `--> policy.rego:LINE:COL … error: MESSAGE` text.
fn syntax(text: &str) -> RegoError {
    let (mut line, mut column) = (None, None);
    if let Some(at) = text.find("--> ") {
        let loc = text[at + 4..].lines().next().unwrap_or("");
        let mut parts = loc.rsplitn(3, ':');
        column = parts.next().and_then(|c| c.trim().parse().ok());
        line = parts.next().and_then(|l| l.trim().parse().ok());
        if line.is_none() {
            column = None;
        }
    }
    let message = match text.rfind("error: ") {
        Some(at) => text[at + 7..].trim().to_owned(),
        None => text.trim().to_owned(),
    };
    RegoError::Syntax {
        line,
        column,
        message: clip(&message),
    }
}

/// One line, control characters replaced, at most [`MAX_MESSAGE`] bytes.
fn clip(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_MESSAGE));
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > MAX_MESSAGE {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

fn runtime(e: &dyn std::fmt::Display) -> RegoError {
    let text = e.to_string();
    match syntax(&text) {
        RegoError::Syntax {
            line: Some(l),
            column,
            message,
        } => RegoError::Eval(format!("{}{message}", location(Some(l), column))),
        _ => RegoError::Eval(clip(text.trim())),
    }
}

fn evaluate_all(c: &Compiled, scan: &ScanFacts, findings: &[RegoFinding<'_>]) -> Vec<Decision> {
    let mut engine = c.engine.clone();
    let scan_value = match serde_json::to_value(scan) {
        Ok(v) => v,
        Err(e) => return vec![Decision::Error(RegoError::Eval(e.to_string())); findings.len()],
    };
    let started = Instant::now();
    let mut out = Vec::with_capacity(findings.len());
    for f in findings {
        let left = EVAL_BUDGET_PER_SCAN.saturating_sub(started.elapsed());
        if left.is_zero() {
            out.push(Decision::Error(RegoError::Eval(format!(
                "not evaluated: the scan's Rego budget of {} ms is spent",
                EVAL_BUDGET_PER_SCAN.as_millis()
            ))));
            continue;
        }
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: left.min(EVAL_LIMIT_PER_FINDING),
            // Reading the clock every 16 steps keeps its cost small while overruns stay
            // well under a millisecond.
            check_interval: NonZeroU32::MIN.saturating_add(15),
        });
        out.push(decide(&mut engine, c, &scan_value, f));
    }
    out
}

fn decide(
    engine: &mut Engine,
    c: &Compiled,
    scan: &serde_json::Value,
    f: &RegoFinding<'_>,
) -> Decision {
    let mut input = match serde_json::to_value(f) {
        Ok(v) => v,
        Err(e) => return Decision::Error(RegoError::Eval(e.to_string())),
    };
    if let Some(o) = input.as_object_mut() {
        o.insert("scan".into(), scan.clone());
    }
    engine.set_input(Value::from(input));
    if c.has_mute {
        match engine.eval_rule("data.stella.mute".into()) {
            Ok(Value::Undefined) => {}
            Ok(Value::String(s)) if !s.trim().is_empty() => {
                return Decision::Mute(clip(&format!("rego: {}", s.trim())));
            }
            Ok(other) => {
                return Decision::Error(RegoError::Eval(format!(
                    "`mute` must be a non-empty string, not {}",
                    clip(&other.to_string())
                )));
            }
            Err(e) => return Decision::Error(runtime(&e)),
        }
    }
    if c.has_deny {
        let v = match engine.eval_rule("data.stella.deny".into()) {
            Ok(v) => v,
            Err(e) => return Decision::Error(runtime(&e)),
        };
        let items: Vec<&Value> = match &v {
            Value::Undefined => Vec::new(),
            Value::Set(s) => s.iter().collect(),
            Value::Array(a) => a.iter().collect(),
            other => {
                return Decision::Error(RegoError::Eval(format!(
                    "`deny` must be a set of strings, not {}",
                    clip(&other.to_string())
                )));
            }
        };
        let mut msgs = BTreeSet::new();
        for item in items {
            match item {
                Value::String(s) if !s.trim().is_empty() => {
                    msgs.insert(clip(s.trim()));
                }
                other => {
                    return Decision::Error(RegoError::Eval(format!(
                        "`deny` entries must be non-empty strings, not {}",
                        clip(&other.to_string())
                    )));
                }
            }
        }
        if !msgs.is_empty() {
            return Decision::Deny(msgs.into_iter().collect());
        }
    }
    Decision::Pass
}

/// Most deny messages and errors listed one by one in a scan's warnings.
pub const MAX_LISTED: usize = 20;

/// Collects the deny messages and errors of one scan into its warnings.
#[derive(Debug, Default)]
pub struct Report {
    deny: BTreeSet<String>,
    errors: Vec<String>,
    more_errors: usize,
}

impl Report {
    /// Records `d` for the finding `id` of package `package`; returns whether it fails the
    /// verdict (a deny or an error).
    pub fn record(&mut self, id: &str, package: &str, d: &Decision) -> bool {
        match d {
            Decision::Pass | Decision::Mute(_) => false,
            Decision::Deny(msgs) => {
                self.deny.extend(msgs.iter().cloned());
                true
            }
            Decision::Error(e) => {
                if self.errors.len() < MAX_LISTED {
                    self.errors.push(format!(
                        "policy rego error on {} in {}: {e} (the finding is not muted and fails the verdict)",
                        clip(id),
                        clip(package)
                    ));
                } else {
                    self.more_errors += 1;
                }
                true
            }
        }
    }

    /// The warnings: each distinct deny message (sorted), then the errors.
    pub fn into_warnings(self) -> Vec<String> {
        let total = self.deny.len();
        let mut out: Vec<String> = self
            .deny
            .into_iter()
            .take(MAX_LISTED)
            .map(|m| format!("policy deny: {m}"))
            .collect();
        if total > MAX_LISTED {
            out.push(format!(
                "policy deny: {} more distinct messages",
                total - MAX_LISTED
            ));
        }
        out.extend(self.errors);
        if self.more_errors > 0 {
            out.push(format!(
                "policy rego errors on {} more findings",
                self.more_errors
            ));
        }
        out
    }
}

impl<'a> RegoFinding<'a> {
    /// The input of `f`.
    pub fn of(f: &'a bundles::model::Finding) -> Self {
        Self {
            id: &f.id,
            aliases: &f.aliases,
            severity: f.severity.as_str(),
            package: RegoPackage {
                name: &f.package.name,
                version: &f.package.version,
                purl: f.package.purl.as_deref(),
                ecosystem: &f.package.ecosystem,
            },
            fixed_versions: &f.fixed_versions,
            layer: f.layer.as_deref(),
            path: f.path.as_deref(),
            undecided: f.undecided,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, PolicyError};

    fn finding<'a>(
        id: &'a str,
        severity: &'a str,
        ecosystem: &'a str,
        fixed: &'a [String],
        layer: Option<&'a str>,
    ) -> RegoFinding<'a> {
        RegoFinding {
            id,
            aliases: &[],
            severity,
            package: RegoPackage {
                name: "pkg",
                version: "1.0.0",
                purl: None,
                ecosystem,
            },
            fixed_versions: fixed,
            layer,
            path: None,
            undecided: false,
        }
    }

    fn module(src: &str) -> RegoModule {
        let m = RegoModule::new(src.to_owned());
        m.check().expect("module compiles");
        m
    }

    fn policy_with(rego: &str) -> Result<Policy, PolicyError> {
        let mut yaml = String::from("fail_on: critical\nrego: |\n");
        for l in rego.lines() {
            yaml.push_str("  ");
            yaml.push_str(l);
            yaml.push('\n');
        }
        Policy::from_yaml(&yaml)
    }

    const PROD: &str = "sha256:prod";

    #[test]
    fn mutes_a_severity_and_ecosystem_combination() {
        let m = module(
            "package stella\n\
             mute := \"npm low/medium accepted\" if {\n\
               input.package.ecosystem == \"npm\"\n\
               input.severity in {\"low\", \"medium\"}\n\
             }\n",
        );
        let fix = ["2.0.0".to_owned()];
        let fs = [
            finding("A", "low", "npm", &fix, None),
            finding("B", "medium", "npm", &fix, None),
            finding("C", "high", "npm", &fix, None),
            finding("D", "low", "PyPI", &fix, None),
        ];
        let d = m.evaluate(&ScanFacts::default(), &fs);
        let muted = Decision::Mute("rego: npm low/medium accepted".into());
        assert_eq!(
            d,
            vec![muted.clone(), muted, Decision::Pass, Decision::Pass]
        );
    }

    #[test]
    fn denies_a_finding_without_fix_in_the_production_layer() {
        let m = module(
            "package stella\n\
             deny contains msg if {\n\
               count(input.fixed_versions) == 0\n\
               input.layer == \"sha256:prod\"\n\
               msg := sprintf(\"%s has no fix in production (%s)\", [input.id, input.scan.sbom_name])\n\
             }\n",
        );
        let fix = ["2.0.0".to_owned()];
        let fs = [
            finding("A", "low", "npm", &[], Some(PROD)),
            finding("B", "low", "npm", &fix, Some(PROD)),
            finding("C", "low", "npm", &[], Some("sha256:dev")),
            finding("D", "low", "npm", &[], None),
        ];
        let scan = ScanFacts {
            sbom_name: Some("shop".into()),
            ..ScanFacts::default()
        };
        let d = m.evaluate(&scan, &fs);
        assert_eq!(
            d,
            vec![
                Decision::Deny(vec!["A has no fix in production (shop)".into()]),
                Decision::Pass,
                Decision::Pass,
                Decision::Pass
            ]
        );
    }

    #[test]
    fn scan_facts_reach_the_rules() {
        let m =
            module("package stella\ndeny contains \"old kit\" if input.scan.kit_age_days > 7\n");
        let fs = [finding("A", "low", "npm", &[], None)];
        let old = ScanFacts {
            kit_age_days: 8,
            ..ScanFacts::default()
        };
        assert_eq!(
            m.evaluate(&old, &fs),
            vec![Decision::Deny(vec!["old kit".into()])]
        );
        assert_eq!(m.evaluate(&ScanFacts::default(), &fs), vec![Decision::Pass]);
    }

    #[test]
    fn compile_errors_name_line_and_column() {
        let e = policy_with("package stella\nmute := \"x\" if {\n  input.severity ==\n}\n")
            .expect_err("syntax error");
        match &e {
            PolicyError::Rego(RegoError::Syntax {
                line: Some(4),
                column: Some(1),
                message,
            }) => assert!(message.contains("expect"), "{message}"),
            other => panic!("wrong error: {other:?}"),
        }
        assert!(e.to_string().contains("line 4, column 1"), "{e}");
        // An unsafe variable is found by the static analysis, at compile time too.
        let e =
            policy_with("package stella\nmute := \"x\" if input.id == y\n").expect_err("unsafe");
        assert!(
            matches!(
                e,
                PolicyError::Rego(RegoError::Syntax { line: Some(2), .. })
            ),
            "{e:?}"
        );
    }

    #[test]
    fn modules_outside_package_stella_or_without_rules_are_refused() {
        let e = policy_with("package other\nmute := \"x\"\n").expect_err("package");
        assert!(
            matches!(&e, PolicyError::Rego(RegoError::Package { found }) if found == "other"),
            "{e:?}"
        );
        assert!(e.to_string().contains("package stella"), "{e}");
        let e = policy_with("package stella.sub\nmute := \"x\"\n").expect_err("sub package");
        assert!(
            matches!(e, PolicyError::Rego(RegoError::Package { .. })),
            "{e:?}"
        );
        let e = policy_with("package stella\nallow := true\n").expect_err("no rules");
        assert!(matches!(e, PolicyError::Rego(RegoError::NoRules)), "{e:?}");
    }

    #[test]
    fn size_and_refused_builtins() {
        let big = format!(
            "package stella\nmute := \"x\" if false\n{}",
            "# pad\n".repeat(3_000)
        );
        let e = RegoModule::new(big).check().expect_err("too large");
        assert!(matches!(e, RegoError::TooLarge { .. }), "{e:?}");
        let e = RegoModule::new(
            "package stella\ndeny contains x if { some x in numbers.range(1, 1000000000) }\n"
                .into(),
        )
        .check()
        .expect_err("range");
        assert_eq!(
            e,
            RegoError::RefusedBuiltin {
                builtin: "numbers.range",
                line: 2
            }
        );
        // The same words in a string or a comment are not calls.
        module("package stella\n# numbers.range is refused\nmute := \"numbers.range\" if false\n");
    }

    #[test]
    fn runtime_errors_are_errors_of_the_finding() {
        let m = module(
            "package stella\n\
             mute := 1 if input.id == \"NUM\"\n\
             mute := concat(\",\", input.severity) if input.id == \"TYPE\"\n\
             deny contains 5 if input.id == \"DENYNUM\"\n",
        );
        let fs = [
            finding("NUM", "low", "npm", &[], None),
            finding("TYPE", "low", "npm", &[], None),
            finding("DENYNUM", "low", "npm", &[], None),
            finding("OK", "low", "npm", &[], None),
        ];
        let d = m.evaluate(&ScanFacts::default(), &fs);
        for (i, want) in ["non-empty string", "concat", "non-empty strings"]
            .iter()
            .enumerate()
        {
            match &d[i] {
                Decision::Error(RegoError::Eval(msg)) => assert!(msg.contains(want), "{msg}"),
                other => panic!("finding {i}: {other:?}"),
            }
        }
        assert_eq!(d[3], Decision::Pass);
        let mut r = Report::default();
        assert!(r.record("NUM", "pkg", &d[0]));
        assert!(!r.record("OK", "pkg", &d[3]));
        let w = r.into_warnings();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("policy rego error on NUM in pkg: "),
            "{w:?}"
        );
    }

    #[test]
    fn a_pathological_module_is_stopped_by_the_time_limits() {
        // 20^8 combinations: hours of work without the limit.
        let m = module(
            "package stella\n\
             a := [i | some i in [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]]\n\
             b := [[i, j] | some i in a; some j in a]\n\
             c := [[i, j] | some i in b; some j in b]\n\
             d := [[i, j] | some i in c; some j in c]\n\
             mute := \"never\" if count(d) < 0\n",
        );
        let fs: Vec<RegoFinding<'_>> = (0..40)
            .map(|_| finding("A", "low", "npm", &[], None))
            .collect();
        let t = Instant::now();
        let d = m.evaluate(&ScanFacts::default(), &fs);
        let took = t.elapsed();
        assert!(
            took < EVAL_BUDGET_PER_SCAN + Duration::from_secs(2),
            "took {took:?}"
        );
        assert!(d.iter().all(|d| matches!(d, Decision::Error(_))), "{d:?}");
        let budget = d
            .iter()
            .filter(|d| matches!(d, Decision::Error(RegoError::Eval(m)) if m.contains("budget")))
            .count();
        assert!(budget > 0, "the scan budget ends the evaluation: {d:?}");
    }

    #[test]
    fn long_rule_chains_do_not_overflow_the_stack() {
        // About the deepest chain the line limit allows: regorus recurses once per link
        // (~30 KiB of stack each in a debug build: this overflows a 2 MiB thread).
        let mut src = String::from("package stella\nr0 := \"deep\"\n");
        for i in 1..990 {
            src.push_str(&format!("r{i} := r{}\n", i - 1));
        }
        src.push_str("mute := r989\n");
        let m = module(&src);
        let d = m.evaluate(
            &ScanFacts::default(),
            &[finding("A", "low", "npm", &[], None)],
        );
        // A debug build may spend more than the per-finding limit walking the chain.
        assert!(
            matches!(&d[0], Decision::Mute(r) if r == "rego: deep")
                || matches!(&d[0], Decision::Error(RegoError::Eval(m)) if m.contains("time limit")),
            "{d:?}"
        );
    }

    #[test]
    fn recursion_is_refused_or_an_error_not_a_crash() {
        // regorus compiles the cycle (it is found at evaluation): the module is accepted,
        // and evaluating it is an error decision for the finding, never a stack overflow.
        let m = RegoModule::new("package stella\na := b\nb := a\nmute := a\n".into());
        assert!(m.check().is_ok(), "{:?}", m.check());
        let d = m.evaluate(
            &ScanFacts::default(),
            &[finding("A", "low", "npm", &[], None)],
        );
        match &d[..] {
            [Decision::Error(RegoError::Eval(msg))] => assert!(!msg.is_empty()),
            other => panic!("expected one error decision, got {other:?}"),
        }
    }

    #[test]
    fn the_module_round_trips_through_yaml_and_compares_by_text() {
        let p = policy_with("package stella\nmute := \"x\" if input.severity == \"low\"\n")
            .expect("valid");
        let text = p.to_yaml().expect("yaml");
        let back = Policy::from_yaml(&text).expect("reparse");
        assert_eq!(back, p);
        assert_eq!(
            back.rego.as_ref().map(RegoModule::source),
            Some("package stella\nmute := \"x\" if input.severity == \"low\"\n")
        );
    }
}
