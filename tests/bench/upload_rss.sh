#!/usr/bin/env bash
# Memory under concurrent large uploads (docs/PERFORMANCE.md, "Memory: concurrent large
# uploads"): a release `stella-appliance serve` on loopback takes CLIENTS simultaneous
# uploads of one ~47 MB CycloneDX SBOM to POST /api/v1/scan, once per request-body budget
# (`max_inflight_body_bytes`), each run on a fresh data dir (sample feed kit, one token).
# Prints the answers (200 / 503 / other), the wall time, and the server's RSS: peak
# (VmHWM, and the max of VmRSS sampled every 50 ms) and VmRSS 10 s and 30 s after the
# server has gone idle (right after the last answer, unless scans answered 408 are still
# running: a timed-out scan runs to its end).
#
# Usage: tests/bench/upload_rss.sh [WORKDIR] [CLIENTS] [BUDGET...]
#   BUDGET: 0 = the default (a quarter of RAM), a byte count, or "off" (2^50 bytes: the
#   budget never refuses, i.e. the behaviour before it existed). Default: 0 536870912 off.
# The client sends `Expect: 100-continue` (as curl does for large bodies), so a refused
# upload gets its 503 before it sends the body. Refused uploads are not retried, unless
# UPLOAD_RSS_RETRY=1: then each client waits Retry-After and tries again (the counts are
# the final answers, every scan is served in the end).
# Environment: appliance settings as usual (STELLA_REQUEST_TIMEOUT_SECS, ...);
# UPLOAD_RSS_AFTER = when to read the RSS after idle (seconds, default "10 30");
# UPLOAD_RSS_SERVER_ENV = NAME=VALUE words for the server process only (allocator
# experiments, e.g. "MIMALLOC_PURGE_DELAY=0": the binary's allocator is mimalloc);
# UPLOAD_RSS_APP = another stella-appliance binary to measure (e.g. one built without
# the mimalloc global allocator).
set -euo pipefail
cd "$(dirname "$0")/../.."
W="${1:-/tmp/stella-upload-rss}"; CLIENTS="${2:-64}"
if [ "$#" -gt 2 ]; then BUDGETS=("${@:3}"); else BUDGETS=(0 536870912 off); fi
T="${CARGO_TARGET_DIR:-target}"
mkdir -p "$W"
cargo build --release -q -p kit-builder -p appliance
KIT="$T/release/stella-kit"; APP="${UPLOAD_RSS_APP:-$T/release/stella-appliance}"

# 1. the SBOM: ~69,000 npm components with hashes, licence, description, references and
# properties (the SBOM parser accepts at most 100,000 components, so a 47 MB document is
# made of fat components, as real ones are), two of them with advisories in the sample feed.
SBOM="$W/sbom-47mb.cdx.json"
if [ ! -f "$SBOM" ]; then
  python3 - "$SBOM" <<'PY'
import hashlib, json, sys
TARGET = 47_000_000
comps = [
    {"type": "library", "bom-ref": "minimist", "name": "minimist", "version": "1.2.5",
     "purl": "pkg:npm/minimist@1.2.5"},
    {"type": "library", "bom-ref": "express", "name": "express", "version": "4.18.0",
     "purl": "pkg:npm/express@4.18.0"},
]
size, i = 0, 0
while size < TARGET - 2_000:
    name, version = f"bench-pkg-{i}", f"{i % 7}.{i % 31}.{i % 13}"
    h = hashlib.sha512(name.encode()).hexdigest()
    comps.append({
        "type": "library", "bom-ref": f"c{i}", "name": name, "version": version,
        "purl": f"pkg:npm/{name}@{version}",
        "description": f"Generated component {i} of the upload memory benchmark",
        "hashes": [{"alg": "SHA-256", "content": h[:64]}, {"alg": "SHA-512", "content": h}],
        "licenses": [{"license": {"id": "MIT"}}],
        "externalReferences": [{"type": "distribution",
                                "url": f"https://registry.npmjs.org/{name}/-/{name}-{version}.tgz"}],
        "properties": [{"name": "bench:index", "value": str(i)}],
    })
    size += len(json.dumps(comps[-1], separators=(",", ":"))) + 1
    i += 1
doc = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
       "metadata": {"component": {"type": "application", "bom-ref": "root", "name": "upload-rss"}},
       "components": comps}
text = json.dumps(doc, separators=(",", ":"))
# pad the root component's description up to the target size
pad = TARGET - len(text) - len(',"description":""')
if pad > 0:
    doc["metadata"]["component"]["description"] = "x" * pad
    text = json.dumps(doc, separators=(",", ":"))
open(sys.argv[1], "w").write(text)
PY
fi
echo "SBOM: $SBOM, $(stat -c %s "$SBOM") bytes, $(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['components']))" "$SBOM") components"

# 2. a signed kit of the sample feed with one client
rm -rf "$W/keys" "$W"/kit.ouk*
$KIT keygen --out "$W/keys" >/dev/null
printf 'valid_days = 30\n[[source]]\nkind = "dir"\npath = "%s"\n[[client]]\nid = "upload-bench"\n' \
  "$(pwd)/samples/feeds/osv" >"$W/kit.toml"
