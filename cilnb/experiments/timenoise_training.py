"""TimeNoise fine-tuning and Table 1 (notebooks/timenoise_training.ipynb): what TimeNoise (Eq. 6,
Alg. 2) does to a conditional image, a naive/TimeNoise fine-tuned pair, and the comparison of the
base and tuned models at M = T and with Analytic-Init at M.

Figures: :func:`cilnb.plotting.plot_timenoise_conditioning`, :func:`cilnb.plotting.plot_compare`;
verdict: :func:`cilnb.experiments.verdicts.timenoise_motion`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

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
    from .. import checks
    from .m_sweep import check_readout
    from .probe import check_models

    show_progress = checks.check_bool("show_progress", show_progress)
    check_models(models)
    configs = _check_configs(configs)
    check_readout(readout)
    configs = _check_config_cells(configs, models, stats, stats_path)  # every cell, before the first is sampled
    if out_root is not None and out_root != "":  # a number failed in pathlib with a bare TypeError
        out_root = checks.check_path("out_root", out_root, "the folder of the runs (or None for the shared sample store)")
    per, rows = [], []
    for label in dict.fromkeys(c[0] for c in configs):
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


def _check_configs(configs) -> list:
    """``configs`` as a non-empty list of ``(model label, M, init)`` triples."""
    from .. import checks

    example = "[('base', 1.0, 'standard'), ('base', 0.8, 'analytic')]"
    if isinstance(configs, (str, bytes)) or not isinstance(configs, (list, tuple)):
        raise checks.InputTypeError(f"configs must be a list of (model label, M, init) triples such as {example}, got {configs!r}")
    if isinstance(configs, tuple) and len(configs) == 3 and isinstance(configs[0], str):
        raise checks.InputTypeError(f"configs must be a list of (model label, M, init) triples, got one triple {configs!r}: "
                                    f"pass [{configs!r}]")
    if not configs:
        raise ValueError(f"configs is empty: name the (model label, M, init) configurations to sample, e.g. {example}")
    bad = [c for c in configs if isinstance(c, (str, bytes)) or not isinstance(c, (list, tuple)) or len(c) != 3]
    if bad:
        raise ValueError(f"each config must be a (model label, M, init) triple such as ('base', 1.0, 'standard'), got {bad[0]!r}")
    return list(configs)


def _check_config_cells(configs: list, models: Mapping, stats, stats_path) -> list:
    """Every ``(model label, M, init)`` must name a model of ``models``, a start time in (0, 1] and a known init, once;
    Analytic-Init needs statistics. Checked before sampling, not when the loop reaches the bad cell. Returns the configs
    with each M as a float (a 0-d tensor M was sampled, then missed when the summary rows were put in the configs' order)."""
    from .. import checks
    from ..runs import INITS

    seen, out = set(), []
    for label, M, init in configs:
        if not isinstance(label, str) or label not in models:
            raise ValueError(f"config ({label!r}, {M!r}, {init!r}) names model {label!r}, not among {list(models)}: "
                             "name a label of models")
        M = checks.check_number("M", M, lo=0, lo_open=True, hi=1, fix=f"(the start time of config {label!r}, normalised: 1 = T)")
        if init not in INITS:
            raise ValueError(f"config ({label!r}, {M:g}, {init!r}) has init {init!r}: choose one of {list(INITS)}")
        if (label, M, init) in seen:
            raise ValueError(f"configs repeat the cell ({label!r}, {M:g}, {init!r}): name each (model label, M, init) once")
        seen.add((label, M, init))
        if init == "analytic" and stats is None and stats_path is None:
            raise ValueError(f"config ({label!r}, {M:g}, 'analytic') needs Analytic-Init statistics: pass stats= or stats_path= "
                             "(load_stats)")
        out.append((label, M, init))
    return out


def sample_space(model) -> str:
    """``"latent"`` for a model that samples VAE latents, ``"pixel"`` for a pixel model (the toy) or ``None``."""
    from ..stats import encoder_for

    return encoder_for(model)[3] if model is not None else "pixel"


def timenoise_views(model, image: torch.Tensor, ts: Sequence[float], a: float, beta_m: float, *, seed: int = 0, n_draws: int = 3) -> list:
    """What TimeNoise (Eq. 6) does to a conditional image ``[C, H, W]`` in [-1, 1]: one ``[len(ts), C, H, W]``
    row per draw of ``y + beta_s eps`` at each t. For latent models (``model`` with a VAE) the noise
    is added to the image's unscaled VAE latent, as fine-tuning does (:mod:`cilnb.svd_finetune`), and
    the result decoded; for pixel models (the toy, or ``model=None``) to the pixels."""
    from .. import checks
    from ..stats import encoder_for
    from ..timenoise import add_timenoise

    if model is not None:  # a name, a number or a dict was read as a pixel model
        checks.check_model(model, "model (the loaded model, or None for a pixel model)")
    if not isinstance(image, torch.Tensor):
        raise checks.InputTypeError(f"image must be a torch.Tensor [C, H, W] in [-1, 1], got {type(image).__name__}"
                                    + (": pass torch.from_numpy(image)" if isinstance(image, np.ndarray) else ""))
    checks.check_not_meta("image", image)
    if image.ndim != 3:
        raise ValueError(f"image must be one conditional image [C, H, W], got shape {tuple(image.shape)}"
                         + (": pass image[0]" if image.ndim == 4 and image.shape[0] == 1 else ""))
    if not image.is_floating_point():
        raise checks.InputTypeError(f"image has dtype {image.dtype}; pass a float image in [-1, 1] (uint8 pixels: x.float() / 127.5 - 1)")
    if image.numel() == 0:  # min() of no pixels failed deep in torch
        raise ValueError(f"image is empty (shape {tuple(image.shape)}): pass one conditional image [C, H, W] with pixels")
    checks.check_finite("image", image)
    checks.check_range("image", image, checks.PIXEL_RANGE)
    if isinstance(ts, (np.ndarray, torch.Tensor)) and ts.ndim > 1:  # a [2, 2] grid was read as 4 times in row order
        raise ValueError(f"ts must be a flat list of normalised times, got shape {tuple(ts.shape)}: pass one time per column, "
                         "e.g. [0.2, 0.9]")
    ts = [checks.check_number(f"ts[{i}]", t, fix="(normalised time, 1 = T)")
          for i, t in enumerate(checks.check_sequence("ts", ts, fix="pass a list of normalised times, e.g. [0.2, 0.9]"))]
    if not ts:
        raise ValueError("ts is empty: give the normalised times to show, e.g. [0.2, 0.9]")
    n_draws = checks.check_int("n_draws", n_draws, min=1, fix="(rows of noise draws)")
    # every draw keeps a [len(ts), C, H, W] float32 row: a huge n_draws ran until the machine ran out of memory
    checks.check_fits_in_memory(4.0 * n_draws * len(ts) * image.numel(), f"timenoise_views(n_draws={n_draws})",
                                "pass a few draws, e.g. n_draws=3")
    seed = checks.check_seed("seed", seed)
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
    from .. import checks
    from ..io import ImageSet

    if not isinstance(images, ImageSet):
        raise checks.InputTypeError(f"images must be the sweep's cilnb.io.ImageSet (sweep_inputs(...)[0]), got {type(images).__name__}")
    return readout_for(model).shown_image(images, seed)


def finetune_pair(out_dir: str | Path, *, steps: int, a: float, beta_m: float, seed: int = 0, base: str = "base",
                  device="auto", show_progress: bool = True, model: str = "toy") -> dict:
    """Alg. 2 for a workshop: fine-tune ``naive`` and ``timenoise`` from the same base checkpoint with
    the same seed, data and steps (:func:`finetune_toy_pair`; resumable); returns their paths.
    The toy only: real models are fine-tuned with ``python -m cilnb finetune`` (docs/at_scale.md).
    Shown in notebooks/timenoise_training.ipynb."""
    from .. import checks

    show_progress = checks.check_bool("show_progress", show_progress)
    return readout_for(model).finetune_pair(out_dir, steps=steps, a=a, beta_m=beta_m, seed=seed, base=base, device=device,
                                            show_progress=show_progress, model=model)


