"""GAZSL's TF-IDF: its Porter variant, its tokens, its vocabulary, and fixed-vocabulary encoding."""

import numpy as np
import pytest
import scipy.io

from gazsl.documents.corpus import read_corpus
from gazsl.io import GazslError
from gazsl.documents.stem import stem
from gazsl.documents.encoders import TfidfEncoder, porter_tokens, read_vocabulary
from gazsl.text import main


@pytest.mark.parametrize("word, expected", [
    # where NLTK's default variant (GAZSL's) departs from Porter 1980: 'day' not 'dai', 'tie' not 'ti'
    ("day", "day"), ("jays", "jay"), ("eyes", "eye"), ("lying", "lie"), ("dying", "die"), ("ties", "tie"),
    ("geology", "geolog"),
    # the 1980 rules
    ("cries", "cri"), ("caresses", "caress"), ("ponies", "poni"), ("hopping", "hop"), ("filing", "file"),
    ("falling", "fall"), ("agreed", "agre"), ("happy", "happi"), ("relational", "relat"),
    ("conditional", "condit"), ("generalization", "gener"), ("hopefulness", "hope"), ("formality", "formal"),
    ("triplicate", "triplic"), ("albatrosses", "albatross"), ("plumaged", "plumag"), ("feet", "feet"), ("by", "by"),
])
def test_stem_matches_gazsl_porter_variant(word, expected):
    assert stem(word) == expected


def test_tokens_as_gazsl_made_them():
    stop = frozenset({"the", "is", "a", "this", "was"})
    tokens = porter_tokens("The black-footed albatross is 2.6 kg; this bird's 1970s range won't x", stop)
    # numbers dropped (also '1970s' -> '1970'); 1-letter tokens dropped; stop words matched against stems
    assert tokens == ["black", "foot", "albatross", "kg", "thi", "bird", "rang", "wo"]


def _write_terms(path, terms):
    width = max(map(len, terms))
    scipy.io.savemat(path, {"TFIDF_Term": np.array([t.ljust(width) for t in terms])})


def test_read_vocabulary_mat_and_text(tmp_path):
    _write_terms(tmp_path / "terms.mat", ["bird", "wing", "albatross"])
    assert read_vocabulary(tmp_path / "terms.mat") == ["bird", "wing", "albatross"]
    (tmp_path / "terms.txt").write_text("bird\nwing\nbird\n")
    with pytest.raises(GazslError, match=r"terms\.txt.*duplicate term 'bird'"):
        read_vocabulary(tmp_path / "terms.txt")


def _toy_corpus(root):
    root.mkdir()
    (root / "1.Albatross.txt").write_text("0 the albatross flies over the ocean .\n1 albatrosses nest on islands .\n")
    (root / "2.Warbler.txt").write_text("0 the warbler sings in the forest .\n1 warblers eat insects .\n")
    return root


