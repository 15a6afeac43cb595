#!/usr/bin/env python3
"""Derives Trivy OS advisories (mktrivydb.py --os-advisories format) from the Debian and
Alpine OSV records of the sample feed, the way trivy-db's own Debian/Alpine sources store
them: bucket "debian N" / "alpine X.Y", key = SOURCE package + CVE id, one FixedVersion.

Usage: os_advisories.py FEED_DIR OUT.json

What Trivy's OS buckets cannot say (and so is left out, see docs/trivy-crosscheck.md):
  - a lower bound other than "introduced 0" (Trivy keeps only the fixed version);
  - an explicit `versions` list (Trivy has none; the fixed bound covers the same set here).
"""
import glob, json, os, sys

feed, out = sys.argv[1], sys.argv[2]
adv = []
for sub, prefix in (("Debian", "debian "), ("Alpine", "alpine ")):
    for f in sorted(glob.glob(os.path.join(feed, sub, "*.json"))):
        o = json.load(open(f))
        cves = [x for x in o.get("upstream", []) + o.get("aliases", []) if x.startswith("CVE-")]
        for cve in (sorted(set(cves)) or [o["id"]]):
            for a in o.get("affected", []):
                eco, release = a["package"]["ecosystem"].split(":", 1)
                release = release.lstrip("v")  # Alpine:v3.20 -> "alpine 3.20"
                for r in a.get("ranges", []):
                    if r.get("type") != "ECOSYSTEM":
                        continue
                    fixed = [e["fixed"] for e in r["events"] if "fixed" in e]
                    adv.append({"bucket": prefix + release, "package": a["package"]["name"],
                                "id": cve, "severity": "HIGH", "title": o["id"],
                                **({"fixed": fixed[-1]} if fixed else {})})
# The same (bucket, package, id) key can occur once only in a bolt bucket: keep the first.
seen, uniq = set(), []
for x in adv:
    k = (x["bucket"], x["package"], x["id"])
    if k not in seen:
        seen.add(k)
        uniq.append(x)
json.dump(uniq, open(out, "w"), indent=1, sort_keys=True)
open(out, "a").write("\n")
