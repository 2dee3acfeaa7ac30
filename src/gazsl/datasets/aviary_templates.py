"""Words of the aviary: its attribute schema, lexicons and the templates of its two corpora.

``article`` writes an encyclopedia-style page like the Wikipedia articles
GAZSL learned from: a few visual sentences in varied phrasings (some traits
omitted, some vague, some only implied by the family, some about the female,
the juvenile or a look-alike) buried among many sentences about range,
habitat, diet, breeding, voice, etymology and conservation, with the odd wiki
template and reference line left in.

``field_notes`` writes a short field-guide entry in another style: terse,
mostly visual, a few lines.

Both are pure functions of a ``Profile``, the ``TextKnobs`` and a numpy random generator.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import numpy as np

# ------------------------------------------------------------------ schema
COLOURS = ("black", "white", "grey", "brown", "buff", "olive", "yellow", "orange", "red", "blue", "green", "rufous")
PATTERNS = ("plain", "streaked", "spotted", "barred", "mottled")
PARTS = ("crown", "nape", "back", "wings", "tail", "throat", "breast", "belly")
STRUCTURE = {
    "bill_shape": ("conical", "hooked", "needle", "dagger", "spatulate", "decurved", "all-purpose"),
    "bill_length": ("short", "medium", "long"),
    "size": ("tiny", "small", "medium", "large", "very large"),
    "eye_colour": ("dark", "red", "yellow", "white", "orange"),
    "leg_colour": ("black", "grey", "pink", "yellow", "orange"),
    "tail_shape": ("square", "notched", "forked", "rounded", "pointed"),
    "face": ("plain", "eye-ring", "eyebrow", "eye-stripe", "mask"),
    "crest": ("none", "crest"),
}


def attribute_groups() -> list[tuple[str, tuple[str, ...]]]:
    """(group, values) in attribute-vector order: colour and pattern of each part, then structure."""
    groups = []
    for part in PARTS:
        groups += [(f"{part}_colour", COLOURS), (f"{part}_pattern", PATTERNS)]
    return groups + list(STRUCTURE.items())


HABITATS = ("forest", "woodland edge", "grassland", "marsh", "sea coast", "arid scrub",
            "montane forest", "rivers and lakes", "farmland", "mangroves")
ORDER_NOUNS = ("songbird", "perching bird", "wading bird", "ground bird", "forest bird", "seabird", "waterbird",
               "aerial bird")
ORDER_HABITS = {  # what every member of an order is said to do
    "songbird": ("sings through much of the year", "has a well-developed syrinx"),
    "perching bird": ("has three toes pointing forward and one back", "perches readily on thin twigs"),
    "wading bird": ("wades in shallow water", "feeds along muddy shores"),
    "ground bird": ("spends most of its time on the ground", "runs rather than flies when disturbed"),
    "forest bird": ("rarely leaves the cover of trees", "keeps to the mid-storey"),
    "seabird": ("spends much of its life at sea", "drinks salt water"),
    "waterbird": ("swims well", "dives for food"),
    "aerial bird": ("feeds on the wing", "spends hours in flight"),
}
FAMILY_NOUNS = ("Warbler", "Finch", "Tanager", "Thrush", "Flycatcher", "Vireo", "Shrike", "Babbler", "Bulbul",
                "Honeyeater", "Sunbird", "Starling", "Kingfisher", "Pitta", "Tyrant", "Antbird", "Lark", "Pipit",
                "Bunting", "Woodcreeper")

# ------------------------------------------------------------------ lexicons
COLOUR_WORDS = {
    "black": ("black", "jet-black", "sooty black", "blackish"),
    "white": ("white", "snowy white", "pure white", "whitish"),
    "grey": ("grey", "gray", "slate-grey", "ashy grey", "greyish"),
    "brown": ("brown", "dark brown", "earth-brown", "brownish"),
    "buff": ("buff", "buffy", "tawny buff", "sandy buff"),
    "olive": ("olive", "olive-green", "dull olive", "olivaceous"),
    "yellow": ("yellow", "bright yellow", "lemon yellow", "golden yellow", "yellowish"),
    "orange": ("orange", "flame-orange", "tangerine", "orangey"),
    "red": ("red", "crimson", "scarlet", "vermilion", "reddish"),
    "blue": ("blue", "azure", "cobalt blue", "sky-blue", "bluish"),
    "green": ("green", "emerald green", "leaf-green", "greenish"),
    "rufous": ("rufous", "rusty", "chestnut", "cinnamon"),
}
# Words that narrow a colour down without naming it.
VAGUE_COLOUR = {
    "black": ("dark", "dusky"), "brown": ("dark", "dusky", "drab"), "grey": ("dull", "drab", "dark"),
    "olive": ("dull", "drab"), "white": ("pale", "light"), "buff": ("pale", "warm-toned"),
    "yellow": ("bright", "pale"), "orange": ("bright", "warm-toned"), "red": ("bright", "richly coloured"),
    "blue": ("bright", "glossy"), "green": ("bright", "glossy"), "rufous": ("warm-toned", "dark"),
}
NAME_COLOURS = {
    "black": ("Black", "Sooty", "Ebony"), "white": ("White", "Snowy", "Pale"), "grey": ("Grey", "Ashy", "Slaty"),
    "brown": ("Brown", "Umber", "Dusky"), "buff": ("Buff", "Tawny", "Sandy"), "olive": ("Olive",),
    "yellow": ("Yellow", "Golden", "Lemon"), "orange": ("Orange", "Flame", "Fiery"),
    "red": ("Red", "Crimson", "Scarlet"), "blue": ("Blue", "Azure", "Cobalt"), "green": ("Green", "Emerald"),
    "rufous": ("Rufous", "Chestnut", "Rusty", "Cinnamon"),
}
PART_WORDS = {
    "crown": ("crown", "cap", "top of the head", "forecrown"),
    "nape": ("nape", "hindneck", "back of the neck"),
    "back": ("back", "mantle", "upper back"),
    "wings": ("wings", "wing coverts", "flight feathers"),
    "tail": ("tail", "tail feathers", "rectrices"),
    "throat": ("throat", "chin", "throat patch"),
    "breast": ("breast", "chest", "upper breast"),
    "belly": ("belly", "lower belly", "vent", "abdomen"),
}
PLURAL_PART_WORDS = {"wings", "wing coverts", "flight feathers", "tail feathers", "rectrices"}
NAME_PARTS = {"crown": "crowned", "nape": "naped", "back": "backed", "wings": "winged", "tail": "tailed",
              "throat": "throated", "breast": "breasted", "belly": "bellied"}
PATTERN_WORDS = {
    "plain": ("plain", "unmarked", "uniform"),
    "streaked": ("streaked", "finely streaked", "heavily streaked", "streaky"),
    "spotted": ("spotted", "speckled", "boldly spotted", "flecked"),
    "barred": ("barred", "finely barred", "cross-barred"),
    "mottled": ("mottled", "scaly", "blotched"),
}
PATTERN_MARKS = {"streaked": "streaks", "spotted": "spots", "barred": "bars", "mottled": "mottling"}
NAME_PATTERNS = {"streaked": "Streak", "spotted": "Spot", "barred": "Bar", "mottled": "Scaly"}
BILL_SHAPES = {
    "conical": ("conical", "stout, conical", "thick, seed-cracking", "finch-like"),
    "hooked": ("hooked", "strongly hooked", "hook-tipped"),
    "needle": ("needle-like", "thin, pointed", "fine, slender"),
    "dagger": ("dagger-shaped", "straight, sharp", "spear-like"),
    "spatulate": ("broad, flat", "spoon-shaped", "flattened"),
    "decurved": ("downcurved", "decurved", "sickle-shaped"),
    "all-purpose": ("straight, unremarkable", "medium-sized, straight", "all-purpose"),
}
NAME_BILLS = {"conical": "Thick-billed", "hooked": "Hook-billed", "needle": "Thin-billed", "dagger": "Spear-billed",
              "spatulate": "Broad-billed", "decurved": "Sickle-billed"}
BILL_LENGTHS = {"short": ("short", "stubby"), "medium": ("medium-length", "moderately sized"),
                "long": ("long", "elongated", "very long")}
SIZE_WORDS = {"tiny": ("tiny", "very small"), "small": ("small", "smallish"), "medium": ("medium-sized", "mid-sized"),
              "large": ("large", "big"), "very large": ("very large", "huge")}
SIZE_CM = {"tiny": (8, 11), "small": (11, 16), "medium": (16, 26), "large": (26, 45), "very large": (45, 80)}
EYE_WORDS = {"dark": ("dark", "dark brown", "blackish"), "red": ("red", "ruby-red", "crimson"),
             "yellow": ("yellow", "pale yellow", "golden"), "white": ("white", "whitish", "silvery"),
             "orange": ("orange", "amber")}
LEG_WORDS = {"black": ("black", "blackish"), "grey": ("grey", "slate-grey"), "pink": ("pink", "flesh-coloured"),
             "yellow": ("yellow", "yellowish"), "orange": ("orange", "bright orange")}
TAIL_SHAPES = {"square": ("square-ended", "square"), "notched": ("notched", "slightly notched"),
               "forked": ("forked", "deeply forked"), "rounded": ("rounded", "fan-shaped"),
               "pointed": ("pointed", "wedge-shaped", "graduated")}
FACE_WORDS = {"eye-ring": ("a conspicuous eye-ring", "a thin pale eye-ring", "a bold ring around the eye"),
              "eyebrow": ("a bold supercilium", "a pale eyebrow stripe", "a long stripe over the eye"),
              "eye-stripe": ("a dark line through the eye", "a dark eye-stripe", "a narrow eye-line"),
              "mask": ("a black facial mask", "a dark mask", "a bandit-like mask across the face")}
# Part groups a writer may lump together.
REGIONS = {"upperparts": ("nape", "back", "wings"), "underparts": ("breast", "belly"), "head": ("crown", "nape")}

DIETS = {  # by bill shape: what the bill betrays
    "conical": ("seeds", "grass seeds", "grain", "buds"),
    "hooked": ("large insects", "lizards", "small rodents", "nestlings of other birds"),
    "needle": ("small insects", "spiders", "nectar", "aphids"),
    "dagger": ("small fish", "tadpoles", "frogs", "aquatic insects"),
    "spatulate": ("aquatic invertebrates", "flying insects", "water snails", "larvae"),
    "decurved": ("nectar", "insects", "grubs", "berries"),
    "all-purpose": ("insects", "fruit", "berries", "caterpillars"),
}
FORAGING = ("gleaning insects from foliage", "hopping on the ground", "sallying from an exposed perch",
            "probing bark and crevices", "wading in the shallows", "hovering in front of flowers",
            "picking through leaf litter", "following army ant swarms", "searching the canopy in pairs")
HABITAT_PHRASES = {
    "forest": ("subtropical or tropical moist lowland forest", "dense evergreen forest", "the interior of old-growth forest"),
    "woodland edge": ("forest edges and clearings", "secondary growth and woodland edges", "open woodland"),
    "grassland": ("dry grassland", "open savanna", "tall-grass prairie"),
    "marsh": ("freshwater marshes", "reed beds", "swamps and flooded meadows"),
    "sea coast": ("rocky coasts", "sandy beaches and dunes", "coastal cliffs"),
    "arid scrub": ("arid scrubland", "thorn scrub", "semi-desert"),
    "montane forest": ("montane cloud forest", "high-altitude forest", "mountain slopes with stunted trees"),
    "rivers and lakes": ("the banks of rivers and lakes", "fast-flowing streams", "lake shores"),
    "farmland": ("farmland and gardens", "cultivated land", "orchards and villages"),
    "mangroves": ("mangrove forest", "tidal mangroves", "estuaries lined with mangroves"),
}
NESTS = ("a neat cup of grass and moss", "a domed nest of leaves", "a hanging purse of plant fibres",
         "a shallow scrape on the ground", "a cavity in a tree", "a burrow in an earth bank",
         "a platform of twigs", "a mud cup under an overhang")
NEST_SITES = ("in a low shrub", "high in the canopy", "among reeds", "on the ground under a tussock",
              "in a rock crevice", "in a dense thicket", "near water", "in an old woodpecker hole")
EGG_COLOURS = ("white", "pale blue", "cream", "greenish", "pinkish", "buff")
SONGS = ("a rapid, dry trill", "a series of clear, whistled notes", "a jumbled, scratchy warble",
         "a loud, ringing 'tee-chew'", "a soft, descending cascade", "a monotonous buzzing", "a rich, fluty phrase",
         "a harsh chatter", "a repeated two-note whistle", "a thin, high-pitched twitter")
CALLS = ("a sharp 'tsip'", "a nasal 'nyah'", "a metallic 'chink'", "a dry rattle", "a soft 'pew'",
         "a harsh 'kraak'", "a thin 'seee'", "a liquid 'plook'")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
STATUSES = (("least concern", 0.6), ("near threatened", 0.2), ("vulnerable", 0.1), ("endangered", 0.07),
            ("critically endangered", 0.03))
THREATS = ("habitat loss", "logging", "the conversion of grassland to farmland", "drainage of wetlands",
           "trapping for the cage-bird trade", "introduced predators such as rats and cats",
           "coastal development", "climate change")
GREEK_MEANINGS = ("songster", "little bird", "bush-dweller", "seed-eater", "sharp-beaked", "reed-lover",
                  "forest sprite", "swift flier", "leaf-gleaner", "shining one", "thorn-sitter", "water-runner")
PROFESSIONS = ("naturalist", "zoologist", "ornithologist", "explorer", "physician", "missionary", "collector")
NATIONALITIES = ("French", "German", "English", "Dutch", "Spanish", "Swedish", "Portuguese", "Italian", "Danish",
                 "Brazilian", "Austrian")
FOLKLORE = ("the coming of the rains", "good luck at harvest", "the spirits of the forest", "a lost lover",
            "the return of spring", "bad weather", "the dawn")
# Made-up places and people are drawn from these syllables.
SYLLABLES = ("var", "os", "tel", "mi", "ra", "kan", "dor", "el", "sa", "tum", "bri", "no", "qua", "ze", "lo", "ve",
             "hal", "ri", "pe", "gor", "an", "ti", "mu", "shen", "ol", "ka", "dru", "fen", "is", "ba")
PLACE_SUFFIXES = ("ia", "a", "ora", "avia", "and", "esh", "ar", "ino", "ura", "el")
REGION_FORMS = ("the {} Highlands", "the {} Basin", "northern {}", "southern {}", "the {} Islands",
                "the coast of {}", "eastern {}", "the {} Plateau", "western {}", "the {} Valley")
SURNAMES = ("Ibáñez", "Müller", "Lefèvre", "Okafor", "Haldane", "Brennan", "Sørensen", "Castaño", "Whitcombe",
            "Dufresne", "Kowalski", "Tanaka", "Moreau", "Pereira", "Lindqvist", "Achterberg", "Nakamura",
            "Delacour", "Fitzroy", "Gonçalves", "Hartert", "Vidal", "Rothmann", "Quist")
GIVEN_NAMES = ("Jean", "Karl", "Mary", "Louis", "Ana", "Henrik", "Thomas", "Elise", "Pedro", "Wilhelm", "Clara",
               "Ernst", "Sofia", "Jules")
GEO_NAME_WORDS = ("Northern", "Southern", "Eastern", "Western", "Mountain", "Island", "Lowland", "Forest",
                  "Marsh", "Coastal", "Desert", "Highland", "Lesser", "Greater", "Common", "Plain")


# ------------------------------------------------------------------ profiles
@dataclass
class FamilyLore:
    noun: str  # "Warbler"
    sci_name: str  # "Velimoridae"
    order_noun: str  # "perching bird"
    order_sci: str  # "Tumelaiformes"
    habitat: str  # one of HABITATS
    regions: list[str]  # where the family lives
    nest: str
    song: str
    traits: dict[str, str]  # the family's typical look, group -> value


@dataclass
class Profile:
    """Everything the writers may say about one species."""

    name: str  # display name, e.g. "Crimson-crowned Warbler"
    genus: str
    epithet: str
    family: FamilyLore
    traits: dict[str, str]  # group -> value: the truth
    habitat: str
    regions: list[str]
    look_alike: "Profile | None" = None  # a sibling in the family, for "similar to" sentences
    facts: dict = field(default_factory=dict)  # drawn non-visual facts shared by both corpora

    @property
    def file_name(self) -> str:
        """ASCII, underscores, no possessive: 'Ibáñez's Warbler' -> 'Ibanez_Warbler' (as CUB's 'Brewer_Blackbird')."""
        ascii_name = unicodedata.normalize("NFKD", self.name).encode("ascii", "ignore").decode()
        return ascii_name.replace("'s ", " ").replace("-", "_").replace(" ", "_")


def pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


PLAIN_WORD = 0.6  # writers use a lexicon's first, plainest word this often, a variant otherwise


def _word(rng: np.random.Generator, options):
    if len(options) == 1 or rng.random() < PLAIN_WORD:
        return options[0]
    return options[1 + int(rng.integers(len(options) - 1))]


def made_up_word(rng: np.random.Generator, n_syllables: int) -> str:
    return "".join(pick(rng, SYLLABLES) for _ in range(n_syllables))


def place_name(rng: np.random.Generator) -> str:
    return (made_up_word(rng, int(rng.integers(1, 3))) + pick(rng, PLACE_SUFFIXES)).capitalize()


def region(rng: np.random.Generator) -> str:
    return pick(rng, REGION_FORMS).format(place_name(rng))


def person(rng: np.random.Generator) -> str:
    return f"{pick(rng, GIVEN_NAMES)} {pick(rng, SURNAMES)}"


def draw_family(noun: str, traits: dict[str, str], habitat: str, order_noun: str, order_sci: str,
                rng: np.random.Generator) -> FamilyLore:
    sci = made_up_word(rng, 2).capitalize() + pick(rng, ("idae", "idae", "inidae", "ornithidae"))
    return FamilyLore(noun=noun, sci_name=sci, order_noun=order_noun, order_sci=order_sci, habitat=habitat,
                      regions=[region(rng) for _ in range(3)], nest=pick(rng, NESTS), song=pick(rng, SONGS),
                      traits=traits)


def species_name(traits: dict[str, str], family: FamilyLore, rng: np.random.Generator, style: float) -> str:
    """A made-up common name; most name a field mark (as 'Red-winged Blackbird'), some a place or a person."""
    noun = family.noun
    if style < 0.6:
        marks = [g for g, v in traits.items() if family.traits.get(g) != v] or list(traits)
        group = pick(rng, marks)
        value = traits[group]
        part = group.split("_")[0]
        if group.endswith("_colour") and part in PARTS:
            return f"{pick(rng, NAME_COLOURS[value])}-{NAME_PARTS[part]} {noun}"
        if group.endswith("_pattern") and value in NAME_PATTERNS:
            return f"{NAME_PATTERNS[value]}-{NAME_PARTS[part]} {noun}"
        if group == "bill_shape" and value in NAME_BILLS:
            return f"{NAME_BILLS[value]} {noun}"
        if group == "bill_length" and value != "medium":
            return f"{'Long' if value == 'long' else 'Short'}-billed {noun}"
        if group == "size" and value != "medium":
            return f"{ {'tiny': 'Dwarf', 'small': 'Little', 'large': 'Great', 'very large': 'Giant'}[value]} {noun}"
        if group == "eye_colour" and value != "dark":
            return f"{value.capitalize()}-eyed {noun}"
        if group == "crest" and value == "crest":
            return f"Crested {noun}"
        if group == "tail_shape" and value in ("forked", "pointed"):
            return f"{'Fork' if value == 'forked' else 'Spine'}-tailed {noun}"
        if group == "face" and value == "mask":
            return f"Masked {noun}"
        colour_group = f"{pick(rng, PARTS)}_colour"
        return f"{pick(rng, NAME_COLOURS[traits[colour_group]])}-{NAME_PARTS[colour_group.split('_')[0]]} {noun}"
    if style < 0.85:
        return f"{pick(rng, GEO_NAME_WORDS + tuple(place_adjective(place_name(rng)) for _ in range(4)))} {noun}"
    return f"{pick(rng, SURNAMES)}'s {noun}"


# ------------------------------------------------------------------ visual phrases
def colour_word(colour: str, rng) -> str:
    return _word(rng, COLOUR_WORDS[colour])


def part_word(part: str, rng) -> tuple[str, bool]:
    word = _word(rng, PART_WORDS[part])
    return word, word in PLURAL_PART_WORDS


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _cap(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:]


def _a(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _some(phrase: str, plural: bool) -> str:
    return phrase if plural else _a(phrase)


def place_adjective(place: str) -> str:
    return place + ("n" if place.endswith("a") else "ian")


def colour_sentence(parts: list[str], colour: str, pattern: str | None, rng) -> str:
    """One sentence giving the colour (and maybe the pattern) of one or more parts."""
    words = [part_word(p, rng) for p in parts]
    plural = len(words) > 1 or words[0][1]
    subject = _join([w for w, _ in words])
    be = "are" if plural else "is"
    c = colour_word(colour, rng)
    if pattern and pattern != "plain":
        marks = PATTERN_MARKS[pattern]
        return _cap(pick(rng, (
            f"the {subject} {be} {c} with darker {marks}",
            f"the {subject} {be} {_word(rng, PATTERN_WORDS[pattern])} and {c}",
            f"it has {_some(_word(rng, PATTERN_WORDS[pattern]) + ', ' + c + ' ' + subject, plural)}",
            f"adults show {c} {subject} marked with {marks}",
        ))) + "."
    return _cap(pick(rng, (
        f"the {subject} {be} {c}",
        f"it has {_some(c + ' ' + subject, plural)}",
        f"adults have {_some(c + ' ' + subject, plural)}",
        f"the {subject} {be} washed with {c}",
        f"in breeding plumage the {subject} {be} {c}",
        f"the plumage of the {subject} is {c}",
        f"its {subject} {be} a rich {c}" if not c.endswith("ish") else f"its {subject} {be} {c}",
    ))) + "."


def vague_sentence(parts: list[str], colour: str, rng) -> str:
    """Narrow a colour down without naming it, often lumping parts into a region."""
    region_name = next((r for r, ps in REGIONS.items() if set(ps) & set(parts) and rng.random() < 0.5), None)
    words = [part_word(p, rng) for p in parts]
    subject = region_name or _join([w for w, _ in words])
    plural = region_name in ("upperparts", "underparts") or (not region_name and (len(words) > 1 or words[0][1]))
    be = "are" if plural else "is"
    vague = pick(rng, VAGUE_COLOUR[colour])
    return _cap(pick(rng, (
        f"the {subject} {be} rather {vague}",
        f"it looks {vague} on the {subject}",
        f"the {subject} can appear {vague} in poor light",
        f"seen in the field, the {subject} {'look' if plural else 'looks'} {vague}",
    ))) + "."


def structure_sentence(group: str, value: str, family_noun: str, rng) -> str | None:
    """A sentence about a structural trait, or None when the writer has nothing to say about it."""
    if group == "bill_shape":
        return _cap(pick(rng, (f"the bill is {_word(rng, BILL_SHAPES[value])}",
                                f"it has {_a(_word(rng, BILL_SHAPES[value]))} bill",
                                f"the {_word(rng, BILL_SHAPES[value])} bill is used to take {pick(rng, DIETS[value])}"))) + "."
    if group == "bill_length":
        return _cap(pick(rng, (f"the bill is {_word(rng, BILL_LENGTHS[value])}",
                                f"it has a {_word(rng, BILL_LENGTHS[value])} bill for a {family_noun.lower()}"))) + "."
    if group == "size":
        lo, hi = SIZE_CM[value]
        a = int(rng.integers(lo, hi)); b = a + int(rng.integers(1, 4))
        measure = f"{{{{convert|{a}|-|{b}|cm|in|abbr=on}}}}" if rng.random() < 0.4 else f"{a}–{b} cm"
        return _cap(pick(rng, (f"it is a {_word(rng, SIZE_WORDS[value])} bird, measuring {measure} in length",
                                f"adults are {measure} long",
                                f"this is a {_word(rng, SIZE_WORDS[value])} {family_noun.lower()}",
                                f"the {_word(rng, SIZE_WORDS[value])} adult measures {measure}"))) + "."
    if group == "eye_colour":
        return _cap(pick(rng, (f"the iris is {_word(rng, EYE_WORDS[value])}", f"it has {_word(rng, EYE_WORDS[value])} eyes",
                                f"the eyes are {_word(rng, EYE_WORDS[value])}"))) + "."
    if group == "leg_colour":
        return _cap(pick(rng, (f"the legs and feet are {_word(rng, LEG_WORDS[value])}",
                                f"it has {_word(rng, LEG_WORDS[value])} legs"))) + "."
    if group == "tail_shape":
        return _cap(pick(rng, (f"the tail is {_word(rng, TAIL_SHAPES[value])}",
                                f"it has a fairly long, {_word(rng, TAIL_SHAPES[value])} tail",
                                f"in flight the {_word(rng, TAIL_SHAPES[value])} tail is obvious"))) + "."
    if group == "face":
        if value == "plain":
            return "The face is rather plain." if rng.random() < 0.5 else None
        return _cap(pick(rng, (f"it has {_word(rng, FACE_WORDS[value])}",
                                f"the head shows {_word(rng, FACE_WORDS[value])}"))) + "."
    if group == "crest":
        if value == "none":
            return "Unlike some relatives, it lacks a crest." if rng.random() < 0.3 else None
        return _cap(pick(rng, ("it has a prominent crest", "the crest is often raised when excited",
                                "a short, erectile crest tops the head"))) + "."
    raise KeyError(group)


def implied_sentence(group: str, noun: str, rng) -> str:
    """Says a trait is like the family's without saying what it is."""
    part = group.split("_")[0]
    thing = {"bill": "bill", "eye": "eyes", "leg": "legs", "face": "face pattern", "size": "size",
             "crest": "head shape"}.get(part, part if part in PARTS else group.replace("_", " "))
    plural = thing in ("wings", "eyes", "legs")
    be, resemble = ("are", "resemble") if plural else ("is", "resembles")
    return _cap(pick(rng, (f"the {thing} {be} typical of the family",
                           f"as in other {noun.lower()}s, the {thing} {be} unremarkable",
                           f"its {thing} {resemble} that of other members of the genus",
                           f"like most {noun.lower()}s, it has the usual {thing}"))) + "."


