"""The web application of gazsl serve: photographs in, each one's classes ranked as gazsl predict ranks them.

    GET  /                 the page (static/index.html; every asset served from here, nothing from elsewhere)
    GET  /card             the model card (static/card.html, filled from /api/card)
    GET  /api/card         what the model file records: training split and figures, text encoder, image backbone
    GET  /api/classes      the candidate classes, and whether GZSL is available
    POST /api/classes      form fields name and article (text, or an uploaded .txt): a new candidate class
    POST /api/predict      form fields photo (one file), gzsl (true/false), top_k: the photo's ranked classes, each
                           with its probability among them (null, and a note, where the model file has no
                           temperature) and whether the top two are too close to call (gazsl.scoring.ranking)

One model is loaded, and all its work runs on one worker thread, in arrival order: the generator is not
made for concurrent use, and one photograph at a time keeps the memory to the model's plus the uploads
waiting (each in a temporary file). At most ``queue`` requests wait; one more is told to retry (503) rather than queued without bound.
A bad upload is a 4xx with a one-line ``error`` the page shows; the server goes on answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from gazsl.documents.class_vectors import ClassVectors
from gazsl.documents.corpus import Corpus, clean_document, read_corpus
from gazsl.io import GazslError
from gazsl.vision.backbone import unreadable
from gazsl.documents.encoders import candidate_vectors
from gazsl.scoring.ranking import (NO_TEMPERATURE, class_probabilities, class_scores, percent, rank,
                                   refuse_training_classes, too_close_to_call)

STATIC = Path(__file__).with_name("static")
MAX_ARTICLE_BYTES = 1 << 20
CARD_FIGURES = ("split", "protocol", "iterations", "zsl_top1", "zsl_top1_per_class", "gzsl_seen", "gzsl_unseen",
                "gzsl_h", "ausuc", "n_seen_classes", "n_unseen_classes", "text", "classifier", "seed")


class Rejected(Exception):
    """A request the page can fix: its HTTP status and the one-line message shown."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Ranker:
    """A loaded model and its candidate classes (the --classes articles or --class-vectors, then those added on the
    page)."""

    def __init__(self, model, classes: Path | ClassVectors, top_k: int):
        self.model, self.top_k = model, top_k
        # --class-vectors: the candidates given as vectors, ahead of the classes added on the page
        self.given: tuple[list[str], np.ndarray] = ([], np.zeros((0, model.seen_text_.shape[1]), np.float32))
        if isinstance(classes, ClassVectors):
            self.given = (classes.class_names(), classes.for_model(model.seen_text_.shape[1]))
            self.source = classes.source
            self.corpus = Corpus(source=self.source, texts={}, names={})
        else:
            self.source = Path(classes)
            self.corpus = read_corpus(classes)
        # the candidates' vectors until a class is added; made now, so that a bad --classes stops the start
        self._encoded: tuple[list[str], np.ndarray] | None = None
        self._candidates()

    @property
    def gzsl_available(self) -> bool:
        return getattr(self.model, "gzsl_calibration_", None) is not None

    def _candidates(self) -> tuple[list[str], np.ndarray]:
        if self._encoded is None:
            names, vectors = ([], self.given[1][:0]) if not self.corpus.texts else candidate_vectors(self.corpus,
                                                                                                     self.model.encode)
            self._encoded = (self.given[0] + names, np.concatenate([self.given[1], vectors]))
        return self._encoded

    def rank_photo(self, path: Path, filename: str, gzsl: bool, top_k: int) -> dict:
        """The photo's ``top_k`` classes, their scores and probabilities (as predict's; ``shown``: as the page shows
        them), whether the top two are too close to call, and the lowest score of all candidates (the bars' floor
        where there are no probabilities, and ``note`` says why)."""
        why = unreadable(path)
        if why:
            raise Rejected(415, f"'{filename}' is not an image this server can read ({why})")
        if gzsl and not self.gzsl_available:
            raise Rejected(400, "this model has no GZSL calibration (only a gazsl train run of the honest protocol has one)")
        names, text = self._candidates()
        if gzsl:
            refuse_training_classes(self.model, names, self.source)  # a GazslError: a 400
        names, scores = class_scores(self.model, names, text, self.model.embed([path]), gzsl)
        order = rank(scores, min(top_k, len(names)))[0]
        probabilities = class_probabilities(self.model, scores, gzsl)
        if probabilities is None:
            return {"classes": [{"class": names[c], "score": float(scores[0, c]), "probability": None} for c in order],
                    "floor": float(scores[0].min()), "n_candidates": len(names), "too_close": None,
                    "note": NO_TEMPERATURE}
        return {"classes": [{"class": names[c], "score": float(scores[0, c]), "probability": float(probabilities[0, c]),
                             "shown": percent(probabilities[0, c])} for c in order],
                "floor": float(scores[0].min()), "n_candidates": len(names),
                "too_close": bool(too_close_to_call(probabilities)[0]), "note": None}

    def add_class(self, name: str, article: str) -> dict:
        name = name.strip()
        if not name or "/" in name or "\n" in name:
            raise Rejected(400, "a class needs a name: one line, without '/'")
        if name in self.corpus.names.values() or name in self.given[0]:
            raise Rejected(409, f"class '{name}' is already a candidate")
        if not article.strip():
            raise Rejected(400, f"the article for '{name}' is empty")
        article = clean_document(article, f"article for '{name}'")  # as read from a file of --classes
        vector = self.model.encode([article], [name])
        if not vector.any():
            raise Rejected(400, f"the article for '{name}' has no term the model knows (only stop words or numbers?)")
        # last in id order: the classes already there keep their generated features
        cid = max(self.corpus.texts, default=0) + 1
        self.corpus = Corpus(source=self.source, texts={**self.corpus.texts, cid: article},
                             names={**self.corpus.names, cid: name})
        self._encoded = None
        return self.classes()

    def classes(self) -> dict:
        return {"classes": self.given[0] + [self.corpus.names[c] for c in sorted(self.corpus.texts)],
                "training_classes": len(self.model.class_names_ or []), "gzsl_available": self.gzsl_available,
                "top_k": self.top_k}


