"""gazsl: zero-shot learning from noisy text with a feature-generating GAN.

Data flow: documents (``gazsl.corpus``) -> text vectors (``gazsl.text``)
-> generator (``gazsl.model``, trained by ``gazsl.trainer``) -> synthetic
features -> classifier (``gazsl.evaluate``) -> metrics (``gazsl.protocol``,
``gazsl.train``). ``gazsl.GAZSL`` is the estimator (``gazsl.gan``);
``python -m gazsl.predict`` names the birds in new photographs.
"""

from gazsl.config import Config, preset
from gazsl.version import __version__

__all__ = ["GAZSL", "Config", "preset", "__version__"]


def __getattr__(name: str):
    if name == "GAZSL":  # imported on first use: it pulls in torch, which plain data commands do not need
        from gazsl.gan import GAZSL

        return GAZSL
    raise AttributeError(f"module 'gazsl' has no attribute {name!r}")