@dataclass
class TextKnobs:
    """How much of the truth each corpus tells, and how much else it says."""

    p_explicit: float = 0.5  # a trait the species shares with its family is stated
    p_field_mark: float = 0.95  # a field mark (a trait that sets the species apart from its family) is stated
    p_vague: float = 0.15  # a colour is only narrowed down ("dark", "pale")
    p_implied: float = 0.15  # a trait like the family's is only said to be typical
    p_lump: float = 0.5  # parts of one colour share a sentence
    nonvisual: tuple[int, int] = (20, 45)  # non-visual sentences per article
    p_stub: float = 0.08  # an article is a short stub
    p_name_subject: float = 0.4  # a sentence about 'it' names the bird instead
    p_distractor: float = 0.35  # per distractor kind (female, juvenile, look-alike, eggs)
    p_note: float = 0.5  # a family trait appears in the field notes
    p_note_field_mark: float = 0.95  # a field mark does


def _mode(differs: bool, knobs: TextKnobs, rng, can_be_vague: bool = True) -> str | None:
    """How a writer treats one trait: 'explicit', 'vague', 'implied' (only a family trait) or None (omitted).

    Field marks, the traits that set a species apart from its family, are stated more often.
    """
    p_explicit = knobs.p_field_mark if differs else knobs.p_explicit
    u = rng.random()
    if u < p_explicit:
        return "explicit"
    u -= p_explicit
    if can_be_vague:
        if u < knobs.p_vague:
            return "vague"
        u -= knobs.p_vague
    return "implied" if not differs and u < knobs.p_implied else None


