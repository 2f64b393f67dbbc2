"""The versioned terms: reviewed files `assist_consent/terms/<version>.<lang>.md`; the newest is current."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .domain import DEFAULT_LANGUAGE, LANGUAGES

_FILE_NAME = re.compile(r"^(?P<version>\d{4}-\d{2}-\d{2})\.(?P<lang>[a-z]{2})\.md$")


@dataclass(frozen=True)
class TermsDocument:
    version: str
    lang: str
    text: str
    sha256: str


def terms_sha256(text: str) -> str:
    """What a consent records to prove which text was shown: hex sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_terms_file_name(name: str) -> tuple[str, str] | None:
    """(version, lang) of a terms file, or None for any other file."""
    match = _FILE_NAME.match(name)
    if match is None:
        return None
    return match["version"], match["lang"]


class TermsCatalog:
    """Every version of the terms in every language; the current version is the newest."""

    def __init__(self, documents: list[TermsDocument]) -> None:
        if not documents:
            raise ValueError("no terms documents found")
        self._documents = {(doc.version, doc.lang): doc for doc in documents}
        self.versions = sorted({doc.version for doc in documents})
        for version in self.versions:
            missing = [lang for lang in LANGUAGES if (version, lang) not in self._documents]
            if missing:
                raise ValueError(f"terms version {version} lacks language(s) {missing}")
        self.current_version = self.versions[-1]

    def get(self, version: str, lang: str = DEFAULT_LANGUAGE) -> TermsDocument | None:
        return self._documents.get((version, lang))

    def current(self, lang: str = DEFAULT_LANGUAGE) -> TermsDocument:
        document = self.get(self.current_version, lang)
        if document is None:
            raise KeyError(f"no terms in language {lang!r}")
        return document


def build_catalog(files: dict[str, str]) -> TermsCatalog:
    """A catalog from {file name: text}; files that are not terms are ignored, unknown languages refused."""
    documents = []
    for name, text in files.items():
        parsed = parse_terms_file_name(name)
        if parsed is None:
            continue
        version, lang = parsed
        if lang not in LANGUAGES:
            raise ValueError(f"terms file {name}: unknown language {lang!r}")
        documents.append(TermsDocument(version=version, lang=lang, text=text, sha256=terms_sha256(text)))
    return TermsCatalog(documents)


@lru_cache
def terms_catalog() -> TermsCatalog:
    """The terms shipped inside this package (read once: they change only with a release)."""
    folder = resources.files("assist_consent") / "terms"
    files = {entry.name: entry.read_bytes().decode("utf-8") for entry in folder.iterdir() if entry.is_file()}
    return build_catalog(files)
