#!/usr/bin/env python3
"""Builds the real-data corpus of appliance/scanner/tests/corpus.rs (run through regen.sh).

1. Reads OSV records from local git copies of public advisory databases (bare or not):
   pypa/advisory-database (PyPI, YAML), golang/vulndb (Go, data/osv), the `osv` branch of
   rustsec/advisory-db (crates.io: RustSec's own OSV export, the files osv.dev imports),
   DrupalSecurityTeam/drupal-advisory-database (Packagist), and github/advisory-database
   (advisories/github-reviewed: npm, Maven, NuGet, RubyGems, Packagist, crates.io) when a
   copy is given.
2. Picks a deterministic sample per ecosystem: every k-th record by id, plus records whose
   versions have unusual shapes (short, leading `v`, spaces, 4+ parts, pre-releases, build
   metadata, leading zeros), up to a cap per shape.
3. For each package, picks probe versions: every event version, its numeric neighbours
   (last component +1 / -1), the release part of a pre-release, and the entries of the
   record's `versions` list around each event plus the first and the last.
4. Decides every (probe, record) with a reference OSV matcher (this file, `affected`)
   whose comparisons all come from the ecosystem's oracle (../shared/oracles/vercmp):
   events sorted, introduced / fixed / last_affected / limit, `versions` enumeration.
5. Writes records/<eco>.jsonl.zst (the sample, one compact OSV JSON per line), expected.tsv
   and sample.tsv (which record came from where, and why it was picked).

Nothing here is imported by the tests: they read the files written in step 5.
"""
import argparse
import functools
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

# Per ecosystem: the oracle (driver name) and how a probe is written for the engine.
ECOSYSTEMS = {
    "PyPI": {"oracle": "pep440"},
    "Go": {"oracle": "go", "env": {"ORACLE_STRICT": "1"}, "v_prefix": True},
    # osv.dev reads GHSA's short SemVer versions (`0.1`, `1`) as `0.1.0`, `1.0.0`
    # (osv/semver_index.py coerces before comparing); the strict oracles refuse them, so the
    # reference pads them the same way.
    "crates.io": {"oracle": "cargo-semver", "pad_short": True},
    "npm": {"oracle": "npm-semver", "pad_short": True},
    "Maven": {"oracle": "maven"},
    "RubyGems": {"oracle": "rubygems"},
    "Packagist": {"oracle": "composer"},
    # NuGet has no oracle in ../shared/oracles; GHSA's NuGet records are skipped until one
    # is added (osv.dev's own osv/ecosystems/nuget.py would be the natural choice).
}

# File name of an ecosystem's records (no dots or colons).
SLUG = {"PyPI": "pypi", "Go": "go", "crates.io": "crates-io", "npm": "npm",
        "Maven": "maven", "RubyGems": "rubygems", "Packagist": "packagist", "NuGet": "nuget"}

# Go packages whose versions are toolchain versions (vulndb's `stdlib` and `toolchain`).
GO_TOOLCHAIN = ("stdlib", "toolchain")

REGULAR_TARGET = 200     # records picked by "every k-th" per ecosystem and source
SHAPE_CAP = 40           # most records added per unusual shape, per ecosystem and source


def git(gitdir, *args, data=None):
    return subprocess.run(["git", "--git-dir", gitdir, *args], input=data,
                          capture_output=True, check=True).stdout


def resolve_gitdir(path):
    """A bare repository, or a work tree's .git."""
    if os.path.isdir(os.path.join(path, ".git")):
        return os.path.join(path, ".git")
    return path


def read_tree(gitdir, ref, prefix, suffixes):
    """(path, bytes) of every file under prefix at ref whose name ends with a suffix."""
    names = git(gitdir, "ls-tree", "-r", "--name-only", ref, prefix).decode().split("\n")
    names = sorted(n for n in names if n.endswith(suffixes))
    out = git(gitdir, "cat-file", "--batch", data="".join(f"{ref}:{n}\n" for n in names).encode())
    files, i = [], 0
    for n in names:
        nl = out.index(b"\n", i)
        size = int(out[i:nl].split()[2])
        files.append((n, out[nl + 1:nl + 1 + size]))
        i = nl + 1 + size + 1
    return files