def visual_sentences(profile: Profile, knobs: TextKnobs, rng) -> list[str]:
    """The description: each trait stated, narrowed down, implied by the family, or left out."""
    traits, fam, noun = profile.traits, profile.family.traits, profile.family.noun
    explicit: dict[str, list[str]] = {}  # colour -> parts stated with that colour
    sentences = []
    for part in PARTS:
        group = f"{part}_colour"
        colour, pattern = traits[group], traits[f"{part}_pattern"]
        mode = _mode(colour != fam[group] or pattern != fam[f"{part}_pattern"], knobs, rng)
        if mode == "explicit":
            if pattern != "plain" and rng.random() < 0.6:
                sentences.append(colour_sentence([part], colour, pattern, rng))
            else:
                explicit.setdefault(colour, []).append(part)
        elif mode == "vague":
            sentences.append(vague_sentence([part], colour, rng))
        elif mode == "implied":
            sentences.append(implied_sentence(group, noun, rng))
    for colour, parts in explicit.items():
        if len(parts) > 1 and rng.random() < knobs.p_lump:
            sentences.append(colour_sentence(parts, colour, None, rng))
        else:
            sentences += [colour_sentence([p], colour, None, rng) for p in parts]
    for group, value in traits.items():
        if group.split("_")[0] in PARTS:
            continue
        mode = _mode(value != fam[group], knobs, rng, can_be_vague=False)
        if mode == "explicit":
            sentence = structure_sentence(group, value, noun, rng)
            if sentence:
                sentences.append(sentence)
        elif mode == "implied":
            sentences.append(implied_sentence(group, noun, rng))
    rng.shuffle(sentences)
    return sentences


