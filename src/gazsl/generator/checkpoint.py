"""A training's checkpoint file (``checkpoint_<phase>.pt`` in a run folder): written whole or not at all, and read
back with a problem named in one line. Here, beside the training loop that writes it, so that the generator
package needs nothing of the protocols built on it."""

from __future__ import annotations

from pathlib import Path

import torch

from gazsl.io import GazslError, atomic_path, one_line


def save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path, suffix=".pt") as tmp, open(tmp, "wb") as f:
        torch.save(state, f)  # through a Python file: a full disk raises OSError (torch's own writer: RuntimeError)


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a torn or foreign file: tell the user which one
        raise GazslError(f"{path}: unreadable checkpoint, truncated or not a gazsl checkpoint ({one_line(err, 160)}); "
                         "delete it to start over") from None
