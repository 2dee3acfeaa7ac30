"""gazsl serve: the page's rankings are gazsl predict's, bad uploads are one message and a 4xx, load stays bounded.

The model is test_predict's (made-up features of four classes, a real TF-IDF encoder, the real backbone);
the photos are made-up too. Real photographs: tests/test_serve_browser.py and tests/test_own_classes.py.
"""

import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from gazsl.generator.gan import GAZSL
from gazsl.predict import predict
from gazsl.scoring.ranking import NO_TEMPERATURE, class_probabilities, percent
from gazsl.serving.app import STATIC, create_app
from test_predict import ARTICLES, photo_model, with_temperatures, write_articles  # noqa: F401 (photo_model: a fixture)


def client_for(photo_model, **options) -> TestClient:
    model, path, _, articles = photo_model
    return TestClient(create_app(model, path, articles, **options))


def upload(client, photo: Path, **fields):
    return client.post("/api/predict", files={"photo": (photo.name, photo.read_bytes())},
                       data={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()})


def test_a_photo_is_ranked_on_the_page_as_predict_ranks_it(photo_model):
    model, _, photos, articles = photo_model
    with client_for(photo_model) as client:
        for photo in sorted(photos.iterdir()):
            answer = upload(client, photo, top_k=5).json()
            _, names, scores = predict(model, articles, [str(photo)], gzsl=False)
            order = np.argsort(-scores[0], kind="stable")
            assert [c["class"] for c in answer["classes"]] == [names[i] for i in order]
            assert [c["score"] for c in answer["classes"]] == pytest.approx(scores[0][order].tolist(), rel=1e-6)
            assert answer["floor"] == pytest.approx(scores[0].min())


def test_a_class_added_from_its_article_competes_as_if_it_were_in_the_folder(photo_model, tmp_path):
    model, _, photos, _ = photo_model
    article = "The violet bird is violet all over with a short black bill and pale legs."
    with client_for(photo_model) as client:
        assert client.get("/api/classes").json()["top_k"] == 5
        listed = client.post("/api/classes", data={"name": "Violet_Bird", "article": article}).json()["classes"]
        assert listed == ["Orange_Bird", "Grey_Bird", "Violet_Bird"]
        answer = upload(client, photos / "bird0.png", top_k=3).json()
        uploaded = client.post("/api/classes", files={"file": ("Teal_Bird.txt", b"The teal bird is teal with a long tail.")})
        assert uploaded.json()["classes"][-1] == "Teal_Bird"
    folder = write_articles(tmp_path / "three", (5, 6))
    (folder / "7.Violet_Bird.txt").write_text(article)
    _, names, scores = predict(model, folder, [str(photos / "bird0.png")], gzsl=False)
    assert [c["class"] for c in answer["classes"]] == [names[i] for i in np.argsort(-scores[0], kind="stable")]


def test_bad_uploads_get_a_message_and_a_4xx_and_the_server_answers_on(photo_model, tmp_path):
    _, _, photos, _ = photo_model
    (tmp_path / "notes.jpg").write_text("a bird, honestly")
    limit = max(p.stat().st_size for p in photos.iterdir())
    (tmp_path / "big.png").write_bytes((photos / "bird1.png").read_bytes() + b"\0" * limit)
    with client_for(photo_model, max_upload_bytes=limit) as client:
        cases = [
            (upload(client, tmp_path / "notes.jpg"), 415, "'notes.jpg' is not an image this server can read"),
            (upload(client, tmp_path / "big.png"), 413, "'big.png' is over the"),
            (upload(client, photos / "bird0.png", gzsl=True), 400, "this model has no GZSL calibration"),
            (upload(client, photos / "bird0.png", top_k=0), 400, "top_k must be at least 1"),
            (client.post("/api/predict", data={"gzsl": "false"}), 422, "photo"),
            (client.post("/api/classes", data={"name": "Odd_Bird", "article": "Zzyzx qwop 1998."}), 400,
             "the article for 'Odd_Bird' has no term the model knows"),
            (client.post("/api/classes", data={"name": "Grey_Bird", "article": "A grey bird."}), 409,
             "class 'Grey_Bird' is already a candidate"),
            (client.post("/api/classes", data={"name": " ", "article": "A bird."}), 400, "a class needs a name"),
            (client.post("/api/classes", files={"file": ("Latin_Bird.txt", b"\xff\xfe caf\xe9")}), 415, "not UTF-8"),
        ]
        for response, status, message in cases:
            assert response.status_code == status, (message, response.text)
            assert message in response.json()["error"] and "\n" not in response.json()["error"]
        assert upload(client, photos / "bird0.png").status_code == 200
        assert client.get("/api/classes").json()["classes"] == ["Orange_Bird", "Grey_Bird"]


def test_gzsl_on_the_page_ranks_the_training_classes_too(photo_model, tmp_path):
    model, _, photos, articles = photo_model
    model.gzsl_calibration_ = 0.25
    try:
        with client_for(photo_model) as client:
            answer = upload(client, photos / "bird1.png", gzsl=True, top_k=6).json()
        _, names, scores = predict(model, articles, [str(photos / "bird1.png")], gzsl=True)
    finally:
        model.gzsl_calibration_ = None
    assert [c["class"] for c in answer["classes"]] == [names[i] for i in np.argsort(-scores[0], kind="stable")]
    assert sorted(names) == sorted(name for name, _ in ARTICLES.values())


