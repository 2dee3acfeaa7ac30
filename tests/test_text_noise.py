"""Noise handling: markup removal, visual relevance, keep/weight selection, and its use by TF-IDF."""

import re

import numpy as np
import pytest

from gazsl import text as text_module
from gazsl.documents import text_noise as tn
from gazsl.documents.corpus import Corpus, read_corpus, split_sentences
from gazsl.io import GazslError
from gazsl.store.feature_store import FeatureStore
from gazsl.store.splits import make_split


def test_convert_template_keeps_the_size_and_drops_the_conversion():
    raw = ("they measure {convert|71|to(-)|91|cm|in|abbr=on} in length , have a wingspan of "
           "{convert|190|to(-)|220|cm|ft|abbr=on}, and weigh {convert|2.6|-|4.3|kg|lb|abbr=on} .")
    assert tn.strip_markup(raw) == "they measure 71-91 cm in length, have a wingspan of 190-220 cm, and weigh 2.6-4.3 kg."
    assert tn.strip_markup("a {convert|31||38|cm|in} grebe") == "a 31-38 cm grebe"


def test_templates_reference_marks_and_link_debris_vanish():
    raw = "{citation needed|date=july 2010}[5] the {r|mtfg}{r|birdweb} bill is {a {nested|x}} black]] ."
    assert tn.strip_markup(raw) == "the bill is black."


def test_mediawiki_source_templates_and_reference_lists_go_but_sizes_stay():
    sentences = ['BirdLife International (2004). "Nomiops teldorensis".', "IUCN Red List of Threatened Species.",
                 "Version 2004.1.", "Retrieved 10 September 2013.",
                 "{{cite journal|last=Quist|year=2012|journal=Ibis|volume=101}}",
                 "It measures {{convert|14|-|16|cm|in|abbr=on}} long.",
                 "It is listed as least concern on the IUCN Red List of Threatened Species."]
    assert tn.clean_sentences(sentences) == ["It measures 14-16 cm long.", sentences[-1]]


def test_clean_glues_abbreviation_fragments_and_drops_debris():
    sentences = ["the southern grey shrike (l .", "meridionalis) is darker grey above .", " .", "2000) .",
                 "jpg|a shrike at great falls image:creeper .", "the bill is black and hooked ."]
    assert tn.clean_sentences(sentences) == [
        "the southern grey shrike (l. meridionalis) is darker grey above.", "the bill is black and hooked."]


def test_lexicon_relevance_counts_visual_words_but_not_the_class_name():
    sentences = ["the red-winged blackbird breeds in marshes from alaska to florida .",
                 "the male is all black with a red shoulder and yellow wing bar .",
                 "red-winged blackbirds eat seeds ."]
    relevance = tn.lexicon_relevance(sentences, "Red_winged_Blackbird")
    assert relevance[0] == 0 and relevance[2] == 0  # "red" and "winged" belong to the name here
    assert relevance[1] >= 5  # black, red, shoulder, yellow, wing, bar
    # Without the name, the same sentences do look visual: the exclusion is what keeps them out.
    assert tn.lexicon_relevance(sentences[:1])[0] > 0


def test_keep_mode_keeps_the_most_visual_sentences_in_document_order():
    sentences = ["it breeds in marshes .", "the crown is red and the bill black .", "it eats seeds .",
                 "the wings are brown with white bars .", "it was described by linnaeus ."]
    settings = tn.parse_steps("lexicon", mode="keep", keep_fraction=0.6)
    kept, weights = tn.select(sentences, settings)
    assert kept == [sentences[1], sentences[3]]  # 3 allowed, but an irrelevant sentence is never kept
    assert np.all(weights == 1)
    kept, _ = tn.select(["it breeds in marshes .", "it eats seeds ."], settings)
    assert kept == ["it breeds in marshes ."]  # nothing is visual: keep one rather than nothing


def test_weight_mode_weights_by_relevance_with_uniform_fallback():
    settings = tn.parse_steps("lexicon", mode="weight")
    _, weights = tn.select(["it eats seeds .", "the crown is red ."], settings)
    assert weights[0] == 0 and weights[1] >= 2
    _, weights = tn.select(["it eats seeds .", "it sings ."], settings)
    assert np.all(weights == 1)


