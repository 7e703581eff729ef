"""The remedy contract: where an inference-time remedy for the motion deficit may act.

A remedy is a small frozen dataclass (its fields are its settings) that overrides any of:

1. **initial noise** (given the model, ``y``, the seeds, the shape, the start time ``M`` and the
   Analytic-Init statistics, all in :class:`Context`):

   - :meth:`Remedy.noise` maps the standard-normal draw ``z`` (one per sample, from its seed) to
     another standard-normal-marginal draw (PYoCo's correlated noise);
   - :meth:`Remedy.prior` gives the initial distribution ``N(mean, var I)`` at ``M`` (Analytic-Init,
     Eq. 5); without one it is the model's standard ``N(0, prior_std(M)^2 I)``;
   - :meth:`Remedy.initial` maps the initial sample ``x`` (FrameInit);
2. **the conditioning**: :meth:`Remedy.prepare_condition` changes the whole batch's ``cond`` once
   (a fixed noise level on ``y``), :meth:`Remedy.condition_fn` returns a per-step function for the
   model's ``condition_hook`` (ALG: low-passed ``y`` at early steps);
3. **around the sampler**: :meth:`Remedy.around` receives ``run(x) -> x0`` (the whole sampler
   over all samples) and may call it several times (FreeInit).

Every random draw comes from a per-sample generator seeded by the sample's own seed (or a seed
derived from it and a tag, :func:`derive_seed`), so a video depends only on its image, its seed and
the remedy, never on the batch it was drawn in. :func:`run` is what ``cilnb.sampling.sample`` calls.
"""
from __future__ import annotations

import dataclasses
import zlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from .. import checks

__all__ = ["Remedy", "Context", "Compose", "derive_seed", "per_sample_normal", "run"]


def derive_seed(seed: int, tag: str) -> int:
    """A 63-bit seed for the draws tagged ``tag`` of the sample seeded ``seed`` (NumPy ``SeedSequence``;
    independent of the sample's own stream and of other tags)."""
    checks.check_int("seed", seed, fix="(the sample's noise seed)")
    if not isinstance(tag, str):
        raise checks.InputTypeError(f"tag must be a string naming the draw (e.g. 'cond_noise'), got {tag!r} ({type(tag).__name__})")
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, zlib.crc32(tag.encode())])
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def per_sample_normal(seeds: Sequence[int], shape: Sequence[int], tag: str | None = None, *, dtype=torch.float64) -> torch.Tensor:
    """``N(0, I)`` of ``[len(seeds), *shape]``, sample ``b`` from its own CPU generator: seeded
    ``seeds[b]`` (``tag=None``, the draw :func:`cilnb.sampling.per_sample_noise` makes) or
    :func:`derive_seed` ``(seeds[b], tag)``."""
    from ..sampling import per_sample_noise

    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (list, tuple, range, np.ndarray, torch.Tensor)):
        raise checks.InputTypeError(f"seeds must be a list of int seeds (one per sample), got {seeds!r} ({type(seeds).__name__})")
    for i, s in enumerate(seeds):
        checks.check_seed(f"seeds[{i}]", s, fix="(one noise seed per sample)")
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (list, tuple, torch.Size)):
        raise checks.InputTypeError(f"shape must be one sample's shape, a tuple of ints such as (F, C, H, W), got {shape!r}")
    for i, n in enumerate(shape):
        checks.check_int(f"shape[{i}]", n, min=0, fix="(one sample's shape)")
    if tag is not None and not isinstance(tag, str):
        raise checks.InputTypeError(f"tag must be a string naming the draw or None, got {tag!r} ({type(tag).__name__})")
    if tag is None:
        return per_sample_noise(seeds, shape, dtype=dtype)
    return per_sample_noise([derive_seed(s, tag) for s in seeds], shape, dtype=dtype)


def plain_settings(remedy) -> None:
    """Store numpy scalar settings (``np.float32(0.3)``, ``np.int64(2)``) of the frozen dataclass ``remedy`` as Python numbers,
    so that the settings checks take them like ``0.3`` and ``2`` and the spec stays JSON; called first in ``__post_init__``."""
    for f in dataclasses.fields(remedy):
        v = getattr(remedy, f.name)
        if isinstance(v, np.generic):
            object.__setattr__(remedy, f.name, v.item())


