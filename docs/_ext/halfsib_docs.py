"""Sphinx extension for the halfsib documentation: pages generated from the code.

Directives
----------
``halfsib-cli``
    The command-line reference, rendered from :func:`halfsib.cli.build_parser` at build
    time: one section per subcommand (its one-line help and its full ``--help`` text),
    so a subcommand registered in ``halfsib.cli.SUBCOMMANDS`` appears without editing
    the docs.
``halfsib-more-pages``
    A toctree for chapters that may or may not exist yet: the pages named in its content
    that exist, in that order, then every other top-level page of ``docs/`` that no other
    toctree of the same document lists (so a new chapter is never left out of the build).
``halfsib-api``
    The API reference: every public name in ``halfsib._EXPORTS``, grouped by the module
    that defines it, as an autosummary table followed by its autodoc entry, so a new
    export appears without editing the docs.

Build hook
----------
At ``config-inited`` the tutorial notebooks ``examples/*.ipynb`` are copied into
``docs/tutorials/`` (git-ignored), where the ``tutorials`` page's glob toctree and
myst-nb's execution pick them up.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.directives.other import TocTree
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

#: width of the rendered ``--help`` texts (argparse reads $COLUMNS)
HELP_WIDTH = 92

REPO = Path(__file__).resolve().parents[2]

logger = logging.getLogger(__name__)


@contextmanager
def _columns(width: int) -> Iterator[None]:
    """Temporarily set ``$COLUMNS`` so argparse wraps at ``width`` characters."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """The (name, one-line help, parser) of every subcommand, in ``--help`` order.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The top-level parser.

    Returns
    -------
    list of tuple
        One entry per subcommand; empty when the parser has none.
    """
    found = []
    for action in parser._actions:  # argparse keeps subparsers only as a private action
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((name, helps.get(name, ""), sub))
    return found


class CliDirective(SphinxDirective):
    """Render the whole ``halfsib`` command line from its argparse parser."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from halfsib.cli import build_parser

        parser = build_parser()
        with _columns(HELP_WIDTH):
            top_help = parser.format_help()
            commands = [(name, line, sub.format_help()) for name, line, sub in subcommands(parser)]
        result: list[nodes.Node] = []

        table = nodes.table(classes=["halfsib-cli-summary"])
        group = nodes.tgroup(cols=2)
        table += group
        group += nodes.colspec(colwidth=20)
        group += nodes.colspec(colwidth=80)
        body = nodes.tbody()
        group += body
        for name, line, _ in commands:
            row = nodes.row()
            ref = nodes.reference("", "", internal=True, refid=nodes.make_id(f"halfsib-{name}"))
            ref += nodes.literal(text=f"halfsib {name}")
            row += nodes.entry("", nodes.paragraph("", "", ref))
            row += nodes.entry("", nodes.paragraph(text=line))
            body += row
        result.append(table)

        result.append(self._section("halfsib", "The top-level command: the list of subcommands and the version.",
                                    top_help))
        for name, line, text in commands:
            result.append(self._section(f"halfsib {name}", line[:1].upper() + line[1:] + ".", text))
        return result

    def _section(self, title: str, summary: str, help_text: str) -> nodes.section:
        section_id = nodes.make_id(title)
        section = nodes.section(ids=[section_id], names=[nodes.fully_normalize_name(title)])
        section += nodes.title(text=title)
        section += nodes.paragraph(text=summary)
        section += nodes.literal_block(help_text, help_text, language="text")
        self.state.document.note_implicit_target(section, section)
        return section


