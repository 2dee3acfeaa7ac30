"""The aviary: gazsl's embedded default dataset, a synthetic bird world built from a seed in seconds.

A world of species in families in orders. Each species is a combination of
part attributes (colour and pattern of crown, nape, back, wings, tail, throat,
breast and belly; bill shape and length; size; eye and leg colour; tail shape;
face pattern; crest); each level is a mutation of the one above, so species
of a family share most of its look and families of an order some of theirs.

* Images: each image shows its species' attributes through nuisance (pose
  hides parts, lighting shifts colours and brightness, the habitat shows in
  the background, sensor noise), plus what no attribute list names: a body
  plan shared by an order and its families, and a look of each species'
  own. A fixed random 2-layer ReLU network maps all of that to a
  non-negative feature vector, as a CNN's pooled features are.
* Texts: two corpora written from the templates in ``gazsl.datasets.aviary_templates``:
  noisy encyclopedia articles (``aviary_articles``) and terse field-guide notes
  (``aviary_notes``), one ``<class_id>.<Name>.txt`` per species.
* Splits: ``aviary_easy`` holds out species spread over all families (as CUB's
  SCS), ``aviary_hard`` whole families (as CUB's SCE); the validation classes of
  each mirror it (random species, resp. whole families of the seen ones).

Built by ``python -m gazsl.aviary build`` and on first use (``ensure_aviary``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazsl.datasets import aviary_templates as words
from gazsl.documents.corpus import Corpus, corpus_of, read_corpus
from gazsl.io import GazslError, data_error
from gazsl.store.feature_store import FeatureStore, TextVectors, default_store_path, store_lock
from gazsl.store.splits import make_split, val_rule_for, whole_families
from gazsl.documents.encoders import encode_tfidf

# Bump when a change to the generator changes what a seed builds: stale stores are rebuilt.
# 3: the store records the TF-IDF encoders' IDF weights, and aviary_hard's validation classes are whole families
# (gazsl.store.splits.val_rule_for).
AVIARY_VERSION = 3
ARTICLES, NOTES = "aviary_articles", "aviary_notes"
_MARKER = ".generated-by-gazsl-aviary"

POSES = ("side", "front", "back", "flight", "head")
# P(part visible | pose), parts in words.PARTS order: crown nape back wings tail throat breast belly.
PART_VISIBILITY = np.array([
    [0.95, 0.90, 0.80, 0.95, 0.90, 0.80, 0.90, 0.80],  # side
    [0.90, 0.20, 0.10, 0.40, 0.40, 0.98, 0.98, 0.90],  # front
    [0.90, 0.95, 0.98, 0.98, 0.95, 0.10, 0.20, 0.10],  # back
    [0.50, 0.50, 0.70, 0.98, 0.95, 0.50, 0.80, 0.80],  # flight
    [0.98, 0.80, 0.20, 0.20, 0.10, 0.95, 0.50, 0.10],  # head close-up
])
# Colours that lighting can turn one into the other.
COLOUR_NEIGHBOURS = {
    "black": ("grey", "brown"), "white": ("grey", "buff"), "grey": ("black", "white"), "brown": ("rufous", "buff", "black"),
    "buff": ("brown", "white", "yellow"), "olive": ("green", "yellow", "brown"), "yellow": ("orange", "olive", "buff"),
    "orange": ("red", "yellow", "rufous"), "red": ("orange", "rufous"), "blue": ("green", "grey", "black"),
    "green": ("olive", "blue"), "rufous": ("brown", "orange", "red"),
}
# How common each colour is in a family's palette: birds run to browns, greys and olives.
COLOUR_PRIOR = {"black": 3, "white": 3, "grey": 3, "brown": 4, "buff": 2, "olive": 2, "yellow": 2, "orange": 1,
                "red": 1, "blue": 1, "green": 1, "rufous": 2}


@dataclass
class AviaryConfig:
    """The knobs of the world. Defaults are calibrated (see text_corpora/README.md, "The aviary")."""

    n_species: int = 150
    n_families: int = 16
    n_orders: int = 5  # families of an order share part of their look, habitat and words
    min_family_size: int = 4
    images_per_species: tuple[int, int] = (40, 80)  # drawn uniformly per species
    feature_dim: int = 512
    hidden_dim: int = 512
    # look: how much a family departs from its order's, and a species from its family's
    p_family_colour: float = 0.4
    p_family_pattern: float = 0.3
    p_family_structure: float = 0.3
    p_mutate_colour: float = 0.35
    p_mutate_pattern: float = 0.25
    p_mutate_structure: float = 0.12
    p_off_palette: float = 0.3  # a changed colour leaves the family palette
    min_differences: int = 3  # groups in which any two species differ
    # images
    p_colour_shift: float = 0.15  # lighting turns a part's colour into a neighbouring one
    p_structure_visible: float = 0.85
    part_scale: float = 1.0  # each part's own colour and pattern
    mixture_scale: float = 2.0  # the whole bird's colour and pattern mixture
    structure_scale: float = 1.0  # bill, size, eye, legs, tail shape, face, crest
    brightness_sd: float = 0.25  # log-normal exposure
    pose_scale: float = 0.8
    background_scale: float = 0.6  # habitat in the background
    species_look_scale: float = 0.3  # look not captured by the attributes
    shape_scale: float = 0.6  # body plan of the order and family, not captured by the attributes either
    image_latent_scale: float = 0.6  # per-image nuisance with no meaning
    feature_noise: float = 0.3  # additive noise before the output ReLU
    # splits
    easy_unseen: float = 0.22
    hard_unseen: float = 0.2
    text: words.TextKnobs = field(default_factory=words.TextKnobs)


# ------------------------------------------------------------------ world
@dataclass
class World:
    groups: list[tuple[str, tuple[str, ...]]]  # attribute groups, words.attribute_groups()
    values: np.ndarray  # (C, G) int: value index of each group for each species
    family: np.ndarray  # (C,) int
    habitat: np.ndarray  # (C,) int index into words.HABITATS
    order: np.ndarray  # (F,) int: the order of each family
    families: list[words.FamilyLore]
    profiles: list[words.Profile]

    @property
    def attribute_names(self) -> list[str]:
        return [f"has_{g}::{v}" for g, values in self.groups for v in values]

    def attributes(self) -> np.ndarray:
        """(C, A) float32 one-hot per group."""
        return one_hot(self.values, self.groups)


def one_hot(values: np.ndarray, groups) -> np.ndarray:
    """(N, G) value indices -> (N, A) float32; a negative index (hidden) gives an all-zero group."""
    sizes = np.array([len(v) for _, v in groups])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.zeros((len(values), sizes.sum()), np.float32)
    rows, cols = np.nonzero(values >= 0)
    out[rows, offsets[cols] + values[rows, cols]] = 1.0
    return out


def _family_sizes(config: AviaryConfig, rng) -> np.ndarray:
    spare = config.n_species - config.n_families * config.min_family_size
    if spare < 0:
        raise GazslError(f"aviary: {config.n_species} species cannot fill {config.n_families} families of "
                         f"at least {config.min_family_size}")
    shares = rng.dirichlet(np.full(config.n_families, 2.0))
    return config.min_family_size + rng.multinomial(spare, shares)


def _prototype(groups, palette, rng) -> np.ndarray:
    """An order's look: part colours from its palette, mostly plain, any structure."""
    proto = np.zeros(len(groups), int)
    for g, (name, options) in enumerate(groups):
        if _is_part_colour(name):
            proto[g] = rng.choice(palette, p=[0.5, 0.3, 0.2])
        elif name.endswith("_pattern"):
            proto[g] = 0 if rng.random() < 0.6 else rng.integers(1, len(options))
        else:
            proto[g] = rng.integers(len(options))
    return proto