def distractor_sentences(profile: Profile, knobs: TextKnobs, rng) -> list[str]:
    """Visual words that do not describe the adult bird: sexes, juveniles, look-alikes, eggs."""
    out = []
    if rng.random() < knobs.p_distractor:
        word, plural = part_word(pick(rng, PARTS), rng)
        out.append(_cap(pick(rng, ("the female is duller, with {cp}", "females have {cp}",
                                    "the female lacks the male's colours and has {cp}")).format(
            cp=_some(colour_word(pick(rng, COLOURS), rng) + " " + word, plural))) + ".")
    if rng.random() < knobs.p_distractor:
        out.append(_cap(pick(rng, ("juveniles are {v} and {pat} below", "immature birds are {v} overall",
                                    "young birds have {pat} underparts and a {v} head")).format(
            v=pick(rng, ("dull", "pale", "brownish", "greyish", "drab")),
            pat=pick(rng, ("streaked", "spotted", "mottled", "barred")))) + ".")
    other = profile.look_alike
    if other is not None and rng.random() < knobs.p_distractor:
        diffs = [p for p in PARTS if other.traits[f"{p}_colour"] != profile.traits[f"{p}_colour"]]
        if diffs:
            part = pick(rng, diffs)
            word, plural = part_word(part, rng)
            out.append(_cap(pick(rng, (
                "it is similar to the {o}, but its {p} {be} {c} rather than {oc}",
                "it can be told from the {o} by its {c} {p}; in the {o} the {p} {be} {oc}",
                "the {o} is similar but its {p} {be} {oc}",
            )).format(o=other.name, c=colour_word(profile.traits[f"{part}_colour"], rng),
                      oc=colour_word(other.traits[f"{part}_colour"], rng), p=word, be="are" if plural else "is")) + ".")
    if rng.random() < knobs.p_distractor:
        out.append(f"The eggs are {pick(rng, EGG_COLOURS)} with {pick(rng, ('brown', 'reddish', 'grey', 'black'))} "
                   f"{pick(rng, ('speckles', 'blotches', 'spots'))}.")
    return out


