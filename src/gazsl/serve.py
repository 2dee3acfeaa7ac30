"""Try a trained model in the browser: drop photographs, see each one's classes ranked, add classes from articles.

    gazsl serve --model runs/fish/model.gazsl --classes ARTICLES [--port 8000] [--top-k 5]
    gazsl serve --model runs/mine/model.gazsl --class-vectors VECTORS.npz

``--classes`` is a corpus as gazsl predict reads it (a folder of ``<Name>.txt`` or
``<class_id>.<Name>.txt`` articles, or a JSONL file): the candidate classes. The
page ranks them for each photo exactly as ``gazsl predict`` does (the same code,
``gazsl.scoring.ranking``), shows the photo beside its scores, adds a class from a
pasted or uploaded article, switches GZSL on (the training classes compete, with
the calibration chosen on validation classes) and links the model's card. It
listens on localhost only and loads nothing from elsewhere (the ``serve`` extra:
pip install 'gazsl[serve]'). ``--class-vectors`` gives the candidates as vectors instead (as gazsl predict
takes them); a model trained on imported vectors needs them, and refuses articles added on the page.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gazsl.documents.class_vectors import add_candidate_arguments, candidates_from_args
from gazsl.io import GazslError, readable_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gazsl serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="a model file (DIR/model.gazsl of a gazsl train run)")
    add_candidate_arguments(parser, "articles of the candidate classes (as gazsl predict)")
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    parser.add_argument("--top-k", type=int, default=5, help="classes shown per photo at first (default 5)")
    parser.add_argument("--max-upload-mb", type=float, default=10, help="largest photo accepted (default 10 MB)")
    parser.add_argument("--queue", type=int, default=32, help="requests that may wait for the model (default 32)")
    args = parser.parse_args(argv)
    for flag, value, low in (("--top-k", args.top_k, 1), ("--queue", args.queue, 1), ("--port", args.port, 1)):
        if value < low:
            raise GazslError(f"{flag} must be at least {low}, got {value}")
    if args.max_upload_mb <= 0:
        raise GazslError(f"--max-upload-mb must be positive, got {args.max_upload_mb}")
    readable_path(args.model, "model file (--model)")
    candidates = candidates_from_args(args)
    try:
        import uvicorn

        from gazsl.serving.app import create_app
    except ImportError as err:
        raise GazslError(f"gazsl serve needs the serve extra: pip install 'gazsl[serve]' ({err.name} is missing)") from None
    from gazsl.generator.gan import GAZSL

    model = GAZSL.load(args.model)
    app = create_app(model, args.model, candidates, top_k=args.top_k,
                     max_upload_bytes=int(args.max_upload_mb * (1 << 20)), queue=args.queue)
    print(f"gazsl serve: {len(app.state.ranker.classes()['classes'])} candidate classes; open http://127.0.0.1:{args.port}/",
          flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
