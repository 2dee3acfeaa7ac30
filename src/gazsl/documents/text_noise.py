"""Noise handling for web text: strip wiki markup, and weight or keep sentences by visual relevance.

Encyclopedia articles describe much more than how a bird looks: taxonomy,
range, diet, conservation, etymology. Only the visual part can help to
generate image features, so each sentence gets a *relevance*:

* ``lexicon``: how many words of a visual lexicon (parts, colours, patterns,
  shapes, sizes) it contains, not counting the class's own name (every
  sentence about the "Red-winged Blackbird" would otherwise look visual);
* ``query``: the cosine similarity of its sentence embedding to a visual
  query such as "the bird has a red crown, a black bill and white wings"
  (needs an embedding function, e.g. MiniLM's).

``mode`` says what relevance does: ``weight`` pools sentence (window)
embeddings weighted by it (MiniLM only), ``keep`` drops all but the most
visual ``keep_fraction`` of sentences (any encoder: the document is rebuilt
from the kept sentences). ``clean`` removes wiki templates (``{convert|71|to(-)|91|cm|in}``
becomes "71-91 cm", ``{citation needed|...}`` and ``{r|birdweb}`` vanish),
reference marks, link debris and reference-list lines, and glues abbreviation
fragments ("l .") back to their sentence.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from gazsl.documents.corpus import Corpus, split_sentences
from gazsl.io import GazslError
from gazsl.documents.stem import stem_words

DEFAULT_QUERY = ("the bird has a red crown, a black bill, a white throat, a yellow breast, "
                 "brown wings with white wing bars, a short tail, grey legs and a streaked belly")

# The visual lexicon. Matching is on Porter stems (gazsl.documents.stem, as TF-IDF), so plurals and most inflections count.
PARTS = """abdomen back beak belly bib bill breast brow cap cheek chest chin collar coverts crest crown ear
eye eyebrow eyering eyeline eyestripe face feather feet flank foot forehead forecrown gape gorget head hood
iris lore lores leg legs mandible mantle mask nape neck nostril plumage primaries primary rump scapulars
secondaries shoulder side supercilium tail tarsus tertials throat toe underparts underside undertail
underwing upperparts uppertail upperwing vent wattle web wing wingbar wingtip""".split()
COLOURS = """black blue brown buff chestnut cinnamon crimson cream dark dusky glossy gold golden gray green grey
iridescent ivory lemon maroon olive orange pale pink purple red rosy rufous russet rust scarlet silver slate
tan tawny violet white yellow bright dull colour color coloured colored""".split()
PATTERNS = """banded bar barred blotch band flecked mottled patch pattern scaled speckled spot spotted streak
streaked stripe striped marking markings plain contrasting""".split()
SHAPES = """conical curved decurved forked hooked notched pointed rounded short slender squared stout stubby
thick thin long broad narrow upturned crested""".split()
SIZES = """cm mm length wingspan weigh weight size small large tiny medium big""".split()
VISUAL_LEXICON = frozenset(PARTS + COLOURS + PATTERNS + SHAPES + SIZES)

# Bump when cleaning or relevance change what they output: cached vectors made by older rules then miss.
RULES_VERSION = 2  # 2: lexicon stems by gazsl.documents.stem (NLTK's Porter variant) instead of PyStemmer's
VISUAL_STEPS = ("lexicon", "query")
STEPS = ("clean",) + VISUAL_STEPS
MODES = ("weight", "keep")


@dataclass
class NoiseSettings:
    clean: bool = False  # strip wiki markup and fragments
    visual: str = "none"  # none | lexicon | query: how sentence relevance is measured
    mode: str = "weight"  # weight | keep: what relevance does (see the module docstring)
    keep_fraction: float = 0.5  # keep mode: the share of sentences kept, most visual first
    query: str = DEFAULT_QUERY  # visual == "query": the text sentences are compared with

    @property
    def active(self) -> bool:
        return self.clean or self.visual != "none"

    @classmethod
    def from_record(cls, record: dict | None) -> "NoiseSettings":
        """The settings ``describe`` recorded; refused when recorded under other rules than this gazsl applies."""
        values = {k: v for k, v in (record or {}).items() if k != "rules_version"}
        try:
            settings = cls(**values)
        except TypeError as err:
            raise GazslError(f"unreadable noise settings {record!r} ({err})") from None
        if settings.active and record.get("rules_version") != RULES_VERSION:
            raise GazslError(f"noise handling of rules version {record.get('rules_version')}, this gazsl applies "
                             f"version {RULES_VERSION}: make the text vectors again")
        return settings

    def describe(self) -> dict:
        """The settings that change the output (the query only when it is used)."""
        record = {**asdict(self), "rules_version": RULES_VERSION} if self.active else asdict(self)
        if self.visual != "query":
            del record["query"]
        if self.visual == "none":
            del record["mode"], record["keep_fraction"]
        elif self.mode != "keep":
            del record["keep_fraction"]
        return record


def parse_steps(steps: str | None, mode: str = "weight", keep_fraction: float = 0.5,
                query: str = DEFAULT_QUERY) -> NoiseSettings:
    """``"clean,lexicon"`` -> NoiseSettings; empty or ``"none"`` turns noise handling off."""
    names = [s.strip() for s in (steps or "").split(",") if s.strip() and s.strip() != "none"]
    unknown = [s for s in names if s not in STEPS]
    if unknown:
        raise GazslError(f"unknown noise step '{unknown[0]}' (available: {', '.join(STEPS)})")
    visual = [s for s in names if s in VISUAL_STEPS]
    if len(visual) > 1:
        raise GazslError(f"choose one visual relevance measure, got {', '.join(visual)}")
    if mode not in MODES:
        raise GazslError(f"unknown noise mode '{mode}' (available: {', '.join(MODES)})")
    if not 0.0 < keep_fraction <= 1.0:
        raise GazslError(f"keep fraction must be in (0, 1], got {keep_fraction}")
    if not query.strip():
        raise GazslError("the visual query is empty")
    return NoiseSettings(clean="clean" in names, visual=visual[0] if visual else "none",
                         mode=mode, keep_fraction=keep_fraction, query=query)


# ---------------------------------------------------------------- markup
_CONVERT = re.compile(r"\{\{?convert\|([^{}]*)\}\}?")  # MediaWiki source writes {{...}}, the GAZSL release {...}
_TEMPLATE = re.compile(r"\{[^{}]*\}")
_REF_MARK = re.compile(r"\[(?:\d+|citation needed|clarification needed|who\??|when\??)\]")
_LINK_DEBRIS = re.compile(r"\[\[|\]\]")
_GALLERY = re.compile(r"\||\b(?:file|image):")  # image captions and sound files of a wiki gallery
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)])")
_ABBREVIATION_END = re.compile(r"(?<![a-z0-9])[a-z]\s?\.$")  # "(l ." or "e . g .": a cut, not an end
_WORD = re.compile(r"[A-Za-z]{2,}")
# Reference-list lines: "BirdLife International (2004). ...", "IUCN Red List of Threatened Species.", "Version 2004.1."
_BOILERPLATE = re.compile(r"^[^.]{0,80}\(\d{4}[a-z]?\)\.|^iucn red list of threatened species|^version [\d.]+$|"
                          r"\b(?:isbn|issn|doi)\b|\bretrieved (?:on |from )?\d", re.IGNORECASE)


def _render_convert(match: re.Match) -> str:
    """``{convert|71|to(-)|91|cm|in|abbr=on}`` -> "71-91 cm": keep the size, drop the conversion."""
    fields = [f.strip() for f in match.group(1).split("|") if "=" not in f]
    numbers, unit = [], ""
    for field in fields:
        if re.fullmatch(r"[\d.,]+", field):
            numbers.append(field)
        elif field and not re.fullmatch(r"to|-|to\(-\)|and|x|by|", field):
            unit = field
            break
    return f"{'-'.join(numbers)} {unit}".strip()


def strip_markup(sentence: str) -> str:
    """Remove wiki templates, reference marks and link debris from one sentence."""
    text = _CONVERT.sub(_render_convert, sentence)
    previous = None
    while previous != text:  # nested templates: innermost first
        previous, text = text, _TEMPLATE.sub(" ", text)
    text = _REF_MARK.sub(" ", text)
    text = _LINK_DEBRIS.sub(" ", text)
    text = text.replace("{", " ").replace("}", " ")
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def clean_sentences(sentences: list[str]) -> list[str]:
    """Strip markup, glue abbreviation fragments ("the shrike (l ." + "meridionalis)") and drop debris."""
    merged: list[str] = []
    carry = ""
    for raw in sentences:
        sentence = (carry + " " + strip_markup(raw)).strip() if carry else strip_markup(raw)
        carry = ""
        if _ABBREVIATION_END.search(sentence):  # the line was cut at an abbreviation like "l ." or "e . g ."
            carry = sentence
            continue
        merged.append(sentence)
    if carry:
        merged.append(carry)
    # A sentence needs a few real words: "." and "2000) ." are splitting debris.
    return [s for s in merged if len(_WORD.findall(s)) >= 3 and not _GALLERY.search(s)
            and not _BOILERPLATE.search(s.rstrip("."))]


# ---------------------------------------------------------------- relevance
@functools.cache
def _lexicon_stems() -> frozenset[str]:
    return frozenset(stem_words(sorted(VISUAL_LEXICON)))


def _name_pattern(class_name: str) -> re.Pattern | None:
    """The class name, and its modifier ("red winged" of "Red_winged_Blackbird"), as a phrase pattern."""
    words = re.findall(r"[a-z]+", class_name.lower())
    if not words:
        return None
    phrases = [" ".join(words)] + ([" ".join(words[:-1])] if len(words) > 1 else [])
    return re.compile(r"\b(?:" + "|".join(re.escape(p) + r"\w*" for p in phrases) + r")\b")


def lexicon_relevance(sentences: list[str], class_name: str = "") -> np.ndarray:
    """(S,) number of visual-lexicon words in each sentence, the class's own name left out."""
    stems = _lexicon_stems()
    name = _name_pattern(class_name)
    counts = np.zeros(len(sentences), dtype=np.float32)
    for i, sentence in enumerate(sentences):
        text = re.sub(r"[-_]", " ", sentence.lower())
        if name is not None:
            text = name.sub(" ", text)
        words = [w[:-3] if w.endswith("ish") and w[:-3] in VISUAL_LEXICON else w for w in re.findall(r"[a-z]+", text)]
        counts[i] = sum(stem in stems for stem in stem_words(words))
    return counts


