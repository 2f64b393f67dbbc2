"""The pages' words by area, one module each, merged into `i18n.MESSAGES`.

Each module holds `WORDS = {"bg": {...}, "en": {...}}` with the same keys in both languages
(tests/test_i18n_words.py checks it). Keys are unique across modules: a clash is an error at import.
"""
