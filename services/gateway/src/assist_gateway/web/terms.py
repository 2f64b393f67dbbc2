"""The terms as the customer reads them: their Markdown source rendered to HTML, then sanitised.

The text consented to stays the Markdown source (the consent service hashes it and the receipt names it); this
is presentation only. Raw HTML in the source is not passed through (markdown-it's `html` option is off), and the
sanitiser keeps only headings, paragraphs, lists, emphasis and links (http, https, mailto) with
`rel="noopener nofollow"`: no scripts, images, styles, event attributes or `javascript:` links, whatever the
source says.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "em", "strong", "a", "br", "blockquote",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
ALLOWED_SCHEMES = {"http", "https", "mailto"}

# CommonMark without raw HTML, without images and tables (the sanitiser would drop them anyway).
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable(["image", "html_inline", "html_block"])


@lru_cache(maxsize=32)
def render_terms(source: str) -> Markup:
    """Safe HTML of the terms' Markdown `source`, ready to be put into a template as it is."""
    html = _markdown.render(source or "")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener nofollow",
        strip_comments=True,
    )
    return Markup(clean)  # noqa: S704 - sanitised just above: only the allowed tags and attributes remain
