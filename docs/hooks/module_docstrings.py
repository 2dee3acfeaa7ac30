"""Griffe extension for the API reference: a module's docstring as written, its indented lines kept indented.

Python's docstring cleaning removes the indentation common to every line after the first; a module docstring whose
only other lines are an indented usage block (``python -m gazsl.aviary build [--out ...]``) would lose its
indentation and render as prose, its ``[--options]`` read as Markdown links. Module docstrings start at column 0,
so the text as written is already clean.
"""

from __future__ import annotations

import ast

import griffe


class ModuleDocstrings(griffe.Extension):
    def on_module_instance(self, *, node, mod, agent, **kwargs) -> None:
        if mod.docstring is None or not isinstance(node, ast.Module):
            return
        raw = ast.get_docstring(node, clean=False)
        if raw is not None:
            mod.docstring.value = raw.strip("\n").rstrip()
