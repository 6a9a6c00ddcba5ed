"""Running commands in a container's root: OCI runtime spec generation and runc."""