def _is_part_colour(group: str) -> bool:
    return group.endswith("_colour") and group.split("_")[0] in words.PARTS


def _mutate(proto, groups, palette, rates: tuple[float, float, float], p_off_palette: float, rng) -> np.ndarray:
    """Redraw each group with its rate (colour, pattern, structure); a new colour mostly comes from the palette."""
    v = proto.copy()
    for g, (name, options) in enumerate(groups):
        is_colour = _is_part_colour(name)
        p = rates[0] if is_colour else rates[1] if name.endswith("_pattern") else rates[2]
        if rng.random() >= p:
            continue
        if is_colour and rng.random() >= p_off_palette:
            choices = [c for c in palette if c != v[g]]
        else:
            choices = [c for c in range(len(options)) if c != v[g]]
        v[g] = rng.choice(choices)
    return v


def make_world(config: AviaryConfig, rng: np.random.Generator) -> World:
    """Orders -> families -> species, each level a mutation of the one above."""
    groups = words.attribute_groups()
    prior = np.array([COLOUR_PRIOR[c] for c in words.COLOURS], float)
    prior /= prior.sum()
    n_colours = len(words.COLOURS)
    sizes = _family_sizes(config, rng)
    nouns = rng.choice(words.FAMILY_NOUNS, size=config.n_families, replace=False)
    order_nouns = rng.choice(words.ORDER_NOUNS, size=config.n_orders, replace=False)
    order_of_family = rng.permutation(np.arange(config.n_families) % config.n_orders)
    orders = []
    for o in range(config.n_orders):
        palette = rng.choice(n_colours, size=3, replace=False, p=prior)
        orders.append((palette, _prototype(groups, palette, rng), int(rng.integers(len(words.HABITATS))),
                       words.made_up_word(rng, 2).capitalize() + "iformes"))
    family_rates = (config.p_family_colour, config.p_family_pattern, config.p_family_structure)
    species_rates = (config.p_mutate_colour, config.p_mutate_pattern, config.p_mutate_structure)

    values, family_of, habitat_of, families = [], [], [], []
    for f, n_members in enumerate(sizes):
        o = int(order_of_family[f])
        order_palette, order_proto, order_habitat, order_sci = orders[o]
        palette = order_palette.copy()
        if rng.random() < 0.5:  # a family may swap one colour of its order's palette
            palette[rng.integers(3)] = rng.choice(np.setdiff1d(np.arange(n_colours), palette))
        proto = _mutate(order_proto, groups, palette, family_rates, config.p_off_palette, rng)
        habitat = order_habitat if rng.random() < 0.6 else int(rng.integers(len(words.HABITATS)))
        traits = {name: options[proto[g]] for g, (name, options) in enumerate(groups)}
        families.append(words.draw_family(str(nouns[f]), traits, words.HABITATS[habitat],
                                          str(order_nouns[o]), order_sci, rng))
        members: list[np.ndarray] = []
        for _ in range(n_members):
            for _attempt in range(200):
                v = _mutate(proto, groups, palette, species_rates, config.p_off_palette, rng)
                if all((v != m).sum() >= config.min_differences for m in members):
                    break
            else:
                raise GazslError("aviary: could not draw distinct species; raise the mutation rates")
            members.append(v)
            family_of.append(f)
            habitat_of.append(habitat if rng.random() < 0.7 else int(rng.integers(len(words.HABITATS))))
        values += members
    world = World(groups, np.stack(values), np.array(family_of), np.array(habitat_of), order_of_family, families, [])
    world.profiles = _profiles(world, rng)
    return world


