"""The report as a list of blocks (:class:`Heading`, :class:`Para`, :class:`Table`, :class:`Image`,
:class:`Details`) and its two renderings: GitHub Markdown (PNGs by relative name) and one self-contained
HTML page (inline CSS, PNGs as base64 data URIs, no external resource or link)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    """Text segments; a segment ``("code", s)`` is shown as inline code, ``("em", s)`` in italics."""

    parts: list


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # right-align these columns
    css: str = ""


@dataclass
class Image:
    name: str  # key of the PNG in the figures dict
    alt: str


@dataclass
class Details:
    summary: str
    blocks: list = field(default_factory=list)
    pre: str | None = None


def _md_text(text: str) -> str:
    return str(text).replace("\n", " ").replace("|", "\\|")


def _md_parts(parts: list) -> str:
    out = []
    for part in parts:
        if isinstance(part, tuple):
            kind, text = part
            out.append(f"`{text}`" if kind == "code" else f"*{_md_text(text)}*")
        else:
            out.append(str(part))
    return "".join(out)


def render_markdown(blocks: list, files: dict[str, str]) -> str:
    """GitHub Markdown of ``blocks``; an :class:`Image` links ``files[name]`` (and is left out without one)."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + _md_text(block.text), ""]
        elif isinstance(block, Para):
            lines += [_md_parts(block.parts), ""]
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(_md_text(h) for h in block.header) + " |")
            lines.append("|" + "|".join("---:" if num else ":---" for num in block.numeric) + "|")
            for row in block.rows:
                lines.append("| " + " | ".join(_md_text(c) for c in row) + " |")
            lines.append("")
        elif isinstance(block, Image):
            if block.name in files:
                lines += [f"![{_md_text(block.alt)}]({files[block.name]})", ""]
        elif isinstance(block, Details):
            lines += ["<details>", f"<summary>{html.escape(block.summary)}</summary>", ""]
            if block.blocks:
                lines.append(render_markdown(block.blocks, files))
            if block.pre is not None:
                lines += ["```json", block.pre, "```", ""]
            lines += ["</details>", ""]
    return "\n".join(lines).rstrip() + "\n"


_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #222;
       max-width: 1080px; margin: 2em auto; padding: 0 1.2em; line-height: 1.45; }
h1 { font-size: 1.7em; border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #eee; padding-bottom: .2em; }
h3 { font-size: 1.1em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: .8em 0 1.2em; font-size: .92em; }
th, td { border: 1px solid #d0d7de; padding: .35em .7em; }
th { background: #f3f5f7; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafbfc; }
img { max-width: 100%; height: auto; display: block; margin: .6em 0 1.2em; }
code, pre { background: #f3f5f7; border-radius: 4px; font-family: Menlo, Consolas, monospace; }
code { padding: .1em .3em; font-size: .9em; }
pre { padding: .8em; overflow-x: auto; font-size: .85em; }
details { margin: .8em 0; }
summary { cursor: pointer; font-weight: 600; }
"""


def _html_parts(parts: list) -> str:
    out = []
    for part in parts:
        if isinstance(part, tuple):
            kind, text = part
            tag = "code" if kind == "code" else "em"
            out.append(f"<{tag}>{html.escape(str(text))}</{tag}>")
        else:
            out.append(html.escape(str(part)))
    return "".join(out)


def _render_html_blocks(blocks: list, pngs: dict[str, bytes]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            out.append(f"<p>{_html_parts(block.parts)}</p>")
        elif isinstance(block, Table):
            cls = lambda n: ' class="num"' if block.numeric[n] else ""  # noqa: E731
            head = "".join(f"<th{cls(n)}>{html.escape(h)}</th>" for n, h in enumerate(block.header))
            body = "".join(
                "<tr>" + "".join(f"<td{cls(n)}>{html.escape(c)}</td>" for n, c in enumerate(row)) + "</tr>"
                for row in block.rows
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(block, Image):
            if block.name in pngs:
                data = base64.b64encode(pngs[block.name]).decode("ascii")
                out.append(f'<img alt="{html.escape(block.alt)}" src="data:image/png;base64,{data}">')
        elif isinstance(block, Details):
            out.append(f"<details><summary>{html.escape(block.summary)}</summary>")
            out += _render_html_blocks(block.blocks, pngs)
            if block.pre is not None:
                out.append(f"<pre>{html.escape(block.pre)}</pre>")
            out.append("</details>")
    return out


def render_html(title: str, blocks: list, pngs: dict[str, bytes]) -> str:
    """One self-contained HTML page of ``blocks``: inline CSS, each :class:`Image` embedded from ``pngs``."""
    body = "\n".join(_render_html_blocks(blocks, pngs))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )

