//! The boundary between the service and the matcher: [`Scanner`] turns a parsed SBOM into
//! findings. The service applies the policy, signs and stores; it never looks inside the
//! matcher, so a site plug-in (another engine, a remote-free enterprise matcher) slots in
//! by implementing this trait. The default is the [`Engine`] over the active kit's
//! advisory index.

use std::path::Path;
use std::sync::Arc;

use crate::index::{AdvisoryIndex, IndexLimits};

use crate::engine::{ENGINE_VERSION, Engine, ScanOutcome};
use crate::sbom::Sbom;

/// Turns an SBOM into findings.
pub trait Scanner: Send + Sync {
    /// Matches every component of `sbom` against the kit's advisories. Findings come
    /// back in canonical order, unmuted.
    fn scan(&self, sbom: &Sbom) -> ScanOutcome;
    /// The matcher's version (recorded in evidence for replay).
    fn version(&self) -> &str;
    /// How many advisories are loaded.
    fn advisories(&self) -> usize;
}

impl Scanner for Engine {
    fn scan(&self, sbom: &Sbom) -> ScanOutcome {
        Engine::scan(self, sbom)
    }

    fn version(&self) -> &str {
        ENGINE_VERSION
    }

    fn advisories(&self) -> usize {
        self.index().len()
    }
}

/// Loads the engine over the advisories of an unpacked kit content directory
/// (`<kit>/content`, holding `advisories/*.jsonl`). A kit without advisories gives an
/// empty engine (every scan passes, with nothing to match).
pub fn load_engine(content_dir: &Path) -> Result<Arc<dyn Scanner>, String> {
    let index = if content_dir.join("advisories").is_dir() {
        // Record details go to an unlinked file beside the kit's advisories (the page
        // cache serves the few a scan reads); a read-only kit keeps them in memory.
        let index = AdvisoryIndex::from_jsonl_dir(
            content_dir,
            &IndexLimits::default().spill_dir(content_dir),
        )
        .map_err(|e| e.to_string())?;
        let in_memory = index.details_in_memory();
        if in_memory > 0 {
            tracing::warn!(
                dir = %content_dir.display(),
                bytes = in_memory,
                "could not write the index's details file beside the kit; record details stay in memory (more RSS)"
            );
        }
        index
    } else {
        AdvisoryIndex::from_advisories(Vec::new())
    };
    Ok(Arc::new(Engine::new(Arc::new(index))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_behind_the_trait_matches_the_kit_advisories() {
        let dir = tempfile::tempdir().expect("tmp");
        let adv = dir.path().join("advisories");
        std::fs::create_dir_all(&adv).expect("mkdir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/feeds/osv/npm");
        let mut advs = Vec::new();
        for e in std::fs::read_dir(&root).expect("sample feed") {
            let bytes = std::fs::read(e.expect("entry").path()).expect("read");
            advs.push(bundles::model::Advisory::from_osv_json(&bytes).expect("valid"));
        }
        let mut out = Vec::new();
        bundles::model::write_jsonl(&mut out, advs.iter()).expect("jsonl");
        std::fs::write(adv.join("npm.jsonl"), out).expect("write");
        let s = load_engine(dir.path()).expect("load");
        assert!(s.advisories() >= 3);
        let sbom = crate::sbom::parse(
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[
              {"type":"library","name":"minimist","version":"1.2.5","purl":"pkg:npm/minimist@1.2.5"},
              {"type":"library","name":"minimist","version":"1.2.6","purl":"pkg:npm/minimist@1.2.6"}]}"#,
            &crate::sbom::SbomLimits::default(),
        )
        .expect("sbom");
        let out = s.scan(&sbom);
        let got: Vec<(&str, &str)> = out
            .findings
            .iter()
            .map(|f| (f.id.as_str(), f.package.version.as_str()))
            .collect();
        assert_eq!(got, [("GHSA-xvch-5gv4-984h", "1.2.5")]);
        assert_eq!(
            crate::findings_digest(&out.findings),
            crate::findings_digest(&s.scan(&sbom).findings)
        );
        let empty = load_engine(&dir.path().join("nothing")).expect("empty kit");
        assert!(empty.scan(&sbom).findings.is_empty());
    }
}