def _profiles(world: World, rng) -> list[words.Profile]:
    profiles, taken = [], set()
    genera: dict[int, list[str]] = {}
    for c in range(len(world.values)):
        f = int(world.family[c])
        lore = world.families[f]
        traits = {name: options[world.values[c, g]] for g, (name, options) in enumerate(world.groups)}
        for attempt in range(50):
            name = words.species_name(traits, lore, rng, style=rng.random())
            if attempt > 20:
                name = f"{words.pick(rng, words.GEO_NAME_WORDS)} {name}"
            if name not in taken:
                break
        taken.add(name)
        if f not in genera:
            genera[f] = [words.made_up_word(rng, 2).capitalize() + words.pick(rng, ("a", "us", "ops", "ornis"))
                         for _ in range(int(rng.integers(1, 4)))]
        epithet = words.made_up_word(rng, 2) + words.pick(rng, ("us", "a", "is", "ensis", "i"))
        profiles.append(words.Profile(
            name=name, genus=words.pick(rng, genera[f]), epithet=epithet, family=lore, traits=traits,
            habitat=words.HABITATS[world.habitat[c]], regions=[words.region(rng) if rng.random() < 0.5 else r
                                                                 for r in rng.permutation(lore.regions)[:2]]))
    for c, profile in enumerate(profiles):
        siblings = np.flatnonzero((world.family == world.family[c]) & (np.arange(len(profiles)) != c))
        nearest = siblings[np.argmin((world.values[siblings] != world.values[c]).sum(axis=1))]
        profile.look_alike = profiles[nearest]
        profile.facts = words.draw_facts(profile, rng)
    return profiles


# ------------------------------------------------------------------ images
# What a colour looks like: RGB (so that similar colours look alike) plus a code of its own.
COLOUR_RGB = {
    "black": (0.05, 0.05, 0.05), "white": (0.95, 0.95, 0.95), "grey": (0.5, 0.5, 0.5), "brown": (0.4, 0.26, 0.13),
    "buff": (0.85, 0.75, 0.55), "olive": (0.5, 0.5, 0.2), "yellow": (0.95, 0.85, 0.1), "orange": (0.95, 0.55, 0.1),
    "red": (0.8, 0.1, 0.1), "blue": (0.15, 0.3, 0.8), "green": (0.1, 0.6, 0.2), "rufous": (0.7, 0.3, 0.1),
}
# How much of a typical photo each part covers.
PART_AREA = np.array([0.5, 0.4, 1.0, 1.2, 0.7, 0.5, 1.0, 0.9])
LATENT = 16  # dims of the habitat, species-look and image-nuisance latents


