#!/usr/bin/env python3
"""Writes an OCI image layout holding one Trivy-DB-shaped artifact whose layer is SIZE_MB of
incompressible bytes (like a gzip'd DB).  Usage: gen_oci_layout.py DIR SIZE_MB [TAG]"""
import hashlib, json, os, sys
d, mb = sys.argv[1], int(sys.argv[2]); tag = sys.argv[3] if len(sys.argv) > 3 else "2"
blobs = os.path.join(d, "blobs", "sha256"); os.makedirs(blobs, exist_ok=True)
def put(b):
    h = hashlib.sha256(b).hexdigest()
    open(os.path.join(blobs, h), "wb").write(b)
    return "sha256:" + h
layer = os.urandom(mb << 20)
cfg = b"{}"
m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": "application/vnd.aquasec.trivy.config.v1+json",
                "config": {"mediaType": "application/vnd.aquasec.trivy.config.v1+json", "digest": put(cfg), "size": len(cfg)},
                "layers": [{"mediaType": "application/vnd.stella.bench.layer.v1", "digest": put(layer), "size": len(layer),
                            "annotations": {"org.opencontainers.image.title": "db.tar.gz"}}]}).encode()
md = put(m)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(m),
          "annotations": {"org.opencontainers.image.ref.name": tag}}]}, open(os.path.join(d, "index.json"), "w"))
open(os.path.join(d, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