def test_vocab_overlap_cli_prints_jaccard_last(tmp_path, capsys):
    corpus = _toy_corpus(tmp_path / "articles")
    # learned: albatross fli ocean nest island warbler sing forest eat insect (10 terms)
    (tmp_path / "ref.txt").write_text("albatross\nocean\nwarbler\nforest\nbeak\nfeather\n")
    assert main(["vocab-overlap", "--corpus", str(corpus), "--reference", str(tmp_path / "ref.txt")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"jaccard={4 / 12:.3f}"


def test_fixed_vocabulary_encoding(tmp_path):
    corpus = read_corpus(_toy_corpus(tmp_path / "articles"))
    vocabulary = ["albatross", "warbler", "beak", "ocean"]
    encoder = TfidfEncoder(vocabulary=vocabulary).fit(corpus.documents([1, 2]))
    vectors = encoder.transform(corpus.documents([1, 2]))
    assert encoder.vocabulary_ == vocabulary and vectors.shape == (2, 4)
    assert vectors[:, 2].tolist() == [0, 0]  # 'beak' never occurs
    assert vectors[0, 0] > 0 and vectors[0, 1] == 0 and vectors[1, 1] > 0


def test_encode_cli_with_gazsl_vocabulary(tmp_path, shared_data):
    from gazsl.store.feature_store import FeatureStore
    from gazsl.store.splits import make_split

    terms = shared_data / "cub" / "gazsl_release" / "CUB_Porter_7551D_TFIDF_term.mat"
    labels = np.repeat(np.arange(3), 4)
    store = FeatureStore(dataset="toy", features=np.random.default_rng(0).standard_normal((12, 4)).astype(np.float32),
                         labels=labels, class_ids=np.array([1, 2, 3]), class_names=["a", "b", "c"],
                         super_ids=np.zeros(3, np.int64), super_names=["x"],
                         splits={"s": make_split("s", [0, 1], [2], labels)})
    store.save(tmp_path / "toy.h5")
    main(["encode", "--corpus", str(shared_data / "cub" / "wiki_articles"), "--store", str(tmp_path / "toy.h5"),
          "--vocabulary", str(terms), "--name", "tfidf_gazsl"])
    text = FeatureStore.open(tmp_path / "toy.h5").text("tfidf_gazsl")
    assert text.vectors.shape == (3, 7551) and text.vocabulary == read_vocabulary(terms)
    assert text.settings["fixed_vocabulary"] is True
    assert text.vectors[0, text.vocabulary.index("albatross")] > 0


@pytest.mark.parametrize("corpus, reference, floor", [
    ("cub/wiki_articles", "cub/gazsl_release/CUB_Porter_7551D_TFIDF_term.mat", 0.98),  # measured 0.995
    ("nabirds/wiki_articles", "nabirds/gazsl_release/NAB_Porter_13217D_TFIDF_term.mat", 0.97),  # measured 0.984
])
def test_learned_vocabulary_matches_gazsl(shared_data, capsys, corpus, reference, floor):
    main(["vocab-overlap", "--corpus", str(shared_data / corpus), "--reference", str(shared_data / reference)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("jaccard=") and float(last.split("=")[1]) >= floor


def test_the_store_records_the_whole_tfidf_recipe_and_new_articles_encode_alike(tmp_path):
    from gazsl.store.feature_store import FeatureStore
    from gazsl.store.splits import make_split
    from gazsl.documents.encoders import recorded_encoder

    articles = tmp_path / "articles"
    articles.mkdir()
    for cid, name, text in ((1, "Red_Tit", "The red tit has a red crown and black wings. It lives in oak woods."),
                            (2, "Sea_Gull", "The sea gull is white with grey wings. Gulls eat fish."),
                            (3, "Brown_Wren", "The brown wren is small and streaked brown. It was described in 1820.")):
        (articles / f"{cid}.{name}.txt").write_text(text.replace(". ", ".\n"))
    labels = np.repeat(np.arange(3), 4)
    FeatureStore(dataset="toy", features=np.random.default_rng(0).standard_normal((12, 4)).astype(np.float32),
                 labels=labels, class_ids=np.array([1, 2, 3]), class_names=["Red_Tit", "Sea_Gull", "Brown_Wren"],
                 super_ids=np.zeros(3, np.int64), super_names=["x"],
                 splits={"s": make_split("s", [0, 1], [2], labels)}).save(tmp_path / "toy.h5")
    main(["encode", "--corpus", str(articles), "--store", str(tmp_path / "toy.h5"), "--name", "t",
          "--noise", "clean,lexicon", "--noise-mode", "keep"])
    store = FeatureStore.open(tmp_path / "toy.h5")
    stored = store.text("t")
    assert stored.idf.shape == (stored.vectors.shape[1],) and stored.settings["noise"]["visual"] == "lexicon"
    corpus = read_corpus(articles)
    encoder = recorded_encoder(store, "t")  # vocabulary, IDF weights, stop words, stemmer and noise handling
    assert np.array_equal(encoder.encode(corpus.documents([1, 2, 3]), ["Red_Tit", "Sea_Gull", "Brown_Wren"]), stored.vectors)

    stored.settings["noise"]["rules_version"] = 1
    with pytest.raises(GazslError, match=r"toy.h5 \[text/t\]: noise handling of rules version 1, this gazsl applies version 2"):
        recorded_encoder(store, "t")
    stored.idf = None  # a store from before the recipe was recorded
    with pytest.raises(GazslError, match=r"toy.h5 \[text/t\]: .* did not record their idf .*rebuild the store"):
        recorded_encoder(store, "t")
