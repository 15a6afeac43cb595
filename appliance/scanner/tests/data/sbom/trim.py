#!/usr/bin/env python3
"""Trim Syft/SPDX fixture SBOMs to what the parser reads, so they stay small in git.

Drops per-file inventories (SPDX `files`, Syft `files`, artifact `metadata.files`),
relationships that involve files, and the base64 image manifest/config blobs. Packages,
purls, locations, layers, distro and source stay exactly as the tool wrote them.
Usage: trim.py IN OUT
"""
import json
import sys

src, dst = sys.argv[1], sys.argv[2]
with open(src) as f:
    d = json.load(f)
if "spdxVersion" in d:
    pkgs = {p["SPDXID"] for p in d.get("packages", [])} | {"SPDXRef-DOCUMENT"}
    d.pop("files", None)
    d["relationships"] = [
        r for r in d.get("relationships", [])
        if r["spdxElementId"] in pkgs and r["relatedSpdxElement"] in pkgs
    ]
    for p in d.get("packages", []):
        p.pop("hasFiles", None)
elif "artifacts" in d:
    ids = {a["id"] for a in d["artifacts"]}
    d["files"] = []
    d["artifactRelationships"] = [
        r for r in d.get("artifactRelationships", [])
        if r["parent"] in ids and r["child"] in ids
    ]
    for a in d["artifacts"]:
        if isinstance(a.get("metadata"), dict):
            a["metadata"].pop("files", None)
    m = d.get("source", {}).get("metadata", {})
    for k in ("manifest", "config"):
        if k in m:
            m[k] = ""
with open(dst, "w") as f:
    json.dump(d, f, indent=1, sort_keys=False)
    f.write("\n")
