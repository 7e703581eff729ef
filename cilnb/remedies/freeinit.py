"""FreeInit (Wu et al., "FreeInit: Bridging Initialization Gap in Video Diffusion Models", ECCV 2024)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..checks import InputTypeError
from .base import Context, NoRemedy, Remedy, plain_settings
from .filters import check_filter_settings, freq_filter, freq_mix

__all__ = ["FreeInit", "MAX_ITERATIONS"]

#: the most FreeInit passes (each one a whole sampler run): far above the method's use (diffusers' default 3, the paper up
#: to 5), low enough that a mistyped count (``iterations=10**6``) is refused instead of sampling for days
MAX_ITERATIONS = 100


@dataclass(frozen=True)
class FreeInit(Remedy):
    """FreeInit (Wu et al. ECCV 2024, Sec. 3.3, Eq. 6-8): sample; re-noise the result to the start
    time with the first pass's own noise; keep its low spatio-temporal frequencies and take fresh
    noise for the high ones; sample again; ``iterations`` passes in all (so ``iterations`` times the
    model calls).

    Defaults are diffusers' ``FreeInitMixin.enable_free_init`` (3 iterations, Butterworth of order 4,
    ``d_s = d_t = 0.25``), whose filter :func:`cilnb.remedies.filters.freq_filter` reproduces. The
    re-noising is ``alpha_M x0 + sigma_M z`` (diffusers: ``add_noise`` at the last training step, T;
    cilnb re-noises to M so FreeInit composes with an early start). The fresh noise is a new draw
    from the whole remedy's initial distribution (standard, or Analytic-Init when composed), per
    sample from seeds derived from the sample's seed and the iteration. diffusers' optional
    coarse-to-fine step schedule (``use_fast_sampling``) is not reproduced.
    """

    iterations: int = 3
    method: str = "butterworth"
    order: int = 4
    d_s: float = 0.25
    d_t: float = 0.25
    name = "freeinit"

    def __post_init__(self):
        plain_settings(self)
        msg = f"iterations must be an int >= 1 (1 = plain sampling, FreeInit's default 3), got {self.iterations!r}"
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int):
            raise InputTypeError(msg)
        if self.iterations < 1:
            raise ValueError(msg)
        if self.iterations > MAX_ITERATIONS:
            raise ValueError(f"iterations = {self.iterations} FreeInit passes would take {self.iterations}x the sampling time; at most "
                             f"{MAX_ITERATIONS} (FreeInit's default is 3): pass a small count, e.g. iterations=3")
        check_filter_settings(self.method, self.order, self.d_s, self.d_t)

    def mask(self, ctx: Context) -> torch.Tensor:
        F, _, H, W = ctx.shape
        return freq_filter(F, H, W, method=self.method, order=self.order, d_s=self.d_s, d_t=self.d_t)

    def reinit(self, ctx: Context, x0: torch.Tensor, iteration: int) -> torch.Tensor:
        """The initial sample of pass ``iteration`` (>= 1) from the previous pass's videos ``x0`` (FreeInit Eq. 6-8)."""
        dev = x0.device
        noisy = ctx.alpha * x0.to(torch.float64) + ctx.sigma * ctx.z.to(dev)
        fresh = ctx.draw_initial(f"freeinit{iteration}/").to(dev)
        return freq_mix(noisy, fresh, self.mask(ctx))

    def around(self, ctx: Context, run, x: torch.Tensor) -> torch.Tensor:
        out = run(x)
        for k in range(1, self.iterations):
            out = run(self.reinit(ctx, out, k))
        return out

    def passes_shared_with(self, other) -> int:
        """How many of this FreeInit's first passes a full run of remedy ``other`` (same images, seeds and sampler)
        equals: plain sampling is pass 1; a FreeInit with the same filter and at most as many iterations is its first
        ``other.iterations`` passes; anything else 0. :func:`cilnb.remedies.compare` continues from the longest."""
        if type(other) is FreeInit and other.iterations <= self.iterations and \
                {**other.settings(), "iterations": 0} == {**self.settings(), "iterations": 0}:
            return other.iterations
        return 1 if isinstance(other, NoRemedy) else 0

    def continued(self, prefix: torch.Tensor, done: int) -> "FreeInit":
        """This FreeInit with its first ``done`` passes already run, ``prefix`` their output (the sampler's, every
        sample in order): it runs passes ``done + 1 .. iterations`` only, and gives the same videos as a full run with
        the same seeds, bit for bit (pass 1 is plain sampling; pass k+1 depends only on pass k's videos and the seeds).
        :func:`cilnb.remedies.compare` uses it so FreeInit N = 3 continues N = 2's videos, and N = 2 plain sampling's."""
        return _Continued(self, prefix, done)


class _Continued(FreeInit):
    """A :meth:`FreeInit.continued` run: same settings (fields, spec, label), fewer passes."""

    def __init__(self, base: FreeInit, prefix: torch.Tensor, done: int):
        super().__init__(**base.settings())
        if isinstance(done, bool) or not isinstance(done, int) or not 1 <= done <= self.iterations:
            raise ValueError(f"done must be the passes already run, 1..{self.iterations}, got {done!r}")
        if not isinstance(prefix, torch.Tensor):
            raise InputTypeError(f"prefix must be the videos of the passes already run (a tensor), got {type(prefix).__name__}")
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_done", done)

    def around(self, ctx: Context, run, x: torch.Tensor) -> torch.Tensor:
        if tuple(self._prefix.shape) != tuple(x.shape):
            raise ValueError(f"the earlier passes' videos have shape {tuple(self._prefix.shape)}, this run samples {tuple(x.shape)}: "
                             "continue a run of the same images and seeds")
        out = self._prefix.to(x.device, x.dtype)
        for k in range(self._done, self.iterations):
            out = run(self.reinit(ctx, out, k))
        return out
