"""Deprecated alias of :mod:`cilnb.svd_finetune` (SVD fine-tuning) and :mod:`cilnb.commands.finetune`
(the ``finetune`` command), kept for one release; use those modules."""
from ._util import deprecated_module

RENAMES = {
    "add_cli": "cilnb.commands.finetune:add_parser",
    "_run": "cilnb.commands.finetune:run",
}
__all__ = ["FinetuneConfig", "StepOutput", "training_step", "finetune", "ClipDataset", "add_cli", "latest_checkpoint"]
__getattr__ = deprecated_module(__name__, RENAMES, "cilnb.svd_finetune")
