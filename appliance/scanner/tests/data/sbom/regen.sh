#!/usr/bin/env bash
# Regenerate the real-tool SBOM fixtures in this directory (not run by the tests).
#   syft 1.18.1 (CycloneDX 1.6, SPDX 2.3, Syft JSON 16.0.18) over the oracle fixtures:
#     debian12-image.*  docker-archive of a Debian 12 minbase rootfs (mmdebstrap)
#     npm.*             node_modules with lodash 4.17.15, minimist 1.2.0, node-fetch 2.6.0, semver 5.7.1
#     pyvenv.*          venv with requests 2.19.1, urllib3 1.23, jinja2 2.10, pyyaml 5.3, django 3.2.0
#   trivy 0.76.0 (CycloneDX 1.7) over the same docker-archive: debian12-image.trivy.cdx.json
# Needs the oracles (../shared/oracles/install.sh, plus `install.sh trivy`) and network for
# mmdebstrap/pip/npm. The hand-written fixtures (cdx14-*, cdx15-*, spdx-*, bad-*) are not touched.
# Debian package versions follow the current bookworm point release, so after a regen the
# expected versions in appliance/scanner/tests/sbom.rs must be updated too.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
oracles="${ORACLES_DIR:-$here/../../../../../../shared/oracles}"
source "$oracles/env.sh"
work="${1:-/tmp/sbomfix-D}"
"$oracles/syft/make-fixtures.sh" "$work"
cp "$work/sbom/docker-archive.cdx.json" "$here/debian12-image.cdx.json"
python3 "$here/trim.py" "$work/sbom/docker-archive.spdx.json" "$here/debian12-image.spdx.json"
python3 "$here/trim.py" "$work/sbom/docker-archive.syft.json" "$here/debian12-image.syft.json"
for p in npm pyvenv; do
  cp "$work/sbom/$p.cdx.json" "$here/$p.cdx.json"
  python3 "$here/trim.py" "$work/sbom/$p.spdx.json" "$here/$p.spdx.json"
  python3 "$here/trim.py" "$work/sbom/$p.syft.json" "$here/$p.syft.json"
done
trivy image --input "$work/bookworm-docker.tar" --format cyclonedx --quiet \
  --cache-dir "$work/trivycache" --output "$here/debian12-image.trivy.cdx.json"
ls -la "$here"