class ApiDirective(SphinxDirective):
    """Autosummary plus autodoc for every public name of ``halfsib`` (for a MyST page)."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        import halfsib

        by_module: dict[str, list[str]] = {}
        for name, module in halfsib._EXPORTS.items():
            by_module.setdefault(f"halfsib.{module}", []).append(name)
        lines: list[str] = []
        for module, names in by_module.items():
            lines += [module, "-" * len(module), "", f".. currentmodule:: {module}", "",
                      ".. autosummary::", "   :nosignatures:", ""]
            lines += [f"   {name}" for name in names]
            lines.append("")
            for name in names:
                try:
                    obj = getattr(importlib.import_module(module), name)
                except Exception as err:  # reported as a build warning (an error with -W)
                    logger.warning("halfsib.%s (from %s) cannot be imported: %s", name, module, err,
                                   location=self.get_location())
                    continue
                if isinstance(obj, type):
                    lines += [f".. autoclass:: {name}", "   :members:", "   :show-inheritance:", ""]
                elif callable(obj):
                    lines += [f".. autofunction:: {name}", ""]
                else:
                    lines += [f".. autodata:: {name}", ""]
        # MyST pages parse nested content as Markdown: hand the reStructuredText to eval-rst
        content = StringList(["```{eval-rst}", *lines, "```"], source="<halfsib-api>")
        holder = nodes.section()
        holder.document = self.state.document
        nested_parse_with_titles(self.state, content, holder)
        return holder.children


#: top-level sources that are never chapters (search.md is included by transit_search.md)
NOT_CHAPTERS = {"index", "search"}

_TOCTREE = re.compile(r"^(?:```|:::)\{toctree\}[^\n]*\n(.*?)^(?:```|:::)\s*$", re.M | re.S)


def listed_in_toctrees(source: str) -> set[str]:
    """Document names listed in the ``{toctree}`` blocks of a MyST source."""
    names: set[str] = set()
    for block in _TOCTREE.findall(source):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                names.add(line.removesuffix(".md"))
    return names


class MorePagesDirective(TocTree):
    """A toctree of optional chapters plus every top-level page not listed elsewhere."""

    def run(self) -> list[nodes.Node]:
        srcdir = Path(self.env.srcdir)
        exists = {path.stem for path in srcdir.glob("*.md")} - NOT_CHAPTERS
        wanted = [line.strip().removesuffix(".md") for line in self.content if line.strip()]
        source = Path(self.env.doc2path(self.env.docname)).read_text(encoding="utf-8")
        listed = listed_in_toctrees(source) | set(wanted) | {self.env.docname}
        pages = [name for name in wanted if name in exists] + sorted(exists - listed)
        self.content = StringList(pages, source=self.content.source(0) if self.content else "<more-pages>")
        if not pages:
            return []
        return super().run()


_SHARED_ENTRY = re.compile(r"^(\s*)(\w+(?:\s*,\s*\w+)+)\s*:(.*)$")


def split_shared_attributes(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Give each name of ``a, b : type`` in an ``Attributes`` section its own entry.

    numpydoc allows several names to share one entry; napoleon handles that in
    ``Parameters`` but renders ``a, b`` in ``Attributes`` as a name ``b`` with type ``a,``.
    Runs before napoleon (lower priority number) and edits ``lines`` in place.
    """
    out: list[str] = []
    in_attributes = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"} and line.strip():
            in_attributes = line.strip() == "Attributes"
        match = _SHARED_ENTRY.match(line) if in_attributes else None
        if match is None:
            out.append(line)
            i += 1
            continue
        indent, names, rest = match.groups()
        body = []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        for each in (n.strip() for n in names.split(",")):
            out += [f"{indent}{each} :{rest}", *body]
        out.append("")
    lines[:] = out


def copy_tutorials(app: Sphinx, config: Config) -> None:
    """Copy ``examples/*.ipynb`` into ``docs/tutorials/`` (only when changed)."""
    target = Path(app.srcdir) / "tutorials"
    target.mkdir(exist_ok=True)
    wanted = {path.name: path for path in sorted((REPO / "examples").glob("*.ipynb"))}
    for stale in target.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    for name, source in wanted.items():
        copy = target / name
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            shutil.copyfile(source, copy)


def reread_more_pages(app: Sphinx, env: Any, added: set[str], changed: set[str], removed: set[str]) -> list[str]:
    """Re-read the documents with a ``halfsib-more-pages`` toctree when pages come or go."""
    if not (added or removed):
        return []
    return [name for name in env.found_docs if name not in added and _has_more_pages(env, name)]


def _has_more_pages(env: Any, docname: str) -> bool:
    path = Path(env.doc2path(docname))
    return path.suffix == ".md" and "{halfsib-more-pages}" in path.read_text(encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives and the tutorial hook."""
    app.add_directive("halfsib-cli", CliDirective)
    app.add_directive("halfsib-api", ApiDirective)
    app.add_directive("halfsib-more-pages", MorePagesDirective)
    app.connect("config-inited", copy_tutorials)
    app.connect("env-get-outdated", reread_more_pages)
    app.connect("autodoc-process-docstring", split_shared_attributes, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
