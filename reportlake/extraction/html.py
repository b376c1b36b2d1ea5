"""HTML to text: the article, without scripts, styles, navigation and other page chrome.

selectolax (Lexbor) parses without fetching anything: no external entities, no network.
"""

from __future__ import annotations

import re

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


def html_to_text(html: str) -> str:
    """The readable article text of a page, one paragraph per line."""
    tree = LexborHTMLParser(html)
    title = tree.css_first("title")
    title_text = title.text(strip=True) if title else ""
    h1 = tree.css_first("h1")
    h1_text = h1.text(strip=True) if h1 else ""
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
    text = "\n".join(line for line in lines if line)
    heading = h1_text or title_text
    if heading and heading not in text[: len(heading) + 200]:
        text = f"{heading}\n{text}"
    return text


def extract_html(data: bytes) -> Document:
    """An HTML page (a web repost of a report)."""
    html, encoding = decode_text(data, declared=_declared_charset(data))
    text = html_to_text(html)
    if not text.strip():
        raise ExtractionError("HTML page has no readable text outside navigation and scripts")
    return Document(text=text, format="html", page_count=1, char_count=len(text), encoding=encoding)
