"""Words of the session view pages (Bulgarian first, English)."""

WORDS: dict[str, dict[str, str]] = {
    "bg": {},
    "en": {},
}
