"""Words of the console pages (Bulgarian first, English)."""

WORDS: dict[str, dict[str, str]] = {
    "bg": {},
    "en": {},
}
