#!/usr/bin/env python3
"""Makes an OCI image layout from gzip'd layer tarballs, for the benchmarks.

    oci-image.py OUT_DIR TAG LAYER.tar.gz...

Writes OUT_DIR/oci-layout, index.json and blobs/sha256/* (a config with the layers' diffIDs and
a manifest), which `skopeo copy oci:OUT_DIR:TAG docker://...` pushes to a registry.
"""
import gzip, hashlib, json, os, shutil, sys

out, tag, layers = sys.argv[1], sys.argv[2], sys.argv[3:]
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)

def put(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)

descriptors, diff_ids = [], []
for path in layers:
    with open(path, "rb") as f:
        blob = f.read()
    digest, size = put(blob)
    descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size})
    diff_ids.append("sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest())

config = {
    "created": "2026-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]},
    "rootfs": {"type": "layers", "diff_ids": diff_ids},
    "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "benchmark layer %d" % i} for i in range(len(layers))],
}
config_digest, config_size = put(json.dumps(config).encode())
manifest = {
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
    "layers": descriptors,
}
manifest_digest, manifest_size = put(json.dumps(manifest).encode())
with open(os.path.join(out, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