@dataclass
class VisualMap:
    """The fixed random network from an image's visible content to its features."""

    w1: np.ndarray  # (I, H)
    b1: np.ndarray  # (H,)
    w2: np.ndarray  # (H, D)
    b2: np.ndarray  # (D,)

    @classmethod
    def draw(cls, n_in: int, config: AviaryConfig, rng) -> "VisualMap":
        # An image has about 24 active inputs of order one (image_content and the latents are scaled
        # block by block), so this gives pre-activations of order one.
        w1 = rng.normal(0, 1 / np.sqrt(24), (n_in, config.hidden_dim))
        w2 = rng.normal(0, np.sqrt(2 / config.hidden_dim), (config.hidden_dim, config.feature_dim))
        return cls(w1, rng.normal(0, 0.5, config.hidden_dim), w2, rng.normal(0, 0.5, config.feature_dim))

    def __call__(self, inputs: np.ndarray, noise: np.ndarray) -> np.ndarray:
        hidden = np.maximum(inputs @ self.w1 + self.b1, 0)  # (N, H)
        return np.maximum(hidden @ self.w2 + self.b2 + noise, 0)  # (N, D)


def colour_codes() -> np.ndarray:
    """(K, 3 + K): RGB and a one-hot, per colour of words.COLOURS."""
    rgb = np.array([COLOUR_RGB[c] for c in words.COLOURS])
    return np.concatenate([2 * rgb - 1, 0.7 * np.eye(len(words.COLOURS))], axis=1)


def image_content(values: np.ndarray, brightness: np.ndarray, groups, config: AviaryConfig) -> np.ndarray:
    """What a picture shows, (N, I): each visible part's lit colour and pattern, the whole bird's
    colour and pattern mixture (so that "a red bird" is visible whatever part is red), and the
    visible structural traits. ``values`` (N, G) holds -1 for what the picture hides."""
    n_parts = len(words.PARTS)
    codes = colour_codes()  # (K, E)
    patterns = np.eye(len(words.PATTERNS))[:, 1:]  # plain is no pattern at all
    colour, pattern = values[:, 0:2 * n_parts:2], values[:, 1:2 * n_parts:2]  # (N, P) each
    seen = (colour >= 0)[..., None]  # (N, P, 1)
    part_colour = codes[np.maximum(colour, 0)] * seen * brightness[:, :, None]  # (N, P, E)
    part_pattern = patterns[np.maximum(pattern, 0)] * seen  # (N, P, 4)
    area = (PART_AREA[None, :, None] * seen)  # (N, P, 1)
    total = area.sum(axis=1).clip(min=1e-6)  # (N, 1)
    mixture_colour = (part_colour * area).sum(axis=1) / total  # (N, E)
    mixture_pattern = (part_pattern * area).sum(axis=1) / total  # (N, 4)
    structure = one_hot(values[:, 2 * n_parts:], groups[2 * n_parts:])  # (N, S)
    return np.concatenate([
        config.part_scale * part_colour.reshape(len(values), -1),
        config.part_scale * part_pattern.reshape(len(values), -1),
        config.mixture_scale * mixture_colour,
        config.mixture_scale * mixture_pattern,
        config.structure_scale * structure,
    ], axis=1)


