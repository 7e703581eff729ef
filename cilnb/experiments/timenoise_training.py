"""TimeNoise fine-tuning and Table 1 (notebooks/timenoise_training.ipynb): what TimeNoise (Eq. 6,
Alg. 2) does to a conditional image, a naive/TimeNoise fine-tuned pair, and the comparison of the
base and tuned models at M = T and with Analytic-Init at M.

Figures: :func:`cilnb.plotting.plot_timenoise_conditioning`, :func:`cilnb.plotting.plot_compare`;
verdict: :func:`cilnb.experiments.verdicts.timenoise_motion`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
import torch

from ..runs import default_run_dir
from ..toy_training import finetune_toy_pair  # its home is cilnb.toy_training; kept importable from here
from .m_sweep import sample_grid
from .readouts import readout_for
from .run_dirs import sample_store_dir

__all__ = ["compare_models", "sample_space", "timenoise_views", "shown_image", "finetune_pair", "finetune_toy_pair"]


def compare_models(models: Mapping, configs: Sequence[tuple[str, float, str]], images, readout, *, out_root: str | Path | None = None,
                   seeds: Sequence[int], n_steps: int, stats=None, stats_path=None, cond_kwargs: Mapping | None = None,
                   batch_size: int = 64, show_progress: bool = True, sampler: str = "ddim") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 1: each ``(model label, M, init)`` of ``configs`` sampled on the same images and seeds
    with :func:`cilnb.experiments.sample_grid` (resumable, one run folder per model), one summary row each.
    Shown in notebooks/timenoise_training.ipynb."""
    per, rows = [], []
    for label in dict.fromkeys(c[0] for c in configs):
        if label not in models:
            raise ValueError(f"config names model {label!r}, not among {list(models)}")
        mine = [c for c in configs if c[0] == label]
        # one store per (model, images, sampler settings), shared with every other experiment on them (the M sweep)
        out = (Path(out_root) / label) if out_root else sample_store_dir(
            label, models[label], images, n_steps=n_steps, sampler=sampler, stats_path=stats_path, cond_kwargs=cond_kwargs,
            motion=readout.sweep_motion, batch_size=batch_size)
        # one grid per configuration: only the (M, init) cells asked for are sampled (not the product of all
        # M and inits of this model); a cell's videos do not depend on the other cells of its folder
        for M, init in dict.fromkeys((c[1], c[2]) for c in mine):
            pv, summ = sample_grid(models[label], out, images, readout, Ms=[M], inits=[init], seeds=seeds, n_steps=n_steps,
                                   stats=stats, stats_path=stats_path, cond_kwargs=cond_kwargs, batch_size=batch_size,
                                   show_progress=show_progress, label=label, sampler=sampler)
            per.append(pv)
            rows.append(summ)
    summary = pd.concat(rows, ignore_index=True)
    order = {(c[0], c[1], c[2]): k for k, c in enumerate(configs)}
    summary["order"] = [order[(r.model, r.M, r.init)] for r in summary.itertuples()]
    return pd.concat(per, ignore_index=True), summary.sort_values("order").drop(columns="order").reset_index(drop=True)


def sample_space(model) -> str:
    """``"latent"`` for a model that samples VAE latents, ``"pixel"`` for a pixel model (the toy) or ``None``."""
    from ..stats import encoder_for

    return encoder_for(model)[3] if model is not None else "pixel"


def timenoise_views(model, image: torch.Tensor, ts: Sequence[float], a: float, beta_m: float, *, seed: int = 0, n_draws: int = 3) -> list:
    """What TimeNoise (Eq. 6) does to a conditional image ``[C, H, W]`` in [-1, 1]: one ``[len(ts), C, H, W]``
    row per draw of ``y + beta_s eps`` at each t. For latent models (``model`` with a VAE) the noise
    is added to the image's unscaled VAE latent, as fine-tuning does (:mod:`cilnb.svd_finetune`), and
    the result decoded; for pixel models (the toy, or ``model=None``) to the pixels."""
    from ..stats import encoder_for
    from ..timenoise import add_timenoise

    ts_t = torch.tensor([float(t) for t in ts], dtype=torch.float64)
    g = torch.Generator().manual_seed(int(seed))
    encode, _, scale, space = encoder_for(model) if model is not None else (None, None, None, "pixel")
    if space == "latent":
        with torch.no_grad():
            lat = encode(image[None, None].to(next(model.parameters()).device, next(model.parameters()).dtype)).float().cpu()[0, 0] / scale
    rows = []
    for _ in range(n_draws):
        base = lat if space == "latent" else image
        yb = add_timenoise(base[None].expand(len(ts), *base.shape).clone(), ts_t, a, beta_m, generator=g)
        if space == "latent":
            with torch.no_grad():
                yb = model.decode_latents((yb * scale)[:, None].to(next(model.parameters()).device)).float().cpu()[:, 0]
        rows.append(yb.clamp(-1, 1))
    return rows


def shown_image(model: str, images, seed: int = 0) -> torch.Tensor:
    """The conditional image ``[C, H, W]`` the TimeNoise pictures show: frame 0 of a fresh toy video from
    ``seed`` for the toy, the first image of ``images`` for a real model. Shown in notebooks/timenoise_training.ipynb."""
    return readout_for(model).shown_image(images, seed)


def finetune_pair(out_dir: str | Path, *, steps: int, a: float, beta_m: float, seed: int = 0, base: str = "base",
                  device="auto", show_progress: bool = True, model: str = "toy") -> dict:
    """Alg. 2 for a workshop: fine-tune ``naive`` and ``timenoise`` from the same base checkpoint with
    the same seed, data and steps (:func:`finetune_toy_pair`; resumable); returns their paths.
    The toy only: real models are fine-tuned with ``python -m cilnb finetune`` (docs/at_scale.md).
    Shown in notebooks/timenoise_training.ipynb."""
    return readout_for(model).finetune_pair(out_dir, steps=steps, a=a, beta_m=beta_m, seed=seed, base=base, device=device,
                                            show_progress=show_progress, model=model)