# ------------------------------------------------------------------ non-visual sentences
def draw_facts(profile: Profile, rng) -> dict:
    """Non-visual facts of a species, drawn once so both corpora agree."""
    status = pick(rng, [s for s, w in STATUSES for _ in range(int(w * 100))])
    first, second = (sorted(rng.choice(12, size=2, replace=False)) if rng.random() < 0.8 else (0, 11))
    return {
        "describer": person(rng), "year": int(rng.integers(1760, 1935)), "nationality": pick(rng, NATIONALITIES),
        "subspecies": int(rng.integers(0, 6)), "status": status, "threat": pick(rng, THREATS),
        "diet": list(rng.choice(DIETS[profile.traits["bill_shape"]], size=2, replace=False)),
        "foraging": pick(rng, FORAGING), "call": pick(rng, CALLS),
        "song": profile.family.song if rng.random() < 0.6 else pick(rng, SONGS),
        "nest": profile.family.nest if rng.random() < 0.7 else pick(rng, NESTS),
        "months": (MONTHS[first], MONTHS[second]), "clutch": (int(rng.integers(1, 4)), int(rng.integers(4, 7))),
        "alt": (int(rng.integers(0, 15)) * 100, int(rng.integers(15, 40)) * 100),
        "migrant": rng.random() < 0.35,
    }


