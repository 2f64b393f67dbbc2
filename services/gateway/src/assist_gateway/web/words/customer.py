"""Words of the customer pages (Bulgarian first, English)."""

WORDS: dict[str, dict[str, str]] = {
    "bg": {},
    "en": {},
}