def test_query_relevance_uses_the_embedding_it_is_given():
    table = {"visual": [1.0, 0.0], "other": [0.0, 1.0], "q": [0.8, 0.6]}

    def embed(texts):
        return np.array([table[t] for t in texts], dtype=np.float32)

    relevance = tn.query_relevance(["visual", "other"], "q", embed)
    assert relevance == pytest.approx([0.8, 0.6])
    with pytest.raises(GazslError, match="query"):
        tn.select(["visual"], tn.parse_steps("query"))


@pytest.mark.parametrize("steps, kwargs, message", [
    ("clean,colour", {}, "unknown noise step 'colour'"),
    ("lexicon,query", {}, "choose one"),
    ("lexicon", {"mode": "drop"}, "unknown noise mode"),
    ("lexicon", {"keep_fraction": 0.0}, "keep fraction"),
])
def test_bad_noise_settings_are_rejected(steps, kwargs, message):
    with pytest.raises(GazslError, match=message):
        tn.parse_steps(steps, **kwargs)


def test_describe_records_only_what_changes_the_output():
    assert tn.parse_steps("none").describe() == {"clean": False, "visual": "none"}
    assert "query" in tn.parse_steps("query").describe()
    assert tn.parse_steps("clean,lexicon", mode="keep", keep_fraction=0.3).describe()["keep_fraction"] == 0.3


def _tiny_store(path, class_ids):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(len(class_ids)), 4)
    store = FeatureStore(dataset="tiny", features=rng.normal(size=(len(labels), 8)).astype(np.float32),
                         labels=labels, class_ids=np.asarray(class_ids), class_names=[f"c{c}" for c in class_ids],
                         super_ids=np.zeros(len(class_ids), np.int64), super_names=["bird"],
                         splits={"tiny": make_split("tiny", [0, 1], [2], labels)})
    store.save(path)
    return path


DOCS = {1: "the crown is red .\nit breeds in marshes {r|birdweb} .\nit was named by linnaeus .",
        2: "the bill is black and hooked .\nit lives on islands .\nit eats fish .",
        3: "the wings are blue with white bars .\nit breeds in marshes .\nit eats seeds ."}


def test_tfidf_with_keep_mode_reads_only_the_visual_sentences(tmp_path):
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    for cid, doc in DOCS.items():
        (corpus_dir / f"{cid}.Bird_{cid}.txt").write_text(doc)
    store = _tiny_store(tmp_path / "s.h5", [1, 2, 3])
    args = ["encode", "--corpus", str(corpus_dir), "--store", str(store), "--encoder", "tfidf"]
    text_module.main(args)
    text_module.main(args + ["--name", "tfidf_visual", "--noise", "clean,lexicon", "--noise-mode", "keep"])
    texts = FeatureStore.open(store).texts
    assert {"marsh", "linnaeu", "birdweb"} <= set(texts["tfidf"].vocabulary)
    assert not {"marsh", "linnaeu", "birdweb"} & set(texts["tfidf_visual"].vocabulary)
    assert {"crown", "red", "hook", "wing"} <= set(texts["tfidf_visual"].vocabulary)
    assert texts["tfidf_visual"].settings["noise"]["visual"] == "lexicon"
    with pytest.raises(GazslError, match="'keep', not 'weight'"):
        text_module.main(args + ["--noise", "lexicon"])


def test_filter_corpus_leaves_the_input_alone():
    corpus = Corpus(source="mem", texts=dict(DOCS), names={c: "" for c in DOCS})
    filtered = tn.filter_corpus(corpus, tn.parse_steps("clean"))
    assert "{r|birdweb}" in corpus.texts[1] and "{" not in filtered.texts[1]
    assert filtered.checksum() != corpus.checksum()


def test_clean_leaves_no_markup_in_the_real_articles(shared_data):
    corpus = read_corpus(shared_data / "cub" / "wiki_articles")
    raw = cleaned = 0
    for document in corpus.texts.values():
        sentences = split_sentences(document)
        kept = tn.clean_sentences(sentences)
        raw, cleaned = raw + len(sentences), cleaned + len(kept)
        assert not [s for s in kept if re.search(r"[{}|]|\[\[|\]\]", s)]
    assert 0.9 * raw < cleaned < raw  # debris goes, the articles stay