def make_images(world: World, config: AviaryConfig, rng_map, rng) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, D) float32 >= 0 and labels (N,) int64 for every species' images."""
    n_species, n_groups = world.values.shape
    n_parts = len(words.PARTS)
    counts = rng.integers(config.images_per_species[0], config.images_per_species[1] + 1, size=n_species)
    labels = np.repeat(np.arange(n_species), counts)
    n = len(labels)

    values = world.values[labels].copy()  # (N, G)
    colour_index = {c: i for i, c in enumerate(words.COLOURS)}
    # Lighting: a part's colour turns into one of its neighbours (row k: neighbours of colour k, cycled to 3).
    neighbours = np.array([[colour_index[x] for x in (COLOUR_NEIGHBOURS[c] * 3)[:3]] for c in words.COLOURS])
    shifted = rng.random((n, n_parts)) < config.p_colour_shift
    which = rng.integers(3, size=(n, n_parts))
    colour = values[:, 0:2 * n_parts:2]
    values[:, 0:2 * n_parts:2] = np.where(shifted, neighbours[colour, which], colour)
    # Pose hides parts; any structural trait may be out of view.
    pose = rng.integers(len(POSES), size=n)
    hidden = rng.random((n, n_parts)) >= PART_VISIBILITY[pose]  # (N, P)
    values[:, 0:2 * n_parts:2][hidden] = -1
    values[:, 1:2 * n_parts:2][hidden] = -1
    values[:, 2 * n_parts:][rng.random((n, n_groups - 2 * n_parts)) >= config.p_structure_visible] = -1

    brightness = np.exp(rng.normal(0, config.brightness_sd, (n, 1)))
    content = image_content(values, brightness, world.groups, config)
    habitat_look = rng_map.normal(0, 1, (len(words.HABITATS), LATENT))
    species_look = rng_map.normal(0, 1, (n_species, LATENT))
    # Body plan: the shape an order shares (and a family varies), which no attribute names.
    order_shape = rng_map.normal(0, 1, (int(world.order.max()) + 1, LATENT))
    family_shape = order_shape[world.order] + 0.5 * rng_map.normal(0, 1, (len(world.families), LATENT))
    shown_habitat = np.where(rng.random(n) < 0.8, world.habitat[labels], rng.integers(len(words.HABITATS), size=n))
    inputs = np.concatenate([
        content,
        config.pose_scale * np.eye(len(POSES))[pose],
        config.background_scale * (habitat_look[shown_habitat] + 0.5 * rng.normal(0, 1, (n, LATENT))),
        config.species_look_scale * species_look[labels],
        config.shape_scale * family_shape[world.family[labels]],
        config.image_latent_scale * rng.normal(0, 1, (n, LATENT)),
    ], axis=1)
    visual_map = VisualMap.draw(inputs.shape[1], config, rng_map)
    noise = config.feature_noise * rng.normal(0, 1, (n, config.feature_dim))
    return visual_map(inputs, noise).astype(np.float32), labels.astype(np.int64)


# ------------------------------------------------------------------ splits
def easy_unseen(world: World, fraction: float, rng) -> np.ndarray:
    """About ``fraction`` of each family's species, at least one per family, never a whole family."""
    unseen = []
    for f in range(len(world.families)):
        members = np.flatnonzero(world.family == f)
        k = min(len(members) - 1, max(1, int(round(fraction * len(members)))))
        unseen.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(unseen))


# ------------------------------------------------------------------ build
def write_corpus(folder: Path, documents: list[tuple[str, str]]) -> Path:
    """Write ``(file_name, text)`` pairs as a fresh folder, replacing a previous aviary build whole.

    A folder that the aviary did not write is never touched.
    """
    folder = Path(folder)
    if folder.exists() and not (folder / _MARKER).exists() and any(folder.iterdir()):
        raise data_error(folder, "exists and was not written by gazsl.aviary; refusing to replace it")
    folder.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name, text in documents:
            (fresh / name).write_text(text, encoding="utf-8")
        (fresh / _MARKER).write_text("Generated by `python -m gazsl.aviary build`; rebuilt at will.\n", encoding="utf-8")
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
            os.replace(folder, old / folder.name)
            os.replace(fresh, folder)
            shutil.rmtree(old)
        else:
            os.replace(fresh, folder)
    finally:
        if fresh.exists():
            shutil.rmtree(fresh)
    return folder