def query_relevance(sentences: list[str], query: str,
                    embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """(S,) cosine similarity of each sentence to the query; ``embed`` returns L2-normalised rows."""
    vectors = embed(sentences + [query])  # (S + 1, E)
    return np.clip(vectors[:-1] @ vectors[-1], 0.0, None).astype(np.float32)


def select(sentences: list[str], settings: NoiseSettings, class_name: str = "",
           embed: Callable[[list[str]], np.ndarray] | None = None) -> tuple[list[str], np.ndarray]:
    """Apply noise handling to one document's sentences: (sentences, (S,) weights).

    Weights are all ones unless ``mode == "weight"``; a document whose
    sentences are all irrelevant keeps uniform weights rather than vanishing.
    """
    if settings.clean:
        sentences = clean_sentences(sentences) or sentences  # all debris: better the raw text than nothing
    if not sentences:
        return [], np.zeros(0, np.float32)
    ones = np.ones(len(sentences), np.float32)
    if settings.visual == "none":
        return sentences, ones
    if settings.visual == "lexicon":
        relevance = lexicon_relevance(sentences, class_name)
    else:
        if embed is None:
            raise GazslError("noise step 'query' needs a sentence embedding model (the `embed` extra)")
        relevance = query_relevance(sentences, settings.query, embed)
    if settings.mode == "weight":
        return sentences, relevance if relevance.sum() > 0 else ones
    n_keep = max(1, int(round(settings.keep_fraction * len(sentences))))
    order = np.argsort(-relevance, kind="stable")[:n_keep]
    # Never keep an irrelevant sentence, unless nothing in the document is relevant.
    order = [i for i in order if relevance[i] > 0] or list(order[:1])
    keep = sorted(order)  # the document's own order
    return [sentences[i] for i in keep], ones[: len(keep)]


def filter_corpus(corpus: Corpus, settings: NoiseSettings,
                  embed: Callable[[list[str]], np.ndarray] | None = None) -> Corpus:
    """The corpus with each document rebuilt from its kept sentences (for whole-document encoders)."""
    if settings.visual != "none" and settings.mode == "weight":
        raise GazslError("this encoder reads whole documents: use noise mode 'keep', not 'weight'")
    texts = {cid: filter_document(document, settings, corpus.names.get(cid, ""), embed)
             for cid, document in corpus.texts.items()}
    return Corpus(source=corpus.source, texts=texts, names=dict(corpus.names))


def filter_document(document: str, settings: NoiseSettings, class_name: str = "",
                    embed: Callable[[list[str]], np.ndarray] | None = None) -> str:
    """One document rebuilt from its kept sentences."""
    sentences, _ = select(split_sentences(document), settings, class_name, embed)
    return "\n".join(sentences)


def add_arguments(parser) -> None:
    group = parser.add_argument_group("noise handling (see gazsl/documents/text_noise.py)")
    defaults = NoiseSettings()
    group.add_argument("--noise", default="none",
                       help=f"comma-separated steps from {', '.join(STEPS)} (default: none), e.g. clean,lexicon")
    group.add_argument("--noise-mode", choices=MODES, default=defaults.mode,
                       help="weight: pool weighted by visual relevance (minilm); keep: keep the most visual sentences")
    group.add_argument("--keep-fraction", type=float, default=defaults.keep_fraction,
                       help=f"keep mode: share of sentences kept (default {defaults.keep_fraction})")
    group.add_argument("--visual-query", default=defaults.query, help="the query of the 'query' step")


def settings_from_args(args) -> NoiseSettings:
    return parse_steps(args.noise, args.noise_mode, args.keep_fraction, args.visual_query)