def nonvisual_pool(profile: Profile, rng) -> list[str]:
    """Candidate non-visual sentences; the article draws its share of them."""
    f, fam, name = profile.facts, profile.family, profile.name
    common = name.lower() if rng.random() < 0.3 else name
    hab = pick(rng, HABITAT_PHRASES[profile.habitat])
    places = _join(profile.regions)
    collector = person(rng)
    pool = [
        f"It was formally described in {f['year']} by the {f['nationality']} {pick(rng, PROFESSIONS)} {f['describer']}.",
        f"The species was first described by {f['describer']} in {f['year']} under the binomial name "
        f"{made_up_word(rng, 2).capitalize()} {profile.epithet}.",
        f"It is now placed in the genus {profile.genus}, which was introduced by {person(rng)} in {f['year'] + int(rng.integers(1, 60))}.",
        f"The genus name {profile.genus} comes from the Ancient Greek for \"{pick(rng, GREEK_MEANINGS)}\".",
        f"The specific epithet {profile.epithet} honours {collector}, {_a(pick(rng, PROFESSIONS))} who collected the type specimen.",
        (f"{f['subspecies']} subspecies are recognised." if f["subspecies"] > 1 else "The species is monotypic: no subspecies are recognised."),
        f"Molecular studies published in {int(rng.integers(1995, 2020))} placed it in the family {fam.sci_name}.",
        f"The family {fam.sci_name} belongs to the order {fam.order_sci}, the {fam.order_noun}s.",
        f"Like other {fam.order_noun}s, it {pick(rng, ORDER_HABITS[fam.order_noun])}.",
        f"It is found in {places}.",
        f"Its natural habitats are {hab} and {pick(rng, HABITAT_PHRASES[pick(rng, HABITATS)])}.",
        f"It mainly inhabits {hab}, where it is {pick(rng, ('common', 'fairly common', 'uncommon', 'local', 'rare'))}.",
        f"It occurs from sea level up to {f['alt'][1]} m.",
        (f"It breeds in {profile.regions[0]} and migrates to {region(rng)} for the winter." if f["migrant"]
         else "It is resident throughout its range and does not migrate."),
        f"Vagrants have been recorded in {place_name(rng)} and {place_name(rng)}.",
        f"The range extends over roughly {int(rng.integers(2, 900)) * 1000} km2.",
        f"It feeds mainly on {f['diet'][0]}, and also takes {f['diet'][1]}.",
        f"It forages by {f['foraging']}.",
        f"Outside the breeding season it joins mixed-species flocks with {pick(rng, FAMILY_NOUNS).lower()}s.",
        f"It is usually seen singly or in pairs, {pick(rng, ('and is rather shy', 'and is often tame', 'and is easily overlooked', 'keeping to dense cover'))}.",
        f"The breeding season runs from {f['months'][0]} to {f['months'][1]}.",
        f"The nest is {f['nest']}, built {pick(rng, NEST_SITES)}.",
        f"The clutch is {f['clutch'][0]} to {f['clutch'][1]} eggs, incubated for {int(rng.integers(11, 20))} days.",
        f"Both parents feed the chicks, which fledge after about {int(rng.integers(12, 30))} days.",
        f"It is {pick(rng, ('monogamous', 'a cooperative breeder, helped by young of earlier broods', 'often parasitised by cuckoos'))}.",
        f"The song is {f['song']}.",
        f"The call is {f['call']}, given {pick(rng, ('in flight', 'when alarmed', 'to keep contact within the flock'))}.",
        f"Males sing from {pick(rng, ('an exposed perch', 'deep cover', 'the treetops', 'a fence post'))}, mostly at dawn.",
        f"The species is listed as {f['status']} on the IUCN Red List.",
        f"The population is estimated at {int(rng.integers(1, 500)) * 1000} mature individuals and is thought to be "
        f"{pick(rng, ('stable', 'declining', 'increasing', 'decreasing slowly'))}.",
        f"It is threatened by {f['threat']}.",
        f"It occurs in several protected areas, including the {place_name(rng)} National Park.",
        f"In the folklore of {place_name(rng)}, the {common} is associated with {pick(rng, FOLKLORE)}.",
        f"It was depicted on a {int(rng.integers(1950, 2015))} postage stamp of {place_name(rng)}.",
        f"The local name, {made_up_word(rng, 2)}, imitates its call.",
        f"Its lifespan in the wild is up to {int(rng.integers(3, 15))} years.",
        f"It is preyed upon by hawks, snakes and {pick(rng, ('monkeys', 'feral cats', 'rats', 'owls'))}.",
        f"Little is known about its {pick(rng, ('moult', 'breeding biology', 'movements', 'diet in winter'))}.",
        f"A study in {profile.regions[-1]} found densities of {int(rng.integers(2, 60))} pairs per km2.",
        f"The {common} was the subject of a survey by the {place_name(rng)} Ornithological Society in {int(rng.integers(1970, 2015))}.",
        f"It has adapted well to {pick(rng, ('plantations', 'gardens', 'secondary forest', 'suburban parks'))}.",
        f"Nestlings are fed mostly {pick(rng, ('caterpillars', 'insects', 'regurgitated seeds', 'small fish', 'spiders'))}.",
        f"Pairs defend a territory of about {int(rng.integers(1, 30))} ha.",
        f"Birds in {region(rng)} are sometimes treated as a separate species.",
        f"The type locality is {region(rng)}.",
        f"{pick(rng, ('Flocks', 'Small groups', 'Family parties'))} roost together in {pick(rng, ('dense shrubs', 'reed beds', 'tall trees', 'tree cavities'))}.",
    ]
    return pool


