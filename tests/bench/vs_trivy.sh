#!/usr/bin/env bash
# Whole-process scan benchmark against real Trivy 0.76 (docs/PERFORMANCE.md, "vs Trivy";
# issue 5, "Benchmarks"):
#   200,000 generated OSV advisories (tests/bench/gen_osv.py, osv.dev all.zip dumps)
#   → our kit (stella-kit build → stella-appliance import → serve on loopback)
#   → an equivalent Trivy DB (the oracle's mktrivydb.py, ../shared/oracles/trivydb)
#   a 1,000-component CycloneDX 1.6 SBOM (about 2 in 3 components named by advisories)
#   → alternating runs of `stella scan` vs `trivy sbom --skip-db-update --offline-scan`:
#     median wall times and their ratio, findings compared as sets,
#   + the in-process parse+match median (release build) and the appliance's RSS with the
#     200k index loaded.
# Usage: tests/bench/vs_trivy.sh [WORKDIR] [N_ADVISORIES] [RUNS]
# (appliance settings come from the environment, e.g. STELLA_AUDIT_SCANS=false
# STELLA_DURABILITY=relaxed; the trivy DB and the SBOM are cached in WORKDIR.)
# Needs: the oracles (source ../shared/oracles/env.sh: boltput for mktrivydb.py) and trivy
# (.tools/venv/bin/trivy from scripts/install-test-deps.sh, or $STELLA_TRIVY).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
W="${1:-/tmp/stella-vs-trivy}"; N="${2:-200000}"; RUNS="${3:-11}"
ORACLES="${ORACLES_DIR:-$ROOT/../shared/oracles}"
source "$ORACLES/env.sh"
TRIVY="${STELLA_TRIVY:-$ROOT/.tools/venv/bin/trivy}"
[ -x "$TRIVY" ] || { echo "trivy not found at $TRIVY (scripts/install-test-deps.sh)" >&2; exit 2; }
mkdir -p "$W"
cargo build --release -q -p kit-builder -p appliance -p stella-cli
# Build the in-process bench binary now, from the same tree as the binaries above (other
# work may change the tree while this runs).
BENCH_BIN=$(cargo test --release -p scanner --test integration --no-run 2>&1 |
  sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
[ -x "$BENCH_BIN" ] || { echo "could not build the scanner integration test binary" >&2; exit 1; }
KIT=target/release/stella-kit; APP=target/release/stella-appliance; STELLA=target/release/stella

# 1. advisories (the same generator and seed as tests/bench/kit_build.sh)
if [ ! -f "$W/mirror/.done-$N" ]; then
  rm -rf "$W/mirror"; mkdir -p "$W/mirror"
  python3 tests/bench/gen_osv.py "$W/mirror" "$N"
  touch "$W/mirror/.done-$N"
fi

# 2. the Trivy DB from the same records, and the SBOM. mktrivydb.py reads DIR/*.json, so
# unpack the dumps; map GHSA's "MODERATE" to "MEDIUM" and lower-case NuGet names as
# trivy-db's GHSA importer does (see docs/trivy-crosscheck.md: otherwise Trivy drops them).
if [ ! -f "$W/trivy/.done-$N" ]; then
  rm -rf "$W/osv-json" "$W/trivy" "$W/sbom.cdx.json"
  python3 - "$W/mirror" "$W/osv-json" "$W/sbom.cdx.json" <<'PY'
import glob, json, os, random, sys, zipfile
mirror, out, sbom = sys.argv[1:4]
names = {}  # (eco, name) -> fixed versions
for z in sorted(glob.glob(os.path.join(mirror, "*", "all.zip"))):
    eco = os.path.basename(os.path.dirname(z))
    os.makedirs(os.path.join(out, eco), exist_ok=True)
    with zipfile.ZipFile(z) as zf:
        for n in zf.namelist():
            o = json.loads(zf.read(n))
            ds = o.get("database_specific") or {}
            if ds.get("severity") == "MODERATE":
                ds["severity"] = "MEDIUM"
            for a in o["affected"]:
                names.setdefault((eco, a["package"]["name"]), True)
                if eco == "NuGet":
                    a["package"]["name"] = a["package"]["name"].lower()
            with open(os.path.join(out, eco, n), "w") as f:
                json.dump(o, f)
rnd = random.Random(7)
known = sorted(names)
TYPES = {"PyPI": "pypi", "npm": "npm", "Maven": "maven", "Go": "golang", "crates.io": "cargo",
         "RubyGems": "gem", "NuGet": "nuget", "Packagist": "composer"}
comps = []
for i in range(1000):
    if i % 3 == 2:  # a package no advisory names
        eco, name = rnd.choice(known)[0], f"clean-{i}"
        if eco == "Maven": name = f"org.clean:{name}"
        elif eco == "Go": name = f"github.com/clean/{name}"
        elif eco == "Packagist": name = f"clean/{name}"
    else:
        eco, name = rnd.choice(known)
    v = f"{rnd.randint(0, 9)}.{rnd.randint(0, 30)}.{rnd.randint(0, 20)}"
    t = TYPES[eco]
    path = name.replace(":", "/") if eco == "Maven" else name
    pv = "v" + v if eco == "Go" else v
    comps.append({"type": "library", "bom-ref": f"c{i}", "name": name, "version": pv,
                  "purl": f"pkg:{t}/{path}@{pv}"})
json.dump({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
           "metadata": {"component": {"type": "application", "bom-ref": "root", "name": "bench"}},
           "components": comps}, open(sbom, "w"))
PY
  osv=(); for d in "$W"/osv-json/*/; do osv+=(--osv "$d"); done
  echo "== mktrivydb.py ($N advisories)"
  /usr/bin/time -f "%e s wall, %M KiB peak RSS" "$ORACLES_VENV/bin/python" \
    "$ORACLES/trivydb/mktrivydb.py" "$W/trivy/db" "${osv[@]}" --source-name "bench" | tail -c 300
  mkdir -p "$W/trivy/cache/db"
  cp "$W/trivy/db/trivy.db" "$W/trivy/db/metadata.json" "$W/trivy/cache/db/"
  touch "$W/trivy/.done-$N"
fi
ls -l "$W/trivy/cache/db/trivy.db" | awk '{print "trivy.db:", $5, "bytes"}'

# 3. our kit → appliance
rm -rf "$W/keys" "$W/data" "$W"/kit.ouk*
$KIT keygen --out "$W/keys" >/dev/null
printf 'valid_days = 30\n[[source]]\nkind = "dir"\npath = "%s"\n[[client]]\nid = "ci-bench"\n' \
  "$W/mirror" >"$W/kit.toml"
SOURCE_DATE_EPOCH=1795000000 $KIT build --config "$W/kit.toml" --key "$W/keys/vendor.key" \
  --out "$W/kit.ouk" --cache "$W/cache" >/dev/null
$APP init --data "$W/data" --trust "$W/keys/vendor.pub" >/dev/null
$APP import --data "$W/data" "$W/kit.ouk" >/dev/null
$APP token --client ci-bench --data "$W/data" >"$W/token"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$APP serve --data "$W/data" --listen "127.0.0.1:$PORT" >"$W/serve.log" 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null || true' EXIT
t0=$(date +%s.%N)
until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
  kill -0 $SPID || { cat "$W/serve.log"; exit 1; }; sleep 0.1
done
echo "appliance ready in $(python3 -c "print(round($(date +%s.%N) - $t0, 2))") s (index of $N advisories loaded)"
rss() { awk '/^VmRSS|^VmHWM/ {printf "%s %.0f MB  ", $1, $2/1024}' "/proc/$SPID/status"; echo; }
echo "appliance RSS after load: $(rss)"

# 4. alternating whole-process runs (first of each is a warm-up, not counted)
export STELLA_SERVER="http://127.0.0.1:$PORT" STELLA_TOKEN_FILE="$W/token"
python3 - "$RUNS" "$STELLA" "$TRIVY" "$W" <<'PY'
import json, statistics, subprocess, sys, time
runs, stella, trivy, w = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
sbom = f"{w}/sbom.cdx.json"
cmds = {
    "stella": [stella, "scan", "--sbom", sbom, "--format", "json", "--fail-on", "none"],
    "trivy": [trivy, "sbom", "--skip-db-update", "--skip-java-db-update", "--offline-scan",
              "--disable-telemetry", "--skip-version-check", "--scanners", "vuln",
              "--format", "json", "--quiet", "--cache-dir", f"{w}/trivy/cache", sbom],
}
times, outs = {k: [] for k in cmds}, {}
for i in range(runs + 1):
    for k, c in cmds.items():
        t = time.perf_counter()
        p = subprocess.run(c, capture_output=True)
        dt = time.perf_counter() - t
        if p.returncode != 0:
            sys.exit(f"{k} failed ({p.returncode}): {p.stderr.decode()[-2000:]}")
        outs[k] = p.stdout
        if i:
            times[k].append(dt)
med = {k: statistics.median(v) for k, v in times.items()}
for k, v in times.items():
    print(f"{k:6}: median {med[k]*1e3:8.1f} ms  (min {min(v)*1e3:.1f}, max {max(v)*1e3:.1f}, {len(v)} runs)")
print(f"ratio trivy/stella (medians): {med['trivy']/med['stella']:.1f}x")

def key(purl, version):
    base = purl.split("?")[0].split("@")[0].lower()
    return base, version
ours, theirs = {}, set()
for f in json.loads(outs["stella"])["findings"]:
    ours[(key(f["package"]["purl"], f["package"]["version"]), f["id"])] = {f["id"], *f["aliases"]}
for r in json.loads(outs["trivy"]).get("Results", []):
    for v in r.get("Vulnerabilities") or []:
        theirs.add((key(v["PkgIdentifier"]["PURL"], v["InstalledVersion"]), v["VulnerabilityID"]))
matched, ours_only = set(), []
for (k, fid), ids in ours.items():
    hit = [t for t in theirs if t[0] == k and t[1] in ids]
    if hit: matched.add(hit[0])
    else: ours_only.append((k, fid))
trivy_only = sorted(theirs - matched)
by_eco = lambda xs: dict(sorted(__import__("collections").Counter(x[0][0].split("/")[0] for x in xs).items()))
print(f"findings: stella {len(ours)}, trivy {len(theirs)}, agree {len(matched)}, "
      f"stella-only {len(ours_only)} {by_eco(ours_only)}, trivy-only {len(trivy_only)} {by_eco(trivy_only)}")
warn = json.loads(outs["stella"]).get("warnings") or []
print(f"stella warnings: {len(warn)}" + (f" (first: {warn[0][:160]})" if warn else ""))
PY
echo "appliance RSS after the runs: $(rss)"

# 5. in-process parse + match, release build, same SBOM and kit
STELLA_BENCH_KIT_CONTENT="$W/data/current/content" STELLA_BENCH_SBOM="$W/sbom.cdx.json" \
  "$BENCH_BIN" --ignored --nocapture --exact trivy_crosscheck::bench_parse_and_match_in_process 2>&1 |
  grep -E "in-process|test result"
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
