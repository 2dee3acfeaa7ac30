"""MkDocs hook: pages and figures that live elsewhere in the repository join the site as they are, at build time.

The result tables and figures under experiments/results/ (each written by the command at its top), the stores',
corpora's and speed benchmarks' READMEs and the changelog are the documents themselves, not copies: editing or
regenerating them changes the site; the home page's headline table is read from headline.md. A result page that the navigation does not list fails a strict build, so each
table and figure stays reachable from the navigation.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

from mkdocs.structure.files import File, Files, InclusionLevel

log = logging.getLogger("mkdocs.hooks.repository_files")
REPOSITORY = Path(__file__).resolve().parents[2]
RESULTS = REPOSITORY / "experiments" / "results"
SINGLE_FILES = {  # repository path -> path in the site
    "features/README.md": "reference/feature-stores.md",
    "text_corpora/README.md": "reference/text-corpora.md",
    "bench/README.md": "reference/speed.md",
    "CHANGELOG.md": "changelog.md",
}
PUBLISHED = (".md", ".png", ".json")  # a result's table, its figures and its raw figures
HEADLINE = "<!-- headline-table -->"  # in a page, replaced by the table of experiments/results/headline.md


def repository_files() -> dict[str, Path]:
    """Site path -> file in the repository."""
    found = {f"results/{p.relative_to(RESULTS).as_posix()}": p
             for p in sorted(RESULTS.rglob("*")) if p.is_file() and p.suffix in PUBLISHED}
    found.update({site: REPOSITORY / repo for repo, site in SINGLE_FILES.items()})
    return found


def on_files(files: Files, config) -> Files:
    for site_path, source in repository_files().items():
        if files.get_file_from_path(site_path) is not None:
            log.warning(f"docs/{site_path} hides {source.relative_to(REPOSITORY)}: remove the copy")
            continue
        files.append(File.generated(config, site_path, abs_src_path=str(source), inclusion=InclusionLevel.INCLUDED))
    return files


def on_nav(nav, config, files):
    listed = {page.file.src_uri for page in nav.pages}
    for site_path in repository_files():
        if site_path.endswith(".md") and site_path not in listed:
            log.warning(f"{site_path} ({RESULTS.relative_to(REPOSITORY)} or a README) is in no navigation entry of "
                        "mkdocs.yml: add it, so that a reader can find it")
    return nav


def on_config(config):
    config.watch.extend(str(p) for p in (RESULTS, *(REPOSITORY / f for f in SINGLE_FILES)) if p.exists())
    return config


def headline_table() -> str:
    """The first table of headline.md (written by experiments/headline.py: the README's), its lines as they are."""
    lines = (RESULTS / "headline.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    return "\n".join(itertools.takewhile(lambda line: line.startswith("|"), lines[start:]))


def on_page_markdown(markdown: str, page, config, files) -> str:
    return markdown.replace(HEADLINE, headline_table()) if HEADLINE in markdown else markdown