def load_yaml(data):
    import yaml
    # BaseLoader: every scalar stays a string, as the records mean them ("1.10" is not 1.1).
    return yaml.load(data, Loader=yaml.BaseLoader)


def base_ecosystem(eco):
    return eco.split(":", 1)[0]


def norm_name(eco, name):
    """The engine's lookup name (scanner::index::normalize_name)."""
    if eco == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    if eco in ("NuGet", "Packagist"):
        return name.lower()
    return name


# ---------------------------------------------------------------------------------------
# Sources


def source_records(args):
    """Yields (source, commit, path, record) for every record of every given source."""
    sources = []
    if args.pypa:
        sources.append(("pypa/advisory-database", args.pypa, "HEAD", "vulns", (".yaml",), "yaml"))
    if args.vulndb:
        sources.append(("golang/vulndb", args.vulndb, "HEAD", "data/osv", (".json",), "json"))
    if args.rustsec:
        sources.append(("rustsec/advisory-db", args.rustsec, "osv", "crates", (".json",), "json"))
    if args.drupal:
        sources.append(("DrupalSecurityTeam/drupal-advisory-database", args.drupal, "HEAD",
                        "advisories", (".json",), "json"))
    if args.ghsa:
        sources.append(("github/advisory-database", args.ghsa, "HEAD",
                        "advisories/github-reviewed", (".json",), "json"))
    for name, path, ref, prefix, suffixes, kind in sources:
        gitdir = resolve_gitdir(path)
        commit = git(gitdir, "rev-parse", ref).decode().strip()
        for p, data in read_tree(gitdir, commit, prefix, suffixes):
            rec = load_yaml(data) if kind == "yaml" else json.loads(data)
            if isinstance(rec, dict) and rec.get("id"):
                yield name, commit, p, rec


# ---------------------------------------------------------------------------------------
# Sampling


def shapes(v):
    """The unusual shapes of one version string (empty for plain x.y.z)."""
    out = set()
    if re.fullmatch(r"\d+\.\d+\.\d+", v):
        return out
    if re.fullmatch(r"\d+(\.\d+)?", v):
        out.add("short")
    if v[:1] in "vV":
        out.add("v-prefix")
    if re.search(r"\s", v):
        out.add("space")
    if re.match(r"v?\d+(\.\d+){3,}", v):
        out.add("4+parts")
    if re.search(r"(^|\.)0\d", v):
        out.add("leading-zero")
    if "+" in v:
        out.add("build")
    if re.search(r"[A-Za-z~-]", v.lstrip("vV")):
        out.add("pre-release")
    if not out:
        out.add("other")
    return out


def entry_versions(aff):
    for r in aff.get("ranges") or []:
        if r.get("type") == "GIT":
            continue
        for e in r.get("events") or []:
            for v in e.values():
                if isinstance(v, str) and v != "0" and "*" not in v:
                    yield v
    for v in aff.get("versions") or []:
        if isinstance(v, str):
            yield v