def references(profile: Profile, rng) -> list[str]:
    """Reference-list boilerplate of the kind web articles keep."""
    year = int(rng.integers(2004, 2017))
    out = [f"BirdLife International ({year}). \"{profile.genus} {profile.epithet}\". IUCN Red List of Threatened Species. Version {year}.1."]
    if rng.random() < 0.5:
        out.append(f"{{{{cite journal|last={pick(rng, SURNAMES)}|year={int(rng.integers(1950, 2015))}|journal=Ibis|volume={int(rng.integers(10, 160))}}}}}")
    if rng.random() < 0.3:
        out.append(f"Retrieved {int(rng.integers(1, 29))} {pick(rng, MONTHS)} {year}.")
    return out


def _name_subjects(sentences: list[str], name: str, p: float, rng) -> list[str]:
    """Name the bird instead of saying 'it', as articles do: its name (often a field mark) recurs."""
    out = []
    for sentence in sentences:
        if sentence.startswith(("It ", "Its ")) and rng.random() < p:
            subject = f"The {name}" if rng.random() < 0.7 else f"The {name.lower()}"
            sentence = subject + ("'s " if sentence.startswith("Its ") else " ") + sentence.split(" ", 1)[1]
        out.append(sentence)
    return out


def article(profile: Profile, knobs: TextKnobs, rng: np.random.Generator) -> str:
    """An encyclopedia-style article, one sentence per line."""
    fam = profile.family
    what = fam.noun.lower() if rng.random() < 0.5 else fam.order_noun
    lead = [f"The {profile.name} ({profile.genus} {profile.epithet}) is {_a(what)} in the family {fam.sci_name}."]
    visual = visual_sentences(profile, knobs, rng)
    if rng.random() < 0.5 and visual:
        lead.append(f"It is a {_word(rng, SIZE_WORDS[profile.traits['size']])} {fam.noun.lower()} of {pick(rng, HABITAT_PHRASES[profile.habitat])}.")
    pool = nonvisual_pool(profile, rng)
    stub = rng.random() < knobs.p_stub
    n_nonvisual = int(rng.integers(3, 8)) if stub else int(rng.integers(*knobs.nonvisual))
    n_nonvisual = min(n_nonvisual, len(pool))
    chosen = [pool[i] for i in sorted(rng.choice(len(pool), size=n_nonvisual, replace=False))]
    if stub:
        visual = visual[: int(rng.integers(1, 3))]
    distract = distractor_sentences(profile, knobs, rng)
    # Sections in Wikipedia order: taxonomy, description, distribution, behaviour, status.
    cut = n_nonvisual // 4
    description = visual + distract
    rng.shuffle(description)
    body = lead + _name_subjects(chosen[:cut] + description + chosen[cut:], profile.name, knobs.p_name_subject, rng)
    if not stub:
        body += references(profile, rng)
    return "\n".join(body) + "\n"


