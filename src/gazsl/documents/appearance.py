"""The ``appearance`` encoder: what an article says a bird looks like, as a vector over body part x property.

For every sentence, each property word (a colour, pattern, shape, length or
size) is attached to the nearest body part within ``window`` tokens, within
the same clause (``;``, ``:``, brackets, "but", "whereas" ... end a clause):
"olive upperparts with white bellies" gives ``upperparts:olive`` and
``belly:white``; "the bill is long and hooked" gives ``bill:long`` and
``bill:hooked``. A property attaches only to parts it can describe (a tail can
be forked, a breast cannot); a size word describes the whole bird (``body``)
unless a part follows it. Head markings ("eye-ring", "crest", "supercilium") are
parts and properties at once (``head:eyering``). Colour compounds split
("grey-brown"), "-ish" endings are dropped ("yellowish"), and a bird's name
counts as a description ("black-footed" gives ``leg:black``).

Negation: a mention whose property follows a negator ("no", "not", "lacks",
"without", "unlike" ...) in the same comma-delimited stretch, at most
``window`` tokens before it, counts against the property (weight subtracted):
"it lacks wing bars" is evidence that the wing is not barred, and "unlike the
female, the male is red" leaves "red" untouched.

Sex and age: the qualifier word nearest before a mention in its sentence
(else the nearest after it: "red in the female") decides the mention's weight. Unqualified, adult, male and breeding descriptions count fully (1):
they are what a field guide, and most photographs, show. Female descriptions
count half: CUB's photographs show both sexes, but the article's default bird
is the male. Juvenile, immature, chick and non-breeding descriptions count a
quarter: such birds are rarer in photographs, yet their plumage is still the
species'.

A class vector sums its article's weighted mentions per part x property
column, dampens repetition (sign(s) log(1 + |s|): a name repeated twenty
times is not twenty descriptions) and is L2-normalised, as TF-IDF rows are.

The lexicon (``LEXICON``, ``APPLIES``) is general English written for this
package, modeled on the part/property structure of bird field marks: it reads
no dataset file, so it encodes any bird corpus (CUB, NABirds). The recipe
stored with the vectors holds the lexicon and settings, so that a model
trained on these vectors encodes new articles exactly alike.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from gazsl.documents.corpus import Corpus, split_sentences
from gazsl.io import GazslError, data_error
from gazsl.store.feature_store import TextVectors

# Every property kind, in column order; "markings" are head features that are both part and property.
PROPERTY_KINDS = ("colors", "patterns", "shapes", "lengths", "sizes", "markings")

LEXICON = {
    "parts": {
        "bill": ["bill", "bills", "billed", "beak", "beaks", "beaked", "mandible", "mandibles", "maxilla"],
        "crown": ["crown", "crowns", "crowned", "forecrown", "hindcrown"],
        "forehead": ["forehead", "foreheads", "frons"],
        "nape": ["nape", "napes", "naped", "hindneck"],
        "head": ["head", "heads", "headed", "face", "faced", "cheek", "cheeks", "cheeked", "ear-coverts",
                 "auriculars", "lores", "hood", "hooded"],
        "throat": ["throat", "throats", "throated", "chin", "chinned", "gorget", "foreneck"],
        "neck": ["neck", "necks", "necked", "collar", "collared"],
        "breast": ["breast", "breasts", "breasted", "chest", "chests", "bib"],
        "belly": ["belly", "bellies", "bellied", "abdomen"],
        "underparts": ["underparts", "below", "underside", "undersides", "underbody", "flanks", "flank", "sides"],
        "back": ["back", "backs", "backed", "mantle", "mantled", "saddle", "scapulars"],
        "upperparts": ["upperparts", "above", "upperside", "uppersides"],
        "rump": ["rump", "rumps", "rumped"],
        "wing": ["wing", "wings", "winged", "wingtips", "wing-tips", "primaries", "secondaries", "coverts",
                 "speculum", "flight-feathers"],
        "tail": ["tail", "tails", "tailed", "rectrices"],
        "upper_tail": ["uppertail", "upper-tail", "uppertail-coverts", "upper-tail-coverts"],
        "under_tail": ["undertail", "under-tail", "undertail-coverts", "under-tail-coverts", "vent", "crissum"],
        "eye": ["eye", "eyes", "eyed", "iris", "irises", "irides"],
        "leg": ["leg", "legs", "legged", "foot", "feet", "footed", "toes", "toed", "tarsus", "tarsi", "shanks"],
        "body": ["body", "plumage", "plumaged", "overall"],
    },
    "colors": {
        "blue": ["blue", "bluish", "azure", "cobalt", "turquoise", "ultramarine", "cerulean"],
        "brown": ["brown", "brownish", "chocolate", "sepia", "umber", "dun"],
        "iridescent": ["iridescent", "iridescence", "glossy", "glossed", "metallic", "sheen", "shiny"],
        "purple": ["purple", "purplish", "violet", "lilac", "mauve", "magenta"],
        "rufous": ["rufous", "chestnut", "rusty", "rust", "russet", "cinnamon", "ruddy", "auburn", "maroon"],
        "grey": ["grey", "gray", "greyish", "grayish", "slate", "slaty", "ashy", "ash", "silver", "silvery",
                 "leaden", "hoary"],
        "yellow": ["yellow", "yellowish", "golden", "gold", "lemon", "sulphur", "sulfur", "citrine"],
        "olive": ["olive", "olivaceous"],
        "green": ["green", "greenish", "emerald"],
        "pink": ["pink", "pinkish", "rosy", "rose", "salmon"],
        "orange": ["orange", "orangish", "tangerine", "apricot"],
        "black": ["black", "blackish", "jet", "sooty", "ebony"],
        "white": ["white", "whitish", "snowy", "ivory"],
        "red": ["red", "reddish", "scarlet", "crimson", "vermilion", "carmine", "ruby"],
        "buff": ["buff", "buffy", "buffish", "tan", "tawny", "cream", "creamy", "ochre", "fawn", "beige", "sandy"],
    },
    "patterns": {
        "solid": ["plain", "uniform", "unmarked", "unstreaked", "unspotted", "unbarred", "solid"],
        "spotted": ["spotted", "spots", "spot", "spotting", "speckled", "speckles", "speckling", "dotted", "dots",
                    "flecked", "flecks"],
        "striped": ["striped", "stripes", "stripe", "streaked", "streaks", "streak", "streaking", "streaky",
                    "barred", "bars", "bar", "barring", "banded", "bands", "band"],
        "multi-colored": ["mottled", "mottling", "variegated", "multicolored", "multicoloured", "scaly",
                          "scalloped", "patterned"],
    },
    "shapes": {
        "hooked": ["hooked", "hook", "hook-tipped"],
        "cone": ["conical", "cone", "cone-shaped", "finch-like"],
        "dagger": ["dagger", "dagger-like", "dagger-shaped", "spear-like"],
        "needle": ["needle", "needle-like", "needle-thin"],
        "spatulate": ["spatulate", "spatula", "spoon-shaped", "flattened"],
        "curved": ["curved", "decurved", "down-curved", "downcurved", "upturned", "recurved"],
        "forked": ["forked", "fork", "fork-tailed"],
        "rounded": ["rounded", "round"],
        "notched": ["notched", "notch"],
        "fan-shaped": ["fan-shaped", "fan", "fanned"],
        "pointed": ["pointed", "pointy", "tapered", "tapering"],
        "squared": ["squared", "square", "square-tipped"],
        "broad": ["broad", "wide"],
    },
    "lengths": {
        "long": ["long", "longer", "elongated", "lengthy"],
        "short": ["short", "shorter", "stubby", "stumpy"],
    },
    "sizes": {
        "very_large": ["huge", "enormous", "massive", "giant"],
        "large": ["large", "big", "larger", "largest"],
        "medium": ["medium", "medium-sized", "mid-sized"],
        "small": ["small", "smaller", "little"],
        "very_small": ["tiny", "smallest", "diminutive", "minute"],
    },
    "markings": {
        "eyering": ["eye-ring", "eyering", "eye-rings", "eyerings", "orbital-ring"],
        "eyebrow": ["eyebrow", "eyebrows", "supercilium", "supercilia", "brow"],
        "eyeline": ["eye-stripe", "eyestripe", "eye-stripes", "eye-line", "eyeline", "eye-streak"],
        "malar": ["malar", "moustache", "moustachial", "mustache", "whisker", "whiskers"],
        "crested": ["crest", "crested", "crests", "tuft", "tufted"],
        "masked": ["mask", "masked"],
        "capped": ["cap", "capped"],
    },
    "negators": ["no", "not", "n't", "lacks", "lack", "lacking", "lacked", "without", "unlike", "never", "nor",
                 "absent"],
    "qualifiers": {
        "adult": ["adult", "adults", "male", "males", "breeding"],
        "female": ["female", "females"],
        "young": ["juvenile", "juveniles", "juvenal", "immature", "immatures", "young", "chick", "chicks",
                  "nestling", "nestlings", "fledgling", "fledglings", "first-year", "subadult", "subadults",
                  "non-breeding", "nonbreeding", "eclipse"],
    },
    "boundaries": [";", ":", "(", ")", ".", "!", "?", "but", "whereas", "while", "although", "though"],
}

# Which parts each property kind can describe (colours: all of them).
APPLIES = {
    "patterns": ["head", "crown", "throat", "neck", "breast", "belly", "underparts", "back", "upperparts", "rump",
                 "wing", "tail", "body"],
    "shapes": {"bill": ["hooked", "cone", "dagger", "needle", "spatulate", "curved"],
               "tail": ["forked", "rounded", "notched", "fan-shaped", "pointed", "squared"],
               "wing": ["rounded", "pointed", "broad"]},
    "lengths": ["bill", "neck", "wing", "tail", "leg"],
    "sizes": ["body"],
    "markings": ["head"],
}

_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)*|n't|[.;:()!?,]")


@dataclass
class AppearanceSettings:
    window: int = 4  # tokens between a property and its part, and between a negator and the property
    weights: dict = field(default_factory=lambda: {"adult": 1.0, "female": 0.5, "young": 0.25})
    sublinear: bool = True  # sign(s) log(1 + |s|) before normalising


@dataclass(frozen=True)
class Mention:
    column: str  # "part:property"
    weight: float  # the qualifier's weight, negative when negated


class AppearanceEncoder:
    """Articles -> (C, V) part x property vectors; no fitting: the lexicon is the whole model."""

    name = "appearance"

    def __init__(self, settings: AppearanceSettings | None = None, lexicon: dict | None = None,
                 applies: dict | None = None):
        self.settings = settings or AppearanceSettings()
        self.lexicon, self.applies = lexicon or LEXICON, applies or APPLIES
        unknown = set(self.settings.weights) ^ set(self.lexicon["qualifiers"])
        if unknown:
            raise GazslError(f"appearance weights and qualifiers differ on {', '.join(sorted(unknown))}")
        self._terms = {}  # token -> (kind, canonical)
        for kind in ("parts", *PROPERTY_KINDS):
            for canonical, words in self.lexicon[kind].items():
                self._terms.update({w: (kind, canonical) for w in words})
        for group, words in self.lexicon["qualifiers"].items():
            self._terms.update({w: ("qualifier", group) for w in words})
        self._terms.update({w: ("negator", w) for w in self.lexicon["negators"]})
        self._terms.update({w: ("boundary", w) for w in self.lexicon["boundaries"]})
        self._terms[","] = ("comma", ",")
        self.vocabulary_ = self._columns()
        self._index = {c: i for i, c in enumerate(self.vocabulary_)}

    def _describes(self, kind: str, prop: str, part: str) -> bool:
        if kind == "colors":
            return True
        if kind == "shapes":
            return prop in self.applies["shapes"].get(part, ())
        return part in self.applies[kind]

    def _columns(self) -> list[str]:
        # sorted: a store keeps the lexicon as JSON with sorted keys, and its columns must come back in one order
        return [f"{part}:{prop}" for part in sorted(self.lexicon["parts"]) for kind in PROPERTY_KINDS
                for prop in sorted(self.lexicon[kind]) if self._describes(kind, prop, part)]

    def _lookup(self, token: str):
        """(kind, canonical) of a token, or None; '-ish' colours fall back to their stem."""
        if token in self._terms:
            return self._terms[token]
        if token.endswith("ish"):
            for stem in (token[:-3], token[:-3] + "e"):  # greenish, whitish
                if self._terms.get(stem, ("",))[0] == "colors":
                    return self._terms[stem]
        return None

    def _items(self, sentence: str) -> list:
        """The sentence's known words as (kind, canonical) at their token positions (None: other words)."""
        tokens = []
        for token in _TOKEN.findall(sentence.lower()):
            # a compound the lexicon lacks ('grey-brown', 'black-footed') reads as its pieces
            tokens.extend([token] if self._lookup(token) or "-" not in token else token.split("-"))
        items, i = [], 0
        while i < len(tokens):
            pair = self._lookup(f"{tokens[i]}-{tokens[i + 1]}") if i + 1 < len(tokens) else None  # 'eye ring'
            items.append(pair or self._lookup(tokens[i]))
            i += 2 if pair else 1
        return items

    def mentions(self, document: str) -> list[Mention]:
        """Every part x property the document states, with its weight (negative: negated)."""
        found = []
        for sentence in split_sentences(document):
            # separators are no positions (distances count words); each word keeps its clause and comma stretch
            items, clause, stretch, c, s = [], [], [], 0, 0
            for item in self._items(sentence):
                kind = item[0] if item else None
                c, s = c + (kind == "boundary"), s + (kind in ("boundary", "comma"))
                if kind not in ("boundary", "comma"):
                    items.append(item)
                    clause.append(c)
                    stretch.append(s)
            qualifiers = [i for i, item in enumerate(items) if item and item[0] == "qualifier"]
            for j, item in enumerate(items):
                if not item or item[0] not in PROPERTY_KINDS:
                    continue
                kind, prop = item
                part = self._part_of(kind, prop, j, items, clause)
                if part is None:
                    continue
                weight = self._weight(items, qualifiers, j)
                negated = any(items[k] and items[k][0] == "negator" and stretch[k] == stretch[j]
                              for k in range(max(0, j - self.settings.window), j))
                found.append(Mention(f"{part}:{prop}", -weight if negated else weight))
        return found

    def _weight(self, items: list, qualifiers: list[int], j: int) -> float:
        """The weight of the qualifier nearest before position ``j`` ("females have a brown crown"), else nearest
        after it ("red in the female"); unqualified mentions count as adult ones."""
        before = [q for q in qualifiers if q < j]
        after = [q for q in qualifiers if q > j]
        q = before[-1] if before else after[0] if after else None
        return self.settings.weights["adult" if q is None else items[q][1]]

    def _part_of(self, kind: str, prop: str, j: int, items: list, clause: list[int]) -> str | None:
        """The part a property at position ``j`` describes: the nearest one in reach, the following one on a tie.

        A head marking in reach takes the property when nearer ("white eye-ring" describes the ring, a column
        the vocabulary lacks); a size word describes the whole bird unless a part follows it ("large wings").
        """
        if kind == "markings":
            return self.applies["markings"][0]
        if kind == "sizes":
            follows = any(item and item[0] in ("parts", "markings") for item in items[j + 1:j + 3])
            return None if follows else self.applies["sizes"][0]
        reach = [i for i, item in enumerate(items) if item and abs(i - j) <= self.settings.window
                 and clause[i] == clause[j] and (item[0] == "markings" or (item[0] == "parts" and
                                                                           self._describes(kind, prop, item[1])))]
        if not reach:
            return None
        nearest = items[min(reach, key=lambda i: (abs(i - j), i < j))]
        return nearest[1] if nearest[0] == "parts" else None

    def counts(self, documents: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(C, V) summed mention weights and (C,) number of mentions of each document."""
        sums = np.zeros((len(documents), len(self.vocabulary_)), dtype=np.float64)
        n = np.zeros(len(documents), dtype=np.int64)
        for row, document in enumerate(documents):
            for mention in self.mentions(document):
                sums[row, self._index[mention.column]] += mention.weight
                n[row] += 1
        return sums, n

    def encode(self, documents: list[str], names: list[str] | None = None) -> np.ndarray:
        """(C, V) class vectors (``names`` is accepted as every encoder's, and unused: nothing here depends on it)."""
        return self.vectors(self.counts(documents)[0])

    def vectors(self, sums: np.ndarray) -> np.ndarray:
        """(C, V) class vectors from summed mention weights (``counts``)."""
        if self.settings.sublinear:
            sums = np.sign(sums) * np.log1p(np.abs(sums))
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return (sums / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    def recipe(self) -> dict:
        return {"encoder": self.name, **asdict(self.settings), "lexicon": self.lexicon, "applies": self.applies,
                "vocabulary": list(self.vocabulary_)}

    @classmethod
    def from_recipe(cls, recipe: dict) -> "AppearanceEncoder":
        """The encoder of vectors made with this recipe; one whose lexicon does not give its columns is refused."""
        missing = [k for k in ("window", "weights", "sublinear", "lexicon", "applies", "vocabulary") if k not in recipe]
        if missing:
            raise GazslError(f"its appearance recipe records no {' and no '.join(missing)}")
        try:
            encoder = cls(AppearanceSettings(recipe["window"], dict(recipe["weights"]), recipe["sublinear"]),
                          recipe["lexicon"], recipe["applies"])
        except (KeyError, TypeError, AttributeError) as err:
            raise GazslError(f"its appearance recipe has a malformed lexicon ({type(err).__name__}: {err})") from None
        if encoder.vocabulary_ != list(recipe["vocabulary"]):
            raise GazslError(f"its appearance lexicon gives {len(encoder.vocabulary_)} columns, not the "
                             f"{len(recipe['vocabulary'])} its vectors have")
        return encoder


def encode_appearance(corpus: Corpus, class_ids, settings: AppearanceSettings | None = None) -> TextVectors:
    """Appearance class vectors, row i for ``class_ids[i]``; a class whose article describes no appearance is refused."""
    documents = corpus.documents(class_ids)
    encoder = AppearanceEncoder(settings)
    sums, n = encoder.counts(documents)
    empty = np.flatnonzero(n == 0)
    if empty.size:
        cid = int(class_ids[empty[0]])
        name = corpus.names.get(cid) or f"class_id {cid}"
        raise data_error(corpus.source, f"the article of class {cid} ({name}) names no body part with a colour, "
                         f"pattern, shape or size; {empty.size} class(es) like this")
    recipe = encoder.recipe()
    vocabulary = recipe.pop("vocabulary")
    settings_record = {**recipe, "corpus": str(corpus.source), "corpus_sha256": corpus.checksum()}
    return TextVectors(vectors=encoder.vectors(sums), settings=settings_record, vocabulary=vocabulary)