def build_aviary(store_path, corpus_root, seed: int = 0, config: AviaryConfig | None = None) -> FeatureStore:
    """Generate the world of ``seed``, write both corpora under ``corpus_root`` and save the store."""
    config = config or AviaryConfig()
    if seed < 0:
        raise GazslError(f"aviary: seed must be >= 0, got {seed}")
    world_rng, map_rng, image_rng, text_rng, split_rng = _streams(seed)
    world = make_world(config, world_rng)
    features, labels = make_images(world, config, map_rng, image_rng)

    class_ids, articles, notes = _documents(world, config, text_rng)
    corpus_root = Path(corpus_root)
    article_dir = write_corpus(corpus_root / ARTICLES, articles)
    notes_dir = write_corpus(corpus_root / NOTES, notes)

    attributes = world.attributes()
    easy = easy_unseen(world, config.easy_unseen, split_rng)
    everything = np.arange(len(class_ids))
    hard = whole_families(everything, world.family, config.hard_unseen, split_rng)
    splits = {name: make_split(name, np.setdiff1d(everything, unseen), unseen, labels, seed=seed,
                               val_rule=val_rule_for(name), families=world.family)
              for name, unseen in (("aviary_easy", easy), ("aviary_hard", hard))}
    texts = {
        "tfidf": encode_tfidf(read_corpus(article_dir), class_ids),
        "tfidf_notes": encode_tfidf(read_corpus(notes_dir), class_ids),
        "oracle": TextVectors(attributes.copy(), {"encoder": "oracle", "source": "the true aviary attributes"},
                              world.attribute_names),
    }
    store = FeatureStore(
        dataset="aviary", features=features, labels=labels, class_ids=class_ids,
        class_names=[p.file_name for p in world.profiles], super_ids=world.family.astype(np.int64),
        super_names=[lore.noun for lore in world.families], splits=splits, texts=texts, attributes=attributes,
        info={"source": "gazsl.aviary", "aviary_version": AVIARY_VERSION, "seed": seed,
              "config": dataclasses.asdict(config), "attribute_names": world.attribute_names,
              "family_sci_names": [lore.sci_name for lore in world.families]},
    )
    store.save(store_path)
    return store


def _streams(seed: int) -> list[np.random.Generator]:
    """The world's, the visual map's, the images', the text's and the splits' random streams, independent."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]


def _documents(world: World, config: AviaryConfig, text_rng) -> tuple[np.ndarray, list, list]:
    """(class ids, articles, field notes) of ``world``: the two corpora as ``(file_name, text)`` pairs."""
    class_ids = np.arange(1, len(world.profiles) + 1, dtype=np.int64)
    articles, notes = [], []
    for cid, profile in zip(class_ids, world.profiles):
        file_name = f"{cid}.{profile.file_name}.txt"
        articles.append((file_name, words.article(profile, config.text, text_rng)))
        notes.append((file_name, words.field_notes(profile, config.text, text_rng)))
    return class_ids, articles, notes


def aviary_articles(store: FeatureStore) -> Corpus:
    """The articles of an aviary store's classes, regenerated from the seed and settings it records, so that they
    need no corpus folder and no working directory (the text stream is the world's own: the images need not be made).
    Checked against the checksum of the corpus its ``tfidf`` vectors were made from."""
    info = store.info
    recorded = store.texts["tfidf"].settings if "tfidf" in store.texts else {}
    if info.get("source") != "gazsl.aviary" or "corpus_sha256" not in recorded:
        raise GazslError(f"{store.dataset}: not an aviary store (gazsl.aviary builds one): its articles cannot be regenerated")
    if info.get("aviary_version") != AVIARY_VERSION:
        raise GazslError(f"{store.dataset}: an aviary of generator version {info.get('aviary_version')}, this gazsl makes "
                         f"{AVIARY_VERSION}: rebuild it (python -m gazsl.aviary build)")
    config = AviaryConfig(**{**info["config"], "images_per_species": tuple(info["config"]["images_per_species"]),
                             "text": words.TextKnobs(**{**info["config"]["text"],
                                                        "nonvisual": tuple(info["config"]["text"]["nonvisual"])})})
    world_rng, _, _, text_rng, _ = _streams(info["seed"])
    _, articles, _ = _documents(make_world(config, world_rng), config, text_rng)
    corpus = corpus_of(Path(recorded["corpus"]), articles)
    if corpus.checksum() != recorded["corpus_sha256"]:
        raise data_error(corpus.source, "the regenerated aviary articles differ from those the store's tfidf vectors were "
                         "made from: rebuild the store (python -m gazsl.aviary build)")
    return corpus


def stored_version(store_path) -> tuple[int | None, int | None]:
    """(aviary_version, seed) recorded in a store, or (None, None) when unreadable: a cheap check without loading it."""
    info = FeatureStore.read_info(store_path)
    return info.get("aviary_version"), info.get("seed")


def ensure_aviary(store_path=None, corpus_root=None) -> Path:
    """The aviary store, built with seed 0 when missing or written by another version of the generator."""
    store_path = Path(store_path or default_store_path("aviary"))
    corpus_root = Path(corpus_root or "text_corpora")
    def current() -> bool:
        return store_path.exists() and stored_version(store_path)[0] == AVIARY_VERSION

    if not current():
        with store_lock(store_path, wait=True):  # runs started together build it once
            if not current():
                build_aviary(store_path, corpus_root, seed=0)
    return store_path