def sample(records, eco):
    """The picked records of one ecosystem and source, with why each was picked."""
    recs = sorted(records, key=lambda r: r["id"])
    k = max(1, len(recs) // REGULAR_TARGET)
    why = {r["id"]: ["every-%d" % k] for r in recs[::k]}
    by_shape = defaultdict(list)
    for r in recs:
        found = set()
        for a in r.get("affected") or []:
            if base_ecosystem((a.get("package") or {}).get("ecosystem", "")) == eco:
                for v in entry_versions(a):
                    found |= shapes(v)
        for s in found:
            by_shape[s].append(r)
    for s, rs in sorted(by_shape.items()):
        m = max(1, -(-len(rs) // SHAPE_CAP))
        for r in rs[::m]:
            why.setdefault(r["id"], []).append("shape:" + s)
    return [(r, why[r["id"]]) for r in recs if r["id"] in why]


# ---------------------------------------------------------------------------------------
# Probes


def sort_key(v):
    """A rough version order, only to find list neighbours (the verdicts use the oracle)."""
    parts = re.findall(r"\d+|[A-Za-z]+", v)
    return [(0, int(p), "") if p.isdigit() else (-1, 0, p.lower()) for p in parts]


def numeric_neighbours(v):
    m = re.fullmatch(r"(v?)(\d+(?:\.\d+)*)", v)
    out = []
    if m:
        nums = m.group(2).split(".")
        last = int(nums[-1])
        out.append(m.group(1) + ".".join(nums[:-1] + [str(last + 1)]))
        if last > 0:
            out.append(m.group(1) + ".".join(nums[:-1] + [str(last - 1)]))
    else:
        m = re.match(r"(v?\d+(?:\.\d+)*)[-.+_~]?[A-Za-z]", v)
        if m:
            out.append(m.group(1))
    return out


def probes_for_entry(aff):
    out = set()
    events = [v for r in aff.get("ranges") or [] if r.get("type") != "GIT"
              for e in r.get("events") or [] for v in e.values()
              if isinstance(v, str) and v != "0" and "*" not in v]
    for v in events:
        out.add(v)
        out.update(numeric_neighbours(v))
    listed = sorted({v for v in aff.get("versions") or [] if isinstance(v, str)}, key=sort_key)
    if listed:
        picked = {listed[0], listed[-1]}
        for v in events:
            key = sort_key(v)
            below = [x for x in listed if sort_key(x) < key]
            above = [x for x in listed if sort_key(x) > key]
            if below:
                picked.add(below[-1])
            if above:
                picked.add(above[0])
        out.update(picked)
    return {v for v in out if v}


# ---------------------------------------------------------------------------------------
# Oracle


class Oracle:
    """Batch comparisons through one oracle run: every pair is collected first, then sent
    as `A B` lines in one go (the oracles answer one line per line)."""

    def __init__(self, shared, eco):
        conf = ECOSYSTEMS[eco]
        self.cmd = os.path.join(shared, "oracles", "vercmp", conf["oracle"], "cmp")
        self.env = dict(os.environ, **conf.get("env", {}))
        self.v_prefix = conf.get("v_prefix", False)
        self.pad_short = conf.get("pad_short", False)
        self.pending = set()
        self.known = {}

    def spell(self, v):
        if self.pad_short:
            m = re.fullmatch(r"(\d+)(\.\d+)?([-+].*)?", v)
            if m:
                v = m.group(1) + (m.group(2) or ".0") + ".0" + (m.group(3) or "")
        return v if (not self.v_prefix or v.startswith("v")) else "v" + v

    def want(self, a, b):
        a, b = self.spell(a), self.spell(b)
        if (a, b) not in self.known and (b, a) not in self.known:
            self.pending.add((a, b))

    def run(self):
        pairs = sorted(self.pending)
        self.pending = set()
        send = []
        for a, b in pairs:
            if not a or not b or re.search(r"\s", a + b):
                # The line protocol cannot carry whitespace: not a version any oracle orders.
                self.known[(a, b)] = "ERR whitespace in a version"
            else:
                send.append((a, b))
        if not send:
            return
        text = "".join(f"{a} {b}\n" for a, b in send)
        out = subprocess.run([self.cmd], input=text, capture_output=True, text=True,
                             env=self.env, check=True).stdout.split("\n")
        if len(out) < len(send):
            sys.exit(f"{self.cmd}: {len(out)} answers for {len(send)} pairs")
        for (a, b), r in zip(send, out):
            self.known[(a, b)] = r.strip()

    def cmp(self, a, b):
        """-1/0/1, or an `ERR ...` string."""
        a, b = self.spell(a), self.spell(b)
        if (a, b) in self.known:
            r = self.known[(a, b)]
        elif (b, a) in self.known:
            r = self.known[(b, a)]
            if not r.startswith("ERR"):
                return -int(r)
        else:
            raise KeyError((a, b))
        return r if r.startswith("ERR") else int(r)


# ---------------------------------------------------------------------------------------
# The reference matcher (OSV schema, "Evaluation": sorted events, BeforeLimits)


class Undecided(Exception):
    pass


def comparisons(ranges, probe, oracle):
    """Registers every comparison `included` may make."""
    for r in ranges:
        evs = [v for e in r["events"] for v in e.values() if v != "0"]
        for v in evs:
            if "*" not in v:
                oracle.want(probe, v)
        for i, a in enumerate(evs):
            for b in evs[i + 1:]:
                if "*" not in a and "*" not in b:
                    oracle.want(a, b)


def checked(r):
    if isinstance(r, str):
        raise Undecided(r)
    return r


def included(r, probe, oracle):
    """Whether probe is in one SEMVER/ECOSYSTEM range; raises Undecided."""
    events = [(k, v) for e in r["events"] for k, v in e.items()]
    limits = [v for k, v in events if k == "limit"]
    if limits and not any("*" in lim or checked(oracle.cmp(probe, lim)) < 0 for lim in limits):
        return False

    def order(x, y):
        (_, a), (_, b) = x, y
        if a == "0" or b == "0":
            return (a != "0") - (b != "0")
        return checked(oracle.cmp(a, b))

    walk = sorted([e for e in events if e[0] != "limit"], key=functools.cmp_to_key(order))
    vulnerable = False
    for kind, v in walk:
        if kind == "introduced":
            if v == "0" or checked(oracle.cmp(probe, v)) >= 0:
                vulnerable = True
        elif kind == "fixed":
            if checked(oracle.cmp(probe, v)) >= 0:
                vulnerable = False
        elif kind == "last_affected":
            if checked(oracle.cmp(probe, v)) > 0:
                vulnerable = False
    return vulnerable


def affected(aff, probe, query, oracle):
    """True / False, or an `ERR ...` string when the oracle cannot decide."""
    if query in (aff.get("versions") or []):
        return True
    err = None
    for r in aff.get("ranges") or []:
        if r.get("type") not in ("SEMVER", "ECOSYSTEM"):
            continue
        try:
            if included(r, probe, oracle):
                return True
        except Undecided as e:
            err = str(e)
    return err if err else False


# ---------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", required=True, help="the shared/ folder (oracles)")
    ap.add_argument("--out", required=True, help="this folder")
    ap.add_argument("--pypa")
    ap.add_argument("--vulndb")
    ap.add_argument("--rustsec")
    ap.add_argument("--drupal")
    ap.add_argument("--ghsa", help="github/advisory-database (optional)")
    args = ap.parse_args()

    # (eco, source) -> [(record, commit, path)]
    grouped = defaultdict(list)
    commits = {}
    for source, commit, path, rec in source_records(args):
        commits[source] = commit
        ecos = {base_ecosystem((a.get("package") or {}).get("ecosystem", ""))
                for a in rec.get("affected") or []}
        for eco in sorted(ecos & set(ECOSYSTEMS)):
            grouped[(eco, source)].append((rec, path))

    picked = defaultdict(dict)   # eco -> id -> record
    sample_rows = []
    for (eco, source), items in sorted(grouped.items()):
        paths = {r["id"]: p for r, p in items}
        for rec, why in sample([r for r, _ in items], eco):
            if rec["id"] in picked[eco]:
                continue
            picked[eco][rec["id"]] = rec
            sample_rows.append((eco, rec["id"], source, paths[rec["id"]], ",".join(why)))

    expected_rows = []
    for eco in sorted(picked):
        oracle = Oracle(args.shared, eco)
        v_prefix = ECOSYSTEMS[eco].get("v_prefix", False)
        # normalised package -> [(record, affected entry)]
        entries = defaultdict(list)
        for rec in picked[eco].values():
            for a in rec.get("affected") or []:
                pkg = a.get("package") or {}
                if base_ecosystem(pkg.get("ecosystem", "")) == eco and pkg.get("name"):
                    entries[norm_name(eco, pkg["name"])].append((rec, a))
        probes = {p: set().union(*(probes_for_entry(a) for _, a in es)) for p, es in entries.items()}
        for p, es in entries.items():
            for probe in probes[p]:
                for _, a in es:
                    comparisons([r for r in a.get("ranges") or []
                                 if r.get("type") in ("SEMVER", "ECOSYSTEM")], probe, oracle)
        oracle.run()
        for p in sorted(entries):
            for probe in sorted(probes[p]):
                query = "v" + probe if v_prefix and not probe.startswith("v") else probe
                hit, errs = set(), {}
                for rec, a in entries[p]:
                    if rec.get("withdrawn"):
                        continue
                    r = affected(a, probe, probe, oracle)
                    if r is True:
                        hit.add(rec["id"])
                    elif isinstance(r, str):
                        errs.setdefault(rec["id"], r)
                errs = {i: e for i, e in errs.items() if i not in hit}
                err_col = "-" if not errs else ";".join(f"{i} {e}" for i, e in sorted(errs.items()))
                expected_rows.append((eco, p, query, ",".join(sorted(hit)) or "-", err_col))
                if eco == "Go" and p in GO_TOOLCHAIN and re.fullmatch(r"\d+\.\d+\.[1-9]\d*", probe):
                    # SBOMs name the standard library's version as the toolchain spells it
                    # (`go1.21.3`); vulndb writes `1.21.3`. For a patch release the two are
                    # the same version, so the verdict is the same (no oracle orders `go1.x`
                    # here: x/mod does not, internal/gover needs Go 1.21).
                    expected_rows.append((eco, p, "go" + probe, ",".join(sorted(hit)) or "-", err_col))

    os.makedirs(os.path.join(args.out, "records"), exist_ok=True)
    digests = []
    for eco, recs in sorted(picked.items()):
        lines = "".join(json.dumps(recs[i], ensure_ascii=False, separators=(",", ":")) + "\n"
                        for i in sorted(recs)).encode()
        name = SLUG[eco] + ".jsonl.zst"
        subprocess.run(["zstd", "-q", "-19", "-f", "-o", os.path.join(args.out, "records", name)],
                       input=lines, check=True)
        # Of the decompressed text: the test checks that its records are these.
        digests.append(f"{hashlib.sha256(lines).hexdigest()}  {name}\n")
    with open(os.path.join(args.out, "records.sha256"), "w") as f:
        f.writelines(digests)
    with open(os.path.join(args.out, "expected.tsv"), "w") as f:
        f.write("# ecosystem\tpackage\tversion\taffected_by\treference_undecided\n")
        for row in expected_rows:
            f.write("\t".join(row) + "\n")
    with open(os.path.join(args.out, "sample.tsv"), "w") as f:
        f.write("# ecosystem\tid\tsource\tpath\tpicked_because\n")
        for row in sorted(sample_rows):
            f.write("\t".join(row) + "\n")
    with open(os.path.join(args.out, "sources.tsv"), "w") as f:
        f.write("# source\tcommit\n")
        for s, c in sorted(commits.items()):
            f.write(f"{s}\t{c}\n")
    for eco in sorted(picked):
        rows = [r for r in expected_rows if r[0] == eco]
        print(f"{eco}: {len(picked[eco])} records, {len(rows)} probes, "
              f"{sum(r[3] != '-' for r in rows)} affected, {sum(r[4] != '-' for r in rows)} "
              "with a reference refusal", file=sys.stderr)


if __name__ == "__main__":
    main()
