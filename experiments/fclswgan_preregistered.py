"""f-CLSWGAN as ``experiments/benchmark_fclswgan.json`` pre-registers it: the plugin's defaults (examples/fclswgan)
but ``epochs``, which ``experiments/fclswgan_development.py`` chose by its rule on validation classes of the official
splits (experiments/results/fclswgan_development.md). Run with ``PYTHONPATH=examples/fclswgan:experiments``."""

from fclswgan import FCLSWGAN, __version__  # noqa: F401  (the plugin's version is this row's version)

EPOCHS = 40  # the development curves' best mean (34.8 % validation top-1 per class), the last epoch drawn


class PreRegistered(FCLSWGAN):
    """f-CLSWGAN with the pre-registered epoch count; the plugin's grid of ``cls_weight`` is chosen per fold."""

    def __init__(self, cls_weight: float = 0.01, hidden: int = 1024, noise_dim: int = 312, epochs: int = EPOCHS,
                 critic_steps: int = 5, gp_weight: float = 10.0, lr: float = 1e-4, batch_size: int = 64,
                 synthetic_per_class: int = 300, pretrain_epochs: int = 50, classifier_epochs: int = 25,
                 text_basis: str = "seen", random_state: int = 0):
        super().__init__(cls_weight, hidden, noise_dim, epochs, critic_steps, gp_weight, lr, batch_size,
                         synthetic_per_class, pretrain_epochs, classifier_epochs, text_basis, random_state)
