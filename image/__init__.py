"""Image formats: references, OCI/Docker configs and manifests."""
