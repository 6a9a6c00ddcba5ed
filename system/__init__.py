"""Host-system helpers: external tools, atomic files, locks, mounts."""