def model_card(model, model_path: Path) -> dict:
    """What the model file says of itself: the figures of the run that made it, its encoders' recipes."""
    metrics = model.metrics_ or {}
    text = model.text_encoder.recipe() if model.text_encoder is not None else {}
    backbone = model.image_backbone.recipe() if model.image_backbone is not None else {}
    return {"model": str(model_path), "figures": {k: metrics[k] for k in CARD_FIGURES if k in metrics},
            "text_encoder": {k: v for k, v in text.items() if k not in ("vocabulary", "idf")}
                            | ({"vocabulary_terms": len(text["vocabulary"])} if "vocabulary" in text else {}),
            "image_backbone": backbone, "training_classes": list(model.class_names_ or []),
            "gzsl_calibration": getattr(model, "gzsl_calibration_", None), "temperature": model.temperature_,
            "gzsl_temperature": model.gzsl_temperature_, "iterations_trained": model.n_iter_}


def create_app(model, model_path, classes, top_k: int = 5, max_upload_bytes: int = 10 << 20, queue: int = 32):
    """The application for a loaded ``model`` (``GAZSL.load(model_path)``) and its candidates ``classes``: the articles
    folder, or ``ClassVectors``."""
    ranker = Ranker(model, classes if isinstance(classes, ClassVectors) else Path(classes), top_k)
    card = model_card(model, Path(model_path))
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gazsl-model")
    waiting = 0  # requests submitted to the worker and not yet answered; touched on the event loop only

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        worker.shutdown(wait=False, cancel_futures=True)

    # no /docs: its pages load their scripts from a CDN
    app = FastAPI(title="gazsl", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.ranker = ranker

    @app.exception_handler(Rejected)
    async def rejected(_request: Request, err: Rejected):
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(GazslError)
    async def bad_input(_request: Request, err: GazslError):
        return JSONResponse({"error": str(err)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def bad_form(_request: Request, err: RequestValidationError):
        first = err.errors()[0]
        return JSONResponse({"error": f"{'.'.join(map(str, first['loc']))}: {first['msg']}"}, status_code=422)

    async def on_worker(fn, *args):
        nonlocal waiting
        if waiting >= queue:
            raise Rejected(503, f"busy: {waiting} requests waiting; try again in a moment")
        waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(worker, fn, *args)
        finally:
            waiting -= 1

    @app.get("/")
    async def page():
        return FileResponse(STATIC / "index.html")

    @app.get("/card")
    async def card_page():
        return FileResponse(STATIC / "card.html")

    @app.get("/api/card")
    async def card_data():
        return card

    @app.get("/api/classes")
    async def classes_list():
        return ranker.classes()

    @app.post("/api/classes")
    async def classes_add(name: str = Form(""), article: str = Form(""), file: UploadFile | None = File(None)):
        if file is not None and file.filename:
            data = await file.read(MAX_ARTICLE_BYTES + 1)
            if len(data) > MAX_ARTICLE_BYTES:
                raise Rejected(413, f"article '{file.filename}' is over {MAX_ARTICLE_BYTES >> 20} MB")
            try:
                article = data.decode("utf-8")
            except UnicodeDecodeError:
                raise Rejected(415, f"article '{file.filename}' is not UTF-8 text") from None
            name = name or Path(file.filename).stem
        return await on_worker(ranker.add_class, name, article)

    @app.post("/api/predict")
    async def predict(photo: UploadFile = File(...), gzsl: bool = Form(False), top_k: int = Form(top_k)):
        if top_k < 1:
            raise Rejected(400, f"top_k must be at least 1, got {top_k}")
        data = await photo.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            limit = f"{max_upload_bytes / 2**20:.3g} MB" if max_upload_bytes >= 2**20 else f"{max_upload_bytes / 1024:.3g} KB"
            raise Rejected(413, f"'{photo.filename}' is over the {limit} limit of this server (--max-upload-mb)")
        with tempfile.TemporaryDirectory(prefix="gazsl-serve-") as folder:
            path = Path(folder) / ("upload" + Path(photo.filename or "").suffix.lower())
            path.write_bytes(data)
            del data
            result = await on_worker(ranker.rank_photo, path, photo.filename, gzsl, top_k)
        return {"photo": photo.filename, **result}

    return app
