"""Human-readable sizes."""


def human_size(size: float) -> str:
    """Decimal units, as buildah and docker print sizes ("4.53 MB")."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.3g} {unit}"
        size /= 1000
    return f"{size} B"
