"""Read the project's Markdown the way GitHub renders it: headings and their anchors, links, tables.

markdown-it-py (CommonMark plus GFM tables) does the parsing, so links inside code blocks or
code spans are not links, and reference-style links are resolved. Anchors follow GitHub's
slug rules (github-slugger): the heading's text lower-cased, every character that is not a
letter, digit, mark, `_`, `-` or space removed, each space turned into `-`; a repeated slug
gets `-1`, `-2`, ... in order of appearance.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[2]
_NOT_SLUG = re.compile(r"[^\w\- ]")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def slug(text: str) -> str:
    """GitHub's anchor for a heading whose rendered text is `text` (before de-duplication)."""
    return _NOT_SLUG.sub("", text.lower()).replace(" ", "-")


def unique_slugs(texts: list[str]) -> list[str]:
    """Anchors for headings in document order: repeats get -1, -2, ... like GitHub's."""
    seen: dict[str, int] = {}
    out = []
    for text in texts:
        base = candidate = slug(text)
        while candidate in seen:
            seen[base] += 1
            candidate = f"{base}-{seen[base]}"
        seen[candidate] = 0
        out.append(candidate)
    return out


def plain_text(inline: Token) -> str:
    """The rendered text of an inline token: text and code spans, markup and HTML dropped."""
    parts: list[str] = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(plain_text(child))
    return "".join(parts)


def code_spans(inline: Token) -> list[str]:
    return [c.content for c in inline.children or [] if c.type == "code_inline"]


@dataclass(frozen=True)
class Link:
    target: str
    line: int  # 1-based, for messages


@dataclass(frozen=True)
class Cell:
    text: str
    code: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headings: tuple[str, ...]  # titles of the enclosing headings, outermost first
    header: tuple[Cell, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass
class Doc:
    path: Path
    anchors: list[str] = field(default_factory=list)
    headings: list[tuple[int, str]] = field(default_factory=list)  # (level, text)
    links: list[Link] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    inlines: list[Token] = field(default_factory=list)  # every paragraph, cell and heading

    def tables_under(self, title: str) -> list[Table]:
        """Tables anywhere below the heading titled `title` (its subsections included)."""
        return [t for t in self.tables if title in t.headings]


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def _links(inline: Token) -> Iterator[Link]:
    line = (inline.map[0] + 1) if inline.map else 0
    for child in inline.children or []:
        if child.type == "link_open":
            yield Link(str(child.attrs.get("href", "")), line)
        elif child.type == "image":
            yield Link(str(child.attrs.get("src", "")), line)


def parse(text: str, path: Path) -> Doc:
    """Headings, anchors, links and tables of one Markdown text."""
    doc = Doc(path)
    stack: list[tuple[int, str]] = []
    tokens = _parser().parse(text)
    table: list[list[Cell]] | None = None
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            level, title = int(token.tag[1]), plain_text(tokens[i + 1])
            doc.headings.append((level, title))
            stack = [h for h in stack if h[0] < level] + [(level, title)]
        elif token.type == "table_open":
            table = []
        elif token.type == "tr_open" and table is not None:
            table.append([])
        elif token.type == "table_close" and table:
            cells = [tuple(row) for row in table]
            titles = tuple(t for _, t in stack)
            doc.tables.append(Table(titles, cells[0], tuple(cells[1:])))
            table = None
        elif token.type == "inline":
            doc.inlines.append(token)
            doc.links.extend(_links(token))
            if table is not None and table and tokens[i - 1].type in ("th_open", "td_open"):
                table[-1].append(Cell(plain_text(token).strip(), tuple(code_spans(token))))
    doc.anchors = unique_slugs([t for _, t in doc.headings])
    return doc


@cache
def load(path: Path) -> Doc:
    return parse(path.read_text(encoding="utf-8"), path)


def project_docs() -> list[Path]:
    """README.md, every docs/*.md and bench/*.md: the Markdown a reader follows links in."""
    docs = sorted((ROOT / "docs").glob("*.md"))
    return [ROOT / "README.md", *docs, *sorted((ROOT / "bench").glob("*.md"))]


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Relative links of `path` whose file is missing or whose #anchor names no heading."""
    problems = []
    for link in load(path).links:
        problem = _check(link.target, path, root)
        if problem:
            problems.append(f"{path.relative_to(root)}:{link.line}: {link.target}: {problem}")
    return problems


def _check(target: str, source: Path, root: Path) -> str | None:
    if not target:
        return "empty link"
    if _SCHEME.match(target) or target.startswith("//"):
        return None  # external (http, https, mailto): not checked
    file_part, _, anchor = target.partition("#")
    resolved = (source.parent / unquote(file_part)).resolve() if file_part else source
    if not resolved.is_relative_to(root.resolve()):
        return "points outside the repository"
    if not resolved.exists():
        return "no such file"
    if not anchor:
        return None
    if resolved.suffix != ".md":
        return "an anchor into a file that is not Markdown"
    if unquote(anchor) not in load(resolved).anchors:
        return f"no heading with anchor #{anchor} in {resolved.name}"
    return None
