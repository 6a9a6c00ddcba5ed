"""Layer archives: change detection, deterministic layer tars, compression, and extraction
confined to a root."""