$KIT build --config "$W/kit.toml" --key "$W/keys/vendor.key" --out "$W/kit.ouk" \
  --cache "$W/cache" >/dev/null

SPID=""
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null || true' EXIT
for budget in "${BUDGETS[@]}"; do
  case "$budget" in off) bytes=$((1 << 50)) ;; *) bytes="$budget" ;; esac
  rm -rf "$W/data"
  $APP init --data "$W/data" --trust "$W/keys/vendor.pub" >/dev/null
  $APP import --data "$W/data" "$W/kit.ouk" >/dev/null
  $APP token --client upload-bench --data "$W/data" >"$W/token"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # shellcheck disable=SC2086 # UPLOAD_RSS_SERVER_ENV is a list of NAME=VALUE words
  env ${UPLOAD_RSS_SERVER_ENV:-} STELLA_MAX_INFLIGHT_BODY_BYTES="$bytes" \
    $APP serve --data "$W/data" --listen "127.0.0.1:$PORT" >"$W/serve-$budget.log" 2>&1 &
  SPID=$!
  until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
    kill -0 "$SPID" || { cat "$W/serve-$budget.log"; exit 1; }; sleep 0.1
  done
  echo "== max_inflight_body_bytes = $budget ($bytes bytes), $CLIENTS concurrent uploads (load $(cut -d' ' -f1 /proc/loadavg))"
  python3 - "$PORT" "$SPID" "$W/token" "$SBOM" "$CLIENTS" "${UPLOAD_RSS_AFTER:-10 30}" \
    "${UPLOAD_RSS_RETRY:-0}" <<'PY'
import collections, socket, sys, threading, time
port, pid, token_file, sbom_file, clients = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
after_secs = [float(x) for x in sys.argv[6].split()]
retry = sys.argv[7] == "1"
token = open(token_file).read().strip()
body = memoryview(open(sbom_file, "rb").read())

def status():
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            out[k] = int(v.split()[0]) * 1024
        elif k == "Threads":
            out[k] = int(v)
    return out

def mb(n):
    return f"{n / 1e6:,.0f} MB"

samples, stop = [], threading.Event()
def sampler():
    while not stop.is_set():
        samples.append((time.monotonic(), status()["VmRSS"]))
        time.sleep(0.05)

def recv_head(s, buf=b""):
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split(" ", 2)[1]), fields, rest

def once():
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=600)
    s.sendall((f"POST /api/v1/scan?name=upload-rss HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n"
               f"Connection: close\r\n\r\n").encode())
    code, fields, rest = recv_head(s)
    if code == 100:
        s.sendall(body)
        code, fields, rest = recv_head(s, rest)
    while s.recv(65536):  # the rest of the answer, until the server closes
        pass
    s.close()
    return code, fields

results, retries, go = [], [], threading.Barrier(clients)
def upload():
    go.wait()
    t = time.monotonic()
    try:
        while True:
            code, fields = once()
            if code != 503 or not retry:
                break
            retries.append(1)
            time.sleep(float(fields.get("retry-after", "1")))
        results.append((code, time.monotonic() - t, time.monotonic()))
    except OSError as e:
        results.append((type(e).__name__, time.monotonic() - t, time.monotonic()))

before = status()["VmRSS"]
th = threading.Thread(target=sampler, daemon=True); th.start()
workers = [threading.Thread(target=upload) for _ in range(clients)]
t0 = time.monotonic()
for w in workers: w.start()
for w in workers: w.join()
wall = max(r[2] for r in results) - t0
peak_sampled = max(r for _, r in samples)
# A scan answered 408 (request_timeout_secs) still runs to its end: the "after" readings
# count from when the server has gone idle (no CPU time used for a second).
def cpu_ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime + stime
end = max(r[2] for r in results)
prev = cpu_ticks()
while True:
    time.sleep(1)
    now = cpu_ticks()
    if now - prev <= 2:  # clock ticks (1/100 s)
        break
    prev = now
idle, afters = time.monotonic() - 1, []
for a in after_secs:
    time.sleep(max(0, idle + a - time.monotonic()))
    afters.append((a, status()))
stop.set(); th.join()
hwm = max(peak_sampled, afters[-1][1]["VmHWM"])
counts = collections.Counter(r[0] for r in results)
ok = sorted(r[1] for r in results if r[0] == 200)
print(f"answers: 200: {counts.pop(200, 0)}, 503: {counts.pop(503, 0)}, other: {dict(counts) or 0}"
      + (f" (after {len(retries)} answers 503 retried as Retry-After says)" if retry else ""))
if ok:
    print(f"200 latency: min {ok[0]:.1f} s, median {ok[len(ok) // 2]:.1f} s, max {ok[-1]:.1f} s")
print(f"wall time (first request to last answer): {wall:.1f} s; server idle {max(0, idle - end):.1f} s after it")
print(f"RSS: before {mb(before)}, peak {mb(hwm)} (VmHWM; sampled max {mb(peak_sampled)}), "
      + ", ".join(f"{a:g} s after idle {mb(st['VmRSS'])} ({st['Threads']} threads)" for a, st in afters))
PY
  kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=""
done
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
