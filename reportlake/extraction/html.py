"""HTML to text: the article, without scripts, styles, navigation and other page chrome.

selectolax (Lexbor) parses without fetching anything: no external entities, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from reportlake.errors import ExtractionError
from reportlake.extraction.text import decode_text
from reportlake.models import Document

_DROP_TAGS = (
    "script", "style", "noscript", "iframe", "svg", "canvas", "nav", "header", "footer", "aside",
    "form", "template", "button", "select", "input", "textarea", "object", "embed", "link",
    "meta", "head",
)  # fmt: skip
# class/id words that mark page chrome on portals (menus, share bars, recommendations, ads).
_CHROME = re.compile(
    r"(^|[-_\s])(nav|navbar|menu|sidebar|side|breadcrumbs?|crumb|comments?|share|social|"
    r"footer|header|topbar|toolbar|login|banner|popup|modal|ads?|advert\w*|recommend\w*|"
    r"related|hot|rank\w*|tags?|copyright|qrcode|app-?download)($|[-_\s])",
    re.IGNORECASE,
)
_BLOCK = {
    "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
    "ol", "table", "tr", "pre", "blockquote", "br", "hr", "dl", "dt", "dd", "figure",
    "figcaption", "caption", "center",
}  # fmt: skip
_CELL = {"td", "th"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def _declared_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii").lower() if match else None


def _is_chrome(node: LexborNode) -> bool:
    attrs = node.attributes
    marker = " ".join(v for k, v in attrs.items() if k in {"class", "id", "role"} and v)
    return bool(marker and _CHROME.search(marker))


def _content_root(tree: LexborHTMLParser) -> LexborNode | None:
    """The article: <article>/<main>, else the container holding the most paragraph text."""
    for selector in ("article", "main", "[role=main]"):
        nodes = tree.css(selector)
        if nodes:
            return max(nodes, key=lambda n: len(n.text(strip=True)))
    best, best_score = None, 0
    for node in tree.css("div, section, td"):
        score = sum(len(p.text(strip=True)) for p in node.css("p"))
        if score > best_score:
            best, best_score = node, score
    return best or tree.body


def _render(node: LexborNode, out: list[str]) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            out.append(child.text_content or "")
        elif tag in _BLOCK:
            out.append("\n")
            _render(child, out)
            out.append("\n")
        elif tag in _CELL:
            _render(child, out)
            out.append("\t")
        elif tag not in {"-comment", "_comment"}:
            _render(child, out)


def _embedded_sources(tree: LexborHTMLParser) -> list[str]:
    """Where an <iframe>, <embed> or <object> pulls content from (a viewer, the PDF itself)."""
    found = (
        node.attributes.get("src") or node.attributes.get("data")
        for node in tree.css("iframe, embed, object")
    )
    return [src.strip() for src in found if src and src.strip()]


@dataclass(frozen=True)
class Page:
    """What an HTML page holds: its heading, its article text and the content it embeds."""

    heading: str
    body: str
    embedded: list[str]

    @property
    def text(self) -> str:
        """The article, headed by the page's heading unless the article starts with it."""
        if self.heading and self.heading not in self.body[: len(self.heading) + 200]:
            return f"{self.heading}\n{self.body}"
        return self.body


def read_page(html: str) -> Page:
    """The heading, the readable article text (one paragraph per line) and embedded sources."""
    tree = LexborHTMLParser(html)
    title = tree.css_first("title")
    h1 = tree.css_first("h1")
    heading = (h1.text(strip=True) if h1 else "") or (title.text(strip=True) if title else "")
    embedded = _embedded_sources(tree)
    for node in tree.css(", ".join(_DROP_TAGS)):
        node.decompose()
    for node in tree.css("[class], [id], [role]"):
        if node.tag not in {"html", "body", "article", "main"} and _is_chrome(node):
            node.decompose()
    root = _content_root(tree)
    parts: list[str] = []
    if root is not None:
        _render(root, parts)
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in "".join(parts).split("\n")]
    return Page(heading, "\n".join(line for line in lines if line), embedded)


def _no_article(page: Page) -> ExtractionError:
    shown = f" (only its title {page.heading[:60]!r})" if page.heading else ""
    if page.embedded:
        where = f"it embeds {page.embedded[0][:200]!r}"
        more = f" and {len(page.embedded) - 1} more" if len(page.embedded) > 1 else ""
        return ExtractionError(
            f"HTML page has no article text{shown}; {where}{more} in a frame: fetch the report "
            "from that address instead of this page"
        )
    return ExtractionError(
        f"HTML page has no article text{shown} outside navigation and scripts (the report is "
        "probably loaded by JavaScript): save the report itself (PDF, or the page as rendered "
        "in a browser) instead"
    )


def extract_html(data: bytes) -> Document:
    """An HTML page (a web repost of a report)."""
    html, encoding = decode_text(data, declared=_declared_charset(data))
    page = read_page(html)
    if not page.body.strip():
        raise _no_article(page)
    text = page.text
    return Document(text=text, format="html", page_count=1, char_count=len(text), encoding=encoding)