@dataclass
class Context:
    """What a remedy may read: the model, the conditioning, the seeds and the sampling setup.

    ``y``: ``[B, C, H, W]`` conditional image in the model's conditioning space; ``shape``: one
    sample's ``(F, C, H, W)`` in the model's sample space; ``start``: M (normalised); ``ts``: the
    sampler's grid; ``stats``: :class:`cilnb.analytic_init.MomentStats` or None; ``images``: the
    pixel conditional images when the caller gave them (FrameInit on latent models encodes them).
    """

    model: object
    y: torch.Tensor
    seeds: list
    shape: tuple
    start: float
    ts: torch.Tensor
    stats: object = None
    images: torch.Tensor | None = None
    init: str = "standard"
    z: torch.Tensor | None = None  # the (remedied) standard-normal draw behind the initial sample
    remedy: object = None  # the whole (composed) remedy being run
    stream: str = ""  # prefix of the draw tags: "" for the first draw, e.g. "freeinit1/" for FreeInit's fresh noise
    cache: dict = field(default_factory=dict)

    @property
    def schedule(self):
        return self.model.schedule

    @property
    def alpha(self) -> float:
        """``alpha_M``."""
        return float(self.schedule.alpha(self.start))

    @property
    def sigma(self) -> float:
        """``sigma_M``."""
        return float(self.schedule.sigma(self.start))

    def normal(self, tag: str | None = None, shape: Sequence[int] | None = None) -> torch.Tensor:
        """Per-sample ``N(0, I)`` float64 ``[B, *shape]`` (default: the sample shape) for draws tagged
        ``stream + tag``; ``tag=None`` in the first stream is the sample's own seed (``sample``'s draw)."""
        full = None if (tag is None and not self.stream) else self.stream + (tag or "")
        return per_sample_normal(self.seeds, tuple(shape or self.shape), full)

    def draw_initial(self, stream: str) -> torch.Tensor:
        """A fresh initial sample (float64) under the whole remedy's noise map and prior, from the draws of ``stream``."""
        old, self.stream = self.stream, stream
        try:
            return initial_sample(self.remedy, self, self.remedy.noise(self, self.normal()))
        finally:
            self.stream = old


