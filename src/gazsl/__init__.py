"""gazsl: zero-shot learning from noisy text with a feature-generating GAN.

Data flow: documents (``gazsl.documents.corpus``) -> text vectors (``gazsl.text``)
-> generator (``gazsl.generator.model``, trained by ``gazsl.generator.trainer``) -> synthetic
features -> classifier (``gazsl.scoring.evaluate``) -> metrics (``gazsl.protocols.protocol``,
``gazsl.train``). ``gazsl.GAZSL`` is the estimator (``gazsl.generator.gan``);
``python -m gazsl.predict`` names the birds in new photographs.
"""

from gazsl.generator.config import Config, preset
from gazsl.version import __version__

__all__ = ["GAZSL", "Config", "preset", "__version__"]


def __getattr__(name: str):
    if name == "GAZSL":  # imported on first use: it pulls in torch, which plain data commands do not need
        from gazsl.generator.gan import GAZSL

        return GAZSL
    raise AttributeError(f"module 'gazsl' has no attribute {name!r}")