def test_the_page_gets_each_candidates_probability_and_whether_the_top_two_are_too_close_to_call(photo_model, tmp_path):
    model, _, photos, articles = photo_model
    path = with_temperatures(model, tmp_path / "tempered.gazsl", 0.05, 0.004, calibration=0.1)
    tempered = GAZSL.load(path)
    with TestClient(create_app(tempered, path, articles)) as client:
        for photo in sorted(photos.iterdir()):
            for gzsl, n_classes in ((False, 2), (True, 6)):
                answer = upload(client, photo, gzsl=gzsl, top_k=6).json()
                _, names, scores = predict(tempered, articles, [str(photo)], gzsl=gzsl)
                probabilities = class_probabilities(tempered, scores, gzsl)[0]
                ranked = answer["classes"]
                assert len(ranked) == n_classes and answer["note"] is None
                assert sum(c["probability"] for c in ranked) == pytest.approx(1, abs=1e-9)
                assert [c["probability"] for c in ranked] == pytest.approx(sorted(probabilities)[::-1], rel=1e-9)
                assert [c["shown"] for c in ranked] == [percent(c["probability"]) for c in ranked]
                first, second = ranked[0]["probability"], ranked[1]["probability"]
                assert answer["too_close"] == (first < 2 * second)
    with client_for(photo_model) as client:  # the fixture's model, a plain fit: no temperature, the raw scores
        answer = upload(client, photos / "bird0.png").json()
    assert answer["note"] == NO_TEMPERATURE and answer["too_close"] is None
    assert {c["probability"] for c in answer["classes"]} == {None}


def test_the_page_and_the_card_load_nothing_from_elsewhere(photo_model):
    with client_for(photo_model) as client:
        for page in ("/", "/card"):
            html = client.get(page).text
            for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
                assert asset.startswith("/"), asset
                assert client.get(asset).status_code == 200, asset
        card = client.get("/api/card").json()
        assert client.get("/docs").status_code == 404  # FastAPI's docs page would load a CDN's scripts
    assert not [f for f in STATIC.iterdir() if "http" in f.read_text()]
    assert card["text_encoder"]["encoder"] == "tfidf" and card["text_encoder"]["vocabulary_terms"] > 10
    assert card["image_backbone"]["name"] == "efficientnet-lite0" and card["image_backbone"]["precision"] == "float16"
    assert card["training_classes"] == ["Red_Bird", "Blue_Bird", "Brown_Bird", "Green_Bird"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(model: Path, classes: Path, *options) -> tuple[subprocess.Popen, str]:
    """``gazsl serve`` in a new process on a free port; its process and address, once it answers."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "gazsl.serve", "--model", str(model), "--classes", str(classes),
                                "--port", str(port), *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gazsl serve exited {process.returncode}: {process.stdout.read()}")
        try:
            httpx.get(f"{url}/api/classes", timeout=2)
            return process, url
        except httpx.TransportError:
            time.sleep(0.3)
    process.kill()
    raise AssertionError("gazsl serve did not answer within 120 s")


def test_a_bad_classes_folder_stops_the_server_before_it_listens_in_one_line(photo_model, tmp_path):
    _, path, _, _ = photo_model
    folder = write_articles(tmp_path / "odd", (5,))
    (folder / "7.Odd_Bird.txt").write_text("Zzyzx qwop 1998.")
    result = subprocess.run([sys.executable, "-m", "gazsl.serve", "--model", str(path), "--classes", str(folder),
                             "--port", str(free_port())], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"error: {folder / '7.Odd_Bird.txt'}: no term of the vocabulary" in result.stderr


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def burst(url: str, photo: bytes, n: int) -> list[int]:
    """``n`` uploads at once, each from its own thread; their status codes."""
    codes = [0] * n

    def one(i):
        response = httpx.post(f"{url}/api/predict", files={"photo": (f"p{i}.png", photo)}, timeout=300)
        codes[i] = response.status_code

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc")
def test_twenty_concurrent_uploads_are_all_answered_and_memory_stays_bounded(photo_model):
    _, path, photos, articles = photo_model
    photo = (photos / "bird1.png").read_bytes() + b"\0" * (3 << 20)  # 3 MB to upload, little to decode (after IEND)
    process, url = serve(path, articles)
    try:
        assert burst(url, photo, 20) == [200] * 20  # warms the model and the allocator
        settled = rss_mb(process.pid)
        assert burst(url, photo, 20) == [200] * 20  # 60 MB more uploaded: kept anywhere, they would show
        assert rss_mb(process.pid) - settled < 40
    finally:
        process.kill()
        process.wait()
    small, url = serve(path, articles, "--queue", "2")
    try:
        codes = burst(url, photo, 20)
        assert set(codes) <= {200, 503} and 503 in codes and 200 in codes  # the overflow is told to retry
        assert burst(url, photo, 1) == [200]
    finally:
        small.kill()
        small.wait()
