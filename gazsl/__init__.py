"""gazsl: zero-shot learning from noisy text with a feature-generating GAN.

Data flow: documents (``gazsl.corpus``) -> text vectors (``gazsl.text``)
-> generator (``gazsl.model``) -> synthetic features -> classifier
(``gazsl.evaluate``) -> metrics (``gazsl.train``).
"""

__version__ = "0.1.0"
