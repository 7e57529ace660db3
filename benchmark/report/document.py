"""The report as a list of blocks, written out twice: Markdown with figures alongside, and one HTML page
that carries its figures inside it (base64), so it opens from disk, mailed or moved, with no server."""
from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Text:
    text: str  # inline Markdown only: **bold**, `code`, [label](link)


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    frame: pd.DataFrame
    name: str  # files tables/<name>.csv, .md and .tex
    shown: bool = True  # False: only the files (a table too long to read in the page; a figure shows it)


@dataclass
class Figure:
    path: Path
    alt: str


Block = Heading | Text | Bullets | Table | Figure


def markdown_table(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False, disable_numparse=True)


def latex_table(df: pd.DataFrame) -> str:
    """booktabs rules, LaTeX specials escaped; ± as $\\pm$ so it needs no text-mode package."""
    styler = df.style.hide(axis="index").format(escape="latex", na_rep="-").format_index(escape="latex", axis=1)
    return styler.to_latex(hrules=True, column_format="l" * len(df.columns)).replace("±", r"$\pm$")


def write_tables(blocks: list[Block], tables_dir: Path) -> None:
    tables_dir.mkdir(parents=True, exist_ok=True)
    for block in blocks:
        if isinstance(block, Table):
            block.frame.to_csv(tables_dir / f"{block.name}.csv", index=False)
            (tables_dir / f"{block.name}.md").write_text(markdown_table(block.frame) + "\n")
            (tables_dir / f"{block.name}.tex").write_text(latex_table(block.frame))


def to_markdown(blocks: list[Block], out_dir: Path, *, title: str) -> str:
    lines: list[str] = [f"# {title}", ""]
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Text):
            lines += [block.text, ""]
        elif isinstance(block, Bullets):
            lines += [f"- {item}" for item in block.items] + [""]
        elif isinstance(block, Table) and block.shown:
            lines += [markdown_table(block.frame), ""]
        elif isinstance(block, Figure):
            lines += [f"![{block.alt}]({block.path.relative_to(out_dir).as_posix()})", ""]
    return "\n".join(lines)


_INLINE = [(re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"), (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
           (re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"), r'<a href="\2">\1</a>')]


def inline_html(text: str) -> str:
    out = html.escape(text, quote=True)
    for pattern, replacement in _INLINE:
        out = pattern.sub(replacement, out)
    return out


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; } h2 { margin-top: 2em; border-bottom: 1px solid #eee; }
table { border-collapse: collapse; margin: .5em 0 .2em; font-size: 0.86em; }
th, td { border: 1px solid #d0d0d0; padding: 3px 8px; text-align: left; white-space: nowrap; }
th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }
.scroll { overflow-x: auto; } .downloads { font-size: 0.8em; color: #666; margin-bottom: 1em; }
img { max-width: 100%; height: auto; display: block; margin: .5em 0 1.2em; }
code { background: #f3f3f3; padding: 0 3px; border-radius: 3px; } nav ul { columns: 2; font-size: 0.9em; }
"""


def to_html(blocks: list[Block], out_dir: Path, *, title: str) -> str:
    body, toc = [], []
    for block in blocks:
        if isinstance(block, Heading):
            anchor = _anchor(block.text)
            if block.level == 2:
                toc.append(f'<li><a href="#{anchor}">{inline_html(block.text)}</a></li>')
            body.append(f'<h{block.level} id="{anchor}">{inline_html(block.text)}</h{block.level}>')
        elif isinstance(block, Text):
            body.append(f"<p>{inline_html(block.text)}</p>")
        elif isinstance(block, Bullets):
            body.append("<ul>" + "".join(f"<li>{inline_html(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table) and block.shown:
            table = block.frame.to_html(index=False, border=0, na_rep="-", escape=True)
            links = " · ".join(f'<a href="tables/{block.name}.{ext}">{ext}</a>' for ext in ("csv", "md", "tex"))
            body.append(f'<div class="scroll">{table}</div><div class="downloads">{links}</div>')
        elif isinstance(block, Figure):
            data = base64.b64encode(block.path.read_bytes()).decode()
            body.append(f'<img alt="{html.escape(block.alt)}" src="data:image/png;base64,{data}">')
    nav = f"<nav><ul>{''.join(toc)}</ul></nav>" if len(toc) > 2 else ""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"<style>{_STYLE}</style>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n{nav}\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
