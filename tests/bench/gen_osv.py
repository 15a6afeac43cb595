#!/usr/bin/env python3
"""Generates N realistically shaped OSV advisories as osv.dev dumps: OUT/<Ecosystem>/all.zip.

Shape follows real GHSA records: id, aliases (CVE), summary, details (a few paragraphs),
severity (CVSS v3.1 vector), 1-2 affected packages with ECOSYSTEM/SEMVER ranges
(introduced/fixed, sometimes last_affected), references, database_specific.
Deterministic for a given seed.  Usage: gen_osv.py OUT N [SEED]
"""
import io, json, os, random, sys, zipfile

out, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 42)
ecos = {"PyPI": 0.22, "npm": 0.25, "Maven": 0.15, "Go": 0.12, "crates.io": 0.06,
        "RubyGems": 0.06, "NuGet": 0.05, "Packagist": 0.09}
words = ("buffer overflow parser allows remote attackers to cause denial of service via crafted "
         "input request header path traversal injection memory corruption improper validation "
         "of certificate chain leading to code execution when processing untrusted data").split()
vecs = ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N",
        "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:N/A:N", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H"]

def text(k):
    return " ".join(rnd.choice(words) for _ in range(k))

def version():
    return f"{rnd.randint(0, 9)}.{rnd.randint(0, 30)}.{rnd.randint(0, 20)}"

zips = {}
for e in ecos:
    os.makedirs(os.path.join(out, e), exist_ok=True)
    zips[e] = zipfile.ZipFile(os.path.join(out, e, "all.zip"), "w", zipfile.ZIP_DEFLATED)
names = list(ecos)
weights = [ecos[e] for e in names]
for i in range(n):
    eco = rnd.choices(names, weights)[0]
    gid = "GHSA-%04x-%04x-%04x" % (i >> 16 & 0xffff, i & 0xffff, rnd.randint(0, 0xffff))
    pkg = f"pkg-{rnd.randint(0, n // 4)}"
    if eco == "Maven":
        pkg = f"org.example{rnd.randint(0, 99)}:{pkg}"
    elif eco == "Go":
        pkg = f"github.com/example{rnd.randint(0, 99)}/{pkg}"
    elif eco == "Packagist":
        pkg = f"vendor{rnd.randint(0, 99)}/{pkg}"
    affected = []
    for _ in range(rnd.choice([1, 1, 1, 2])):
        intro, fixed = "0", version()
        ev = [{"introduced": intro}]
        ev.append({"last_affected": fixed} if rnd.random() < 0.05 else {"fixed": fixed})
        affected.append({"package": {"ecosystem": eco, "name": pkg},
                         "ranges": [{"type": "SEMVER" if eco in ("npm", "crates.io", "Go") else "ECOSYSTEM",
                                     "events": ev}],
                         "database_specific": {"source": "https://github.com/advisories"}})
    adv = {"schema_version": "1.6.0", "id": gid, "modified": "2026-%02d-%02dT%02d:00:00Z" % (rnd.randint(1, 10), rnd.randint(1, 28), rnd.randint(0, 23)),
           "published": "2025-06-01T00:00:00Z", "aliases": [f"CVE-2025-{10000 + i}"],
           "summary": text(8), "details": "\n\n".join(text(40) for _ in range(3)),
           "severity": [{"type": "CVSS_V3", "score": rnd.choice(vecs)}], "affected": affected,
           "references": [{"type": "ADVISORY", "url": f"https://nvd.nist.gov/vuln/detail/CVE-2025-{10000 + i}"},
                          {"type": "WEB", "url": f"https://github.com/example/{pkg}/issues/{i}"}],
           "database_specific": {"severity": rnd.choice(["LOW", "MODERATE", "HIGH", "CRITICAL"]), "github_reviewed": True,
                                 "cwe_ids": ["CWE-79"]}}
    zips[eco].writestr(f"{gid}.json", json.dumps(adv))
for z in zips.values():
    z.close()
