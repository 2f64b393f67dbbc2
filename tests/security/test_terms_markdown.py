"""The terms are Markdown rendered to HTML on the server (web/terms.py): whatever a terms text holds, only
headings, paragraphs, lists, emphasis and links (http, https, mailto; rel="noopener nofollow") reach the page.
No script, raw HTML, image, style, frame, event attribute or `javascript:` link survives.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest
from assist_gateway.web.terms import ALLOWED_TAGS, render_terms

HOSTILE = [
    "<script>alert(1)</script>",
    "Text <script src=https://evil.example/x.js></script> more",
    "<img src=x onerror=alert(1)>",
    "![pixel](https://evil.example/track.png)",
    "![x](javascript:alert(1))",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "<javascript:alert(1)>",
    "[click][evil]\n\n[evil]: javascript:alert(1)",
    '[x](https://example.com "a\\" onmouseover=\\"alert(1)")',
    '<a href="javascript:alert(1)">raw link</a>',
    "<iframe src=https://evil.example></iframe>",
    "<style>body{display:none}</style>",
    "<svg onload=alert(1)><circle r=1></circle></svg>",
    "<div onclick=alert(1)>block</div>",
    "<p style=\"background:url(javascript:alert(1))\">styled</p>",
    "<!-- a comment --><b>bold</b>",
    "<form action=https://evil.example><input name=card></form>",
    "<meta http-equiv=refresh content=0;url=https://evil.example>",
    "<object data=x.swf></object><embed src=x.swf>",
    "```html\n<script>alert(1)</script>\n```",
    "# Heading <script>alert(1)</script>",
    "* item <img src=x onerror=alert(1)>",
]


class Elements(HTMLParser):
    """Every element and its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser.found


def assert_safe(html: str) -> None:
    for tag, attrs in elements(html):
        assert tag in ALLOWED_TAGS, (tag, html)
        allowed = {"a": {"href", "title", "rel"}, "ol": {"start"}}.get(tag, set())
        assert set(attrs) <= allowed, (tag, attrs, html)
        if tag == "a":
            href = (attrs.get("href") or "").strip()
            assert re.match(r"^(https?:|mailto:)", href, re.IGNORECASE), (href, html)
            assert attrs.get("rel") == "noopener nofollow", (attrs, html)
    # The tags alone (text, where raw HTML stays as visible, escaped text, is left out): no hostile markup.
    lowered = re.sub(r">[^<]*<", "><", html).lower()
    for marker in ("<script", "<img", "<iframe", "<style", "<svg", "<form", "<input", "<meta", "<object", "<embed",
                   "onerror=\"", "onload=\"", "onclick=\"", "onmouseover=\"", "href=\"javascript", "href=\"data",
                   "href=\"vbscript", "<!--"):
        assert marker not in lowered, (marker, html)


@pytest.mark.parametrize("source", HOSTILE)
def test_no_hostile_markup_survives(source):
    html = str(render_terms(f"# Terms\n\n{source}\n\nThe end."))
    assert_safe(html)
    assert "<h1>Terms</h1>" in html and "The end." in html


def test_hostile_markup_all_at_once():
    assert_safe(str(render_terms("\n\n".join(HOSTILE))))


def test_the_terms_structure_is_kept():
    html = str(render_terms(
        "# Title\n\n## 1. Part\n\n1.1. A *soft* and **strong** point.\n\n- one\n- two\n\n3. three\n4. four\n\n"
        "[Our site](https://example.com/terms) and [mail](mailto:help@example.com)."
    ))
    assert_safe(html)
    assert [tag for tag, _ in elements(html)] == [
        "h1", "h2", "p", "em", "strong", "ul", "li", "li", "ol", "li", "li", "p", "a", "a"]
    assert '<a href="https://example.com/terms" rel="noopener nofollow">Our site</a>' in html
    assert '<ol start="3">' in html


@pytest.mark.e2e
async def test_the_page_shows_the_sanitised_rendering_of_the_terms_it_is_consented_to(system):
    async with httpx.AsyncClient(base_url=system.gateway_url) as client:
        for lang in ("bg", "en"):
            terms = (await client.get("/api/v1/terms", params={"lang": lang})).json()
            page = (await client.get("/", params={"lang": lang})).text
            shown = re.search(r'<div class="terms" id="terms"[^>]*>(.*?)</div>', page, re.DOTALL)
            assert shown, page[:2000]
            assert shown.group(1) == str(render_terms(terms["text"]))
            assert_safe(shown.group(1))
            assert f'id="terms_version" value="{terms["version"]}"' in page