def field_notes(profile: Profile, knobs: TextKnobs, rng: np.random.Generator) -> str:
    """A terse field-guide entry: length, field marks part by part, bare parts, voice, habitat."""
    traits, fam = profile.traits, profile.family.traits

    def told(group: str) -> bool:
        return rng.random() < (knobs.p_note_field_mark if traits[group] != fam[group] else knobs.p_note)

    lo, hi = SIZE_CM[traits["size"]]
    a = int(rng.integers(lo, hi))
    lines = [f"{profile.name.upper()} {profile.genus} {profile.epithet}"]
    head = f"L {a}-{a + int(rng.integers(1, 4))} cm."
    if told("size"):
        head += f" {_word(rng, SIZE_WORDS[traits['size']]).capitalize()} {profile.family.noun.lower()}."
    lines.append(head)
    by_colour: dict[str, list[str]] = {}
    for part in PARTS:
        if told(f"{part}_colour"):
            by_colour.setdefault(traits[f"{part}_colour"], []).append(part)
    marks = []
    for colour, parts in by_colour.items():
        marks.append(f"{', '.join(parts)} {_word(rng, COLOUR_WORDS[colour][:2])}")
    for part in PARTS:
        pattern = traits[f"{part}_pattern"]
        if pattern != "plain" and told(f"{part}_pattern"):
            marks.append(f"{part} {_word(rng, PATTERN_WORDS[pattern][:2])}")
    if marks:
        rng.shuffle(marks)
        lines.append(_cap("; ".join(marks)) + ".")
    bare = []
    if told("bill_shape") or told("bill_length"):
        bare.append(f"bill {_word(rng, BILL_LENGTHS[traits['bill_length']])}, {_word(rng, BILL_SHAPES[traits['bill_shape']])}")
    if told("eye_colour"):
        bare.append(f"eye {EYE_WORDS[traits['eye_colour']][0]}")
    if told("leg_colour"):
        bare.append(f"legs {LEG_WORDS[traits['leg_colour']][0]}")
    if told("tail_shape"):
        bare.append(f"tail {TAIL_SHAPES[traits['tail_shape']][0]}")
    if traits["face"] != "plain" and told("face"):
        bare.append(FACE_WORDS[traits["face"]][0].split(" ", 1)[1])
    if traits["crest"] == "crest" and told("crest"):
        bare.append("crested")
    if bare:
        lines.append(_cap("; ".join(bare)) + ".")
    if rng.random() < 0.5:
        lines.append(pick(rng, ("Ad. f. duller.", "Juv. browner, streaked below.", "Sexes alike.", "Imm. lacks head pattern.")))
    lines.append(f"Voice: {profile.facts['call']}; song {profile.facts['song']}.")
    lines.append(f"Habitat: {pick(rng, HABITAT_PHRASES[profile.habitat])}; {profile.regions[0]}.")
    if profile.look_alike is not None and rng.random() < 0.4:
        lines.append(f"Cf. {profile.look_alike.name}.")
    return "\n".join(lines) + "\n"
