"""Words of the finance pages (Bulgarian first, English)."""

WORDS: dict[str, dict[str, str]] = {
    "bg": {},
    "en": {},
}