class Remedy:
    """Base class: every stage is the identity. Subclasses are frozen dataclasses with a ``name``."""

    name: str = "none"
    #: a remedy that cannot run without Analytic-Init statistics
    needs_stats: bool = False
    #: the start time M the remedy asks for (None: the caller's ``start``)
    start: float | None = None

    # --- contract ---------------------------------------------------------------------------
    def noise(self, ctx: Context, z: torch.Tensor) -> torch.Tensor:
        """(a) The standard-normal draw ``z`` ``[B, F, C, H, W]`` (float64) -> another one."""
        return z

    def prior(self, ctx: Context) -> tuple[torch.Tensor, float] | None:
        """(a) The initial distribution at M as ``(mean, var)`` (mean ``[F, C, H, W]`` or scalar), or None (standard)."""
        return None

    def initial(self, ctx: Context, x: torch.Tensor) -> torch.Tensor:
        """(a) The initial sample ``x`` ``[B, F, C, H, W]`` (float64) -> the one the sampler starts from."""
        return x

    def prepare_condition(self, ctx: Context, cond: dict) -> dict:
        """(b) The whole batch's ``cond`` (``{"y": ..., **extras}``) -> a new dict, once before sampling."""
        return cond

    def condition_fn(self, ctx: Context) -> Callable | None:
        """(b) ``fn(t, cond) -> new cond`` for ``model.condition_hook`` at every model call, or None."""
        return None

    def around(self, ctx: Context, run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """(c) Call ``run(x_init) -> x0`` (the whole sampler) once or more; return the final videos."""
        return run(x)

    # --- description ------------------------------------------------------------------------
    def settings(self) -> dict:
        """The remedy's settings (its dataclass fields)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)} if dataclasses.is_dataclass(self) else {}

    def spec(self) -> dict:
        """JSON-able ``{"name": ..., "settings": {...}}``; :func:`cilnb.remedies.build` rebuilds the remedy from it."""
        return {"name": self.name, "settings": self.settings()}

    def label(self) -> str:
        """Short text for tables and plots, e.g. ``freeinit(iterations=3)``."""
        s = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.settings().items())
        return f"{self.name}({s})" if s else self.name

    def members(self) -> list:
        """The remedies this one is made of (itself, for a single remedy)."""
        return [self]

    def check(self, *, stats=None) -> None:
        """Raise a ValueError when the remedy cannot run with what the caller gave."""
        for r in self.members():
            if r.needs_stats and stats is None:
                raise ValueError(f"remedy {r.name!r} needs Analytic-Init statistics: pass stats= (a cilnb.analytic_init.MomentStats; "
                                 "`python -m cilnb stats` computes them, the toy ships data/toy_stats.safetensors)")


@dataclass(frozen=True)
class NoRemedy(Remedy):
    """Plain sampling: no remedy (the baseline every comparison includes)."""

    name = "none"


@dataclass(frozen=True)
class Compose(Remedy):
    """Several remedies at once, applied in the given order at every stage (e.g. ALG + Analytic-Init).

    Noise maps, initial-sample maps and conditioning changes chain in order; at most one member may
    set the initial distribution (:meth:`Remedy.prior`) and members that ask for a start time must
    agree; condition hooks are entered in order (so they apply in order); the first member's
    :meth:`Remedy.around` is outermost.
    """

    remedies: tuple = ()
    name = "compose"

    def __post_init__(self):
        flat = []
        for r in self.remedies:
            if not isinstance(r, Remedy):
                raise ValueError(f"compose() takes remedy objects (cilnb.remedies.build(...)), got {type(r).__name__}")
            flat.extend(r.members())
        flat = [r for r in flat if not isinstance(r, NoRemedy)]
        object.__setattr__(self, "remedies", tuple(flat))
        priors = [r.name for r in flat if type(r).prior is not Remedy.prior]
        if len(priors) > 1:
            raise ValueError(f"at most one remedy may set the initial distribution, got {priors}")
        from .freeinit import MAX_ITERATIONS, FreeInit

        passes = 1
        for r in flat:  # a FreeInit's around() runs everything after it once per pass: nested FreeInits multiply
            passes *= r.iterations if isinstance(r, FreeInit) else 1
        if passes > MAX_ITERATIONS:
            raise ValueError(f"the composed remedies run {passes} sampler passes (their FreeInit iterations multiply); at most "
                             f"{MAX_ITERATIONS}: compose one FreeInit, or fewer iterations")
        starts = {r.start for r in flat if r.start is not None}
        if len(starts) > 1:
            raise ValueError(f"the remedies ask for different start times {sorted(starts)}: give one")

    @property
    def start(self):  # type: ignore[override]
        return next((r.start for r in self.remedies if r.start is not None), None)

    @property
    def needs_stats(self):  # type: ignore[override]
        return any(r.needs_stats for r in self.remedies)

    def members(self) -> list:
        return list(self.remedies)

    def noise(self, ctx, z):
        for r in self.remedies:
            z = r.noise(ctx, z)
        return z

    def prior(self, ctx):
        for r in self.remedies:
            p = r.prior(ctx)
            if p is not None:
                return p
        return None

    def initial(self, ctx, x):
        for r in self.remedies:
            x = r.initial(ctx, x)
        return x

    def prepare_condition(self, ctx, cond):
        for r in self.remedies:
            cond = r.prepare_condition(ctx, cond)
        return cond

    def around(self, ctx, run, x):
        def nest(i, x_):
            if i == len(self.remedies):
                return run(x_)
            return self.remedies[i].around(ctx, lambda xx: nest(i + 1, xx), x_)

        return nest(0, x)

    def settings(self) -> dict:
        return {"remedies": [r.spec() for r in self.remedies]}

    def label(self) -> str:
        return " + ".join(r.label() for r in self.remedies) or "none"


def initial_sample(remedy: Remedy, ctx: Context, z: torch.Tensor) -> torch.Tensor:
    """``z`` -> the initial sample float64 under the remedy's prior (standard: ``prior_std(M) z``;
    ``(mean, var)``: ``mean + sqrt(var) z``, the arithmetic of :func:`cilnb.sampling.initial_noise`)."""
    p = remedy.prior(ctx)
    if p is None:
        if ctx.init == "analytic":
            p = analytic_params(ctx)
        else:
            return z * ctx.schedule.prior_std(ctx.start)
    mean, var = p
    return torch.as_tensor(mean, dtype=torch.float64) + float(var) ** 0.5 * z


def analytic_params(ctx: Context) -> tuple[torch.Tensor, float]:
    """Analytic-Init's ``(alpha_M E[X0], alpha_M^2 tr(Cov)/d + sigma_M^2)`` (Eq. 5) for ``ctx``, with the shape check of ``sample``."""
    from ..analytic_init import init_params

    if ctx.stats is None:
        raise ValueError("Analytic-Init needs stats= (a cilnb.analytic_init.MomentStats for this data/latent space)")
    if tuple(ctx.stats.shape) != tuple(ctx.shape):
        raise ValueError(
            f"stats shape {tuple(ctx.stats.shape)} does not match the sample shape {tuple(ctx.shape)}: "
            "recompute the statistics (python -m cilnb stats / MomentStats) for this resolution and frame count"
        )
    mean, var = init_params(ctx.stats, ctx.alpha, ctx.sigma)
    return torch.as_tensor(mean, dtype=torch.float64), float(var)


def run(remedy: Remedy, ctx: Context, cond: dict, sampler_run: Callable[[torch.Tensor, dict], torch.Tensor]) -> torch.Tensor:
    """Sample with ``remedy``: draw the noise (a), change the conditioning and enter the hooks (b),
    and run ``sampler_run(x_init float32, cond) -> x0`` through :meth:`Remedy.around` (c)."""
    remedy.check(stats=ctx.stats)
    ctx.remedy = remedy
    z = remedy.noise(ctx, ctx.normal())
    ctx.z = z
    x = remedy.initial(ctx, initial_sample(remedy, ctx, z)).float()
    cond = remedy.prepare_condition(ctx, dict(cond))
    fns = [fn for fn in (r.condition_fn(ctx) for r in remedy.members()) if fn is not None]
    with ExitStack() as stack:
        if fns:
            hook = getattr(ctx.model, "condition_hook", None)
            if hook is None:
                raise ValueError(f"remedy {remedy.label()} changes the conditioning at every step and needs the model's "
                                 f"condition_hook (cilnb.models.base.Adapter); {type(ctx.model).__name__} has none")
            for fn in fns:
                stack.enter_context(hook(fn))
        return remedy.around(ctx, lambda x_: sampler_run(x_.float(), cond), x)
