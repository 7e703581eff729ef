"""Deprecated alias of :mod:`cilnb.toy_training` (toy training) and :mod:`cilnb.commands.train_toy` /
:mod:`cilnb.commands.toy_stats` (the ``train-toy`` and ``toy-stats`` commands), kept for one release."""
from ._util import deprecated_module


def _add_cli(sub) -> None:
    """The old ``training.add_cli``: register ``train-toy`` and ``toy-stats``."""
    from .commands import register

    register(sub, ("train-toy", "toy-stats"))


RENAMES = {
    "add_cli": "cilnb.training:_add_cli",
    "_cmd_train": "cilnb.commands.train_toy:run",
    "_cmd_stats": "cilnb.commands.toy_stats:run",
}
__all__ = ["TrainConfig", "train", "resume_path", "toy_stats", "add_cli", "VARIANTS"]
__getattr__ = deprecated_module(__name__, RENAMES, "cilnb.toy_training")
