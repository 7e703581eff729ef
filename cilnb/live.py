"""A live lab: sample and probe a model interactively, and watch the videos move.

:class:`Lab` holds a model, a few conditional images with their ground-truth videos, and
(optionally) Analytic-Init statistics. Two computations run on demand, each in about a second
for the toy on a 2-core CPU:

- :meth:`Lab.sample`: videos generated from image ``i`` starting at ``M`` with standard or
  Analytic-Init noise (Alg. 1; the answer to "what if I start at M = 0.7 on this image?"), with
  their motion and first-frame alignment beside the ground truth's;
- :meth:`Lab.probe`: the one-step prediction ``X̂_{t→0}`` of video ``i`` at any ``t`` (Eq. 4),
  beside ``X_t`` and the ground truth.

:meth:`Lab.sampling_widget` and :meth:`Lab.probe_widget` wrap them in ipywidgets controls
(:mod:`cilnb.plotting.live`) whose every change re-runs the model and replaces an inline animation
(:func:`cilnb.plotting.play`).
They return the widget and never display it, so a cell shows it once. Headless runs
(``interactive=False`` in the notebooks) build no widgets and call the same methods, so they stay
deterministic. Shown in notebooks/explore.ipynb.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used, so ``Lab.toy(show_progress=True)`` shows its import
    import torch

    from .denoiser import Cond

__all__ = ["Lab", "SampleResult", "ProbeResult"]


@dataclass
class SampleResult:
    """What :meth:`Lab.sample` made: ``videos [S, F, C, H, W]`` (one per seed) in ``[-1, 1]`` and their read-outs."""

    videos: torch.Tensor
    truth: torch.Tensor  # [F, C, H, W]
    motion: np.ndarray  # [S] read-out of each generated video
    truth_motion: float
    alignment: np.ndarray  # [S] PSNR (dB) of generated frame 0 to the conditional image
    seconds: float
    settings: dict = field(default_factory=dict)

    def summary(self) -> str:
        """One line: motion vs the ground truth's, alignment, and the time taken."""
        finite = np.asarray(self.motion, float)[np.isfinite(np.asarray(self.motion, float))]
        truth = f"ground truth {_number(self.truth_motion, '.2f')}"
        if not len(finite):  # the read-out found no motion in any video (a motion_fn's NaN): said, not printed as "nan"
            head = f"motion not read in the generated videos (vs {truth})"
        else:
            m = float(finite.mean())
            ratio = f"ratio {m / self.truth_motion:.2f}" if np.isfinite(self.truth_motion) and self.truth_motion > 0 else "no ratio"
            head = f"motion {m:.2f} px/frame vs {truth} ({ratio})"
        align = np.asarray(self.alignment, float)
        return (f"{head}; first-frame alignment {_number(np.nanmean(align) if np.isfinite(align).any() else np.nan, '.1f', ' dB')}; "
                f"{self.seconds:.2f} s")


@dataclass
class ProbeResult:
    """What :meth:`Lab.probe` made: ``x_t``, ``x0_hat`` and ``truth``, each ``[F, C, H, W]`` in pixels."""

    x_t: torch.Tensor
    x0_hat: torch.Tensor
    truth: torch.Tensor
    t: float
    motion: float  # read-out of x0_hat
    truth_motion: float
    seconds: float

    def summary(self) -> str:
        return (f"t = {self.t:.3f}: motion of X̂ {_number(self.motion, '.2f', ' px/frame')} vs ground truth "
                f"{_number(self.truth_motion, '.2f')}; {self.seconds:.2f} s")


def _number(v, fmt: str, unit: str = "") -> str:
    """``v`` formatted with its unit, or "not read" for NaN (a read-out that found nothing), never "nan"."""
    return f"{v:{fmt}}{unit}" if np.isfinite(v) else "not read"


def _sprite_speed(videos: torch.Tensor) -> np.ndarray:
    """The toy read-out (:func:`cilnb.experiments.sprite_speed`), 0 where no sprite is found."""
    from .experiments import sprite_speed

    return np.nan_to_num(sprite_speed(videos), nan=0.0)


def _describe(v) -> str:
    return f"a tensor [N, {', '.join(map(str, v.shape[1:]))}]" if hasattr(v, "shape") and hasattr(v, "dtype") else f"{v!r:.40}"


def _align_psnr(videos: torch.Tensor, images: torch.Tensor) -> np.ndarray:
    from .metrics import align_psnr

    return align_psnr(videos, images).cpu().numpy()


class _ToyDraw:
    """:meth:`Lab.toy`'s ``draw``: draw ``k`` is one held-out sprite video of the checkpoint's data, from the seed
    ``hashed_seed("<data seed>:lab-draw:<k>")`` (a stream apart from the lab's first images)."""

    def __init__(self, config, seed: int):
        self.config, self.seed = config, int(seed)

    def __call__(self, k: int):
        from . import data
        from ._util import hashed_seed

        sv = data.generate(1, seed=hashed_seed(f"{self.seed}:lab-draw:{int(k)}"), config=self.config, flow=False)
        return sv.condition, sv.videos


class Lab:
    """A model, conditional images with their ground truth, and the live sample/probe computations.

    ``images``: ``[N, C, H, W]`` conditional images in the model's conditioning space;
    ``truth``: ``[N, F, C, H, W]`` ground-truth videos in pixels ``[-1, 1]`` (frame 0 is the image);
    ``x0``: the ground truth in the model's sample space (defaults to ``truth``: pixel models);
    ``cond``: extra per-image conditioning, batch-first (e.g. SVD's ``image_embeds``);
    ``decode``: sample space -> pixels (defaults to the identity); ``motion_fn``: pixel videos ->
    ``[B]`` motion (defaults to the toy's sprite tracker, px/frame); ``draw``: ``seed -> (images, truth)`` (or a dict
    with ``images``, ``truth``, ``x0``, ``cond``), new images on demand (:meth:`draw_image`, the widgets' "new image"
    button; ``None``: the lab's images only, :meth:`add_images` still adds yours). Use :meth:`toy` for the
    built-in model (it draws fresh held-out sprite videos).
    """

    def __init__(self, model, images: torch.Tensor, truth: torch.Tensor, *, stats=None, x0: torch.Tensor | None = None,
                 cond: dict | None = None,
                 decode: Callable | None = None, motion_fn: Callable | None = None, n_steps: int = 25,
                 n_seeds: int = 3, sampler: str = "ddim", draw: Callable | None = None):
        from . import checks

        self.model = checks.check_model(model)
        self._latent = x0 is not None  # the ground truth in the sample space is given apart from the pixels
        self._decoded_given = decode is not None
        images, truth, x0, cond = self._checked_set(images, truth, x0, cond, adding=False)
        n_steps = checks.check_n_steps(n_steps, fix="(sampler steps)")
        n_seeds = checks.check_int("n_seeds", n_seeds, min=1, fix="(videos per image)")
        checks.check_fits_in_memory(16.0 * n_seeds * truth[0].numel(), f"Lab(n_seeds={n_seeds})",
                                    "every update samples n_seeds videos in one batch (the state, its guided double and the "
                                    "decoded videos at least): pass a few, e.g. n_seeds=3 (the default)")
        from .sampling import SAMPLERS

        if not isinstance(sampler, str) or sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
        checks.check_stats(stats)
        for name, fn in (("decode", decode), ("motion_fn", motion_fn), ("draw", draw)):
            if fn is not None and not callable(fn):
                raise checks.InputTypeError(f"{name} must be a function (or None for the default), got {type(fn).__name__}")
        self.images, self.truth, self.stats = images, truth, stats
        self.x0 = truth if x0 is None else x0
        self.cond = cond
        self.decode = decode or (lambda v: v)
        self.motion_fn = motion_fn or _sprite_speed
        self.n_steps, self.n_seeds, self.sampler = n_steps, n_seeds, sampler
        self.truth_motion = self._motion_of(truth)
        self.draw, self.n_draws, self._drawn = draw, 0, set()
        self.calls: list[dict] = []  # the settings of every computation, in order (for tests and curiosity)
        self._on_added: list = []  # weak references to the widgets' refresh methods (_follow): their image choices follow add_images

    def _checked_set(self, images, truth, x0, cond, *, adding: bool):
        """``(images, truth, x0, cond)`` checked as the lab takes them (``cond`` without ``y``); when ``adding``, also
        against the lab's own (the same frame and image sizes, ``x0`` given exactly when the lab was built with it, the
        same ``cond`` names)."""
        import torch
        from collections.abc import Mapping

        from . import checks

        model = self.model
        for name, v in (("images", images), ("truth", truth), ("x0", x0)):
            if v is None and name != "x0":
                what = "[N, C, H, W] conditional images" if name == "images" else "[N, F, C, H, W] ground-truth videos in [-1, 1]"
                raise checks.InputTypeError(f"{name} must be a torch.Tensor ({what}), got None")
            if v is not None and not torch.is_tensor(v):
                fix = f": pass torch.from_numpy({name})" if isinstance(v, np.ndarray) else ""
                raise checks.InputTypeError(f"{name} must be a torch.Tensor, got {type(v).__name__}{fix}")
            checks.check_not_meta(name, v)  # the value checks below would fail in torch ("Tensor.item() cannot be called on meta tensors")
        if images.ndim != 4 or truth.ndim != 5 or images.shape[0] != truth.shape[0]:
            raise ValueError(f"images must be [N, C, H, W] and truth [N, F, C, H, W] with the same N, got "
                             f"{tuple(images.shape)} and {tuple(truth.shape)}")
        if images.shape[0] < 1:
            raise ValueError("the lab needs at least one image" if not adding else "add_images got no image (N = 0)")
        if adding:
            for name, new, old in (("images", images, self.images), ("truth", truth, self.truth)):
                if tuple(new.shape[1:]) != tuple(old.shape[1:]):
                    raise ValueError(f"new {name} must have the lab's shape [N, {', '.join(map(str, old.shape[1:]))}], got {tuple(new.shape)}")
            if (x0 is not None) != self._latent:
                raise ValueError("this lab was built with x0= (a latent model): pass the new videos' x0 too" if self._latent else
                                 "this lab was built without x0 (its ground truth is the model's input): add images without x0=")
            if x0 is not None and tuple(x0.shape[1:]) != tuple(self.x0.shape[1:]):
                raise ValueError(f"new x0 must have the lab's shape [N, {', '.join(map(str, self.x0.shape[1:]))}], got {tuple(x0.shape)}")
        checks.check_model_input("images", images, model, rank=4, layout="[N, C, H, W] (conditional images)")  # dtype, NaN/inf, range
        if not truth.is_floating_point():  # the read-outs (alignment, motion) take float pixels
            how = "truth.float() / 127.5 - 1" if truth.dtype == torch.uint8 else "truth.float() (values in [-1, 1])"
            raise checks.InputTypeError(f"truth has dtype {truth.dtype}; the lab takes float ground-truth videos in [-1, 1]: pass {how}")
        checks.check_finite("truth", truth)
        checks.check_range("truth", truth, checks.PIXEL_RANGE)  # the ground truth is in pixels [-1, 1]
        if x0 is not None and x0.shape[:1] != truth.shape[:1]:
            raise ValueError(f"x0 must hold one video per image ({truth.shape[0]}), got shape {tuple(x0.shape)}")
        if x0 is None and not self._decoded_given and tuple(truth.shape[2:]) != tuple(images.shape[1:]):  # a pixel model: truth is x0
            raise ValueError(f"truth frames are [C, H, W] = {tuple(truth.shape[2:])} but images are {tuple(images.shape[1:])}: the "
                             "conditional image is frame 0 of its video; pass images and truth of one size (e.g. images = truth[:, 0]), "
                             "or, for a latent model, x0= (the latents) and decode=")
        if x0 is not None:  # what probe() gives the model: checked now (rank, dtype, NaN/inf, range), not at the first probe
            checks.check_model_input("x0", x0, model, rank=5, layout="[N, F, C, H, W] (the ground truth in the model's sample space)")
        frames, F = getattr(model, "n_frames", None), (truth if x0 is None else x0).shape[1]
        if isinstance(frames, int) and not isinstance(frames, bool) and frames != F:  # sample() draws model.n_frames
            which = "truth" if x0 is None else "x0"
            raise ValueError(f"the model samples videos of {frames} frames but {which} has {F}: the generated videos would be "
                             f"compared with a ground truth of another length; pass {frames}-frame videos (or a model set to {F} frames)")
        if cond is not None and not isinstance(cond, Mapping):
            raise checks.InputTypeError(f"cond must be a dict of per-image conditioning {{name: tensor [N, ...]}}, got {type(cond).__name__}")
        for k, v in (cond or {}).items():
            if not isinstance(k, str):  # Cond(**cond) failed at the first sample with "keywords must be strings"
                raise checks.InputTypeError(f"cond's keys must be the names of the model's conditioning inputs (strings, e.g. 'motion'), "
                                            f"got {k!r} ({type(k).__name__})")
            checks.check_not_meta(f"cond[{k!r}]", v)  # add_images failed in torch's copy ("Cannot copy out of meta tensor")
        y = (cond or {}).get("y")
        if y is not None and y is not images and not (torch.is_tensor(y) and y.shape == images.shape and y.dtype == images.dtype
                                                      and y.device == images.device and torch.equal(y, images)):
            # dropped below: the lab conditions on images, so another cond['y'] was ignored without a word
            raise ValueError("cond['y'] differs from images: the lab conditions on images (cond['y'] is dropped), so pass the "
                             "conditional images as images= and leave 'y' out of cond")
        cond = {k: v for k, v in (cond or {}).items() if k != "y"}
        for k, v in cond.items():
            if isinstance(v, (list, tuple, np.ndarray)):  # not sliced per image by Cond.select: each video would get every image's
                raise checks.InputTypeError(f"cond[{k!r}] is a {type(v).__name__}: per-image conditioning must be a tensor with one "
                                            f"entry per image ({images.shape[0]}), e.g. cond={{{k!r}: torch.tensor([...])}}, so the lab can pick image i's")
            if torch.is_tensor(v) and v.shape[:1] != images.shape[:1]:
                raise ValueError(f"cond[{k!r}] must be batch-first with one entry per image ({images.shape[0]}), got {tuple(v.shape)}")
        if adding:
            if sorted(cond) != sorted(self.cond):
                raise ValueError(f"new cond must name the lab's per-image conditioning {sorted(self.cond)}, got {sorted(cond)}")
            for k, v in cond.items():
                old = self.cond[k]
                if torch.is_tensor(old) != torch.is_tensor(v) or (torch.is_tensor(v) and tuple(v.shape[1:]) != tuple(old.shape[1:])):
                    raise ValueError(f"new cond[{k!r}] must be like the lab's ({_describe(old)}), got {_describe(v)}")
                if not torch.is_tensor(v) and v != old:  # one value for every image (a number, a string)
                    raise ValueError(f"cond[{k!r}] is one value for every image of this lab ({old!r}): add images with the same, got {v!r}")
        return images, truth, x0, cond

    def _motion_of(self, truth: torch.Tensor, what: str = "truth") -> np.ndarray:
        """``motion_fn(truth)`` as one float per video, checked (``what`` names the videos: the ground truth, or the
        generated or predicted ones of :meth:`sample` and :meth:`probe`)."""
        import torch

        from .checks import InputTypeError

        motion = self.motion_fn(truth)
        try:
            out = np.asarray(motion.detach().cpu() if torch.is_tensor(motion) else motion, dtype=float)
        except (TypeError, ValueError):
            raise InputTypeError(f"motion_fn must return one number per video (a list, array or tensor of {truth.shape[0]} "
                                 f"numbers for {what}), got {motion!r:.80} ({type(motion).__name__})") from None
        if out.shape != (truth.shape[0],):
            raise ValueError(f"motion_fn must return one value per video ({truth.shape[0]} for {what}), got shape {out.shape}")
        return out

    def add_images(self, images: torch.Tensor, truth: torch.Tensor, *, x0: torch.Tensor | None = None,
                   cond: dict | None = None) -> list[int]:
        """Append conditional images with their ground truth (checked as the constructor checks them, and against the
        lab's sizes); returns their indices. Widgets built on this lab list them at once."""
        import torch

        images, truth, x0, cond = self._checked_set(images, truth, x0, cond, adding=True)
        motion = self._motion_of(truth)
        first = self.n_images
        pixel = self.x0 is self.truth
        self.images = torch.cat([self.images, images.to(self.images.device, self.images.dtype)])
        self.truth = torch.cat([self.truth, truth.to(self.truth.device, self.truth.dtype)])
        self.x0 = self.truth if pixel else torch.cat([self.x0, x0.to(self.x0.device, self.x0.dtype)])
        self.cond = {k: torch.cat([v, cond[k].to(v.device, v.dtype)]) if torch.is_tensor(v) else v for k, v in self.cond.items()}
        self.truth_motion = np.concatenate([self.truth_motion, motion])
        self._on_added = [ref for ref in self._on_added if ref() is not None]  # widgets gone are dropped
        for ref in list(self._on_added):
            refresh = ref()
            if refresh is not None:
                refresh()
        return list(range(first, self.n_images))

    def _follow(self, refresh) -> None:
        """Call the bound method ``refresh()`` after every :meth:`add_images` while its object lives (a weak reference: a
        widget closed and dropped is not kept alive by the lab)."""
        import weakref

        self._on_added.append(weakref.WeakMethod(refresh))

    def draw_image(self, seed: int | None = None) -> int:
        """A new conditional image and its ground-truth video from the lab's ``draw`` (:meth:`toy`: a fresh held-out sprite
        video of the checkpoint's data), appended (:meth:`add_images`); returns its index. ``seed``: which draw (``None``:
        the next of ``0, 1, 2, ...`` not drawn yet), so the same clicks give the same images."""
        from collections.abc import Mapping

        from . import checks

        if self.draw is None:
            raise ValueError("this lab cannot draw new images: build it with draw= (a function seed -> (images, truth)), "
                             "or add your own with add_images()")
        if seed is None:  # the next draw not taken yet (an explicit seed may have taken it)
            seed = self.n_draws
            while seed in self._drawn:
                seed += 1
        else:
            seed = checks.check_seed("seed", seed, fix="(which draw; None: the next)")
        out = self.draw(seed)
        if isinstance(out, Mapping):
            kwargs = dict(out)
            unknown = sorted(set(kwargs) - {"images", "truth", "x0", "cond"})
            if unknown or not {"images", "truth"} <= set(kwargs):
                raise checks.InputTypeError(f"draw must return (images, truth) or a dict with images, truth and optionally x0, cond; "
                                            f"got keys {sorted(kwargs)}")
        elif isinstance(out, tuple) and len(out) == 2:
            kwargs = dict(images=out[0], truth=out[1])
        else:
            raise checks.InputTypeError(f"draw must return (images [n, C, H, W], truth [n, F, C, H, W]) or a dict of them, "
                                        f"got {type(out).__name__}")
        index = self.add_images(kwargs.pop("images"), kwargs.pop("truth"), **kwargs)[0]
        self.n_draws += 1
        self._drawn.add(seed)
        return index

    @classmethod
    def toy(cls, checkpoint: str = "base", *, n_images: int = 8, seed: int = 2026, device="cpu", show_progress: bool = False,
            stats="shipped", dtype=None, **kwargs) -> "Lab":
        """The built-in toy, with ``n_images`` held-out sprite videos of its training data drawn from ``seed``.

        ``stats``: Analytic-Init statistics, ``"shipped"`` (``data/toy_stats.safetensors``; refused for a
        checkpoint trained on other data, :func:`cilnb.experiments.inputs.check_toy_stats`), a file from
        ``python -m cilnb toy-stats --data-from CHECKPOINT``, a :class:`cilnb.analytic_init.MomentStats`, or
        ``None`` (no Analytic-Init). ``show_progress``: a bar over the set-up steps (importing torch and
        loading the model take most of the few seconds on a first call). ``dtype``: float32 (``None``, ``"auto"``) or
        ``"bfloat16"`` (faster on CPUs with bf16 units; :func:`cilnb.models.toy.precision`).
        """
        from ._util import check_device, data_dir, progress_steps
        from .checks import check_bool, check_int, check_seed

        show_progress = check_bool("show_progress", show_progress)
        check_device(device)
        n_images = check_int("n_images", n_images, min=1, fix="(held-out sprite videos to sample from)")
        seed = check_seed("seed", seed, fix="(the held-out videos' seed)")
        with progress_steps(["loading the model", "drawing images", "loading statistics"], disable=not show_progress,
                            desc="toy lab") as step:
            step("loading the model")
            from . import data, models
            from .analytic_init import MomentStats
            from .experiments.inputs import check_toy_stats

            model = models.load("toy", checkpoint, device=device, dtype=dtype)
            step("drawing images")  # held-out videos of the data the checkpoint was trained on
            sv = data.generate(n_images, seed=seed, config=model.data_config, flow=False)
            step("loading statistics")
            path = data_dir() / "toy_stats.safetensors" if isinstance(stats, str) and stats == "shipped" else None
            if stats is not None and not isinstance(stats, (str, Path, MomentStats)):
                from .checks import InputTypeError

                raise InputTypeError(f"stats must be 'shipped', a statistics file path, a MomentStats or None, got {type(stats).__name__}")
            if path is not None:
                stats = MomentStats.load(path) if path.is_file() else None
            elif isinstance(stats, (str, Path)):
                path = Path(stats)
                stats = MomentStats.load(path)
            if stats is not None:  # the statistics must describe this checkpoint's data
                check_toy_stats(stats, path or "(given)", model)
        kwargs.setdefault("draw", _ToyDraw(model.data_config, seed))
        return cls(model, sv.condition, sv.videos, stats=stats, **kwargs)

    @property
    def n_images(self) -> int:
        return self.images.shape[0]

    def _index(self, i: int) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < self.n_images:
            raise ValueError(f"image index must be an int in [0, {self.n_images - 1}], got {i!r}")
        return int(i)

    def sample(self, i: int = 0, *, M: float = 1.0, init: str = "standard", seed: int = 0, n_steps: int | None = None,
               guidance=None, remedy=None, **sample_kwargs) -> SampleResult:
        """``n_seeds`` videos from image ``i`` started at ``M`` with ``init`` noise (seeds ``seed, seed+1, ...``).

        ``guidance``: classifier-free guidance on the image (:func:`cilnb.models.base.guidance_weights`:
        a number, or ``(first, last)`` frame-wise as SVD; ``None``: the model's default). ``remedy``: an
        inference-time remedy (:mod:`cilnb.remedies`, e.g. ``"freeinit"``; ``None`` or ``"none"``: plain).
        Extra keywords go to :func:`cilnb.sampling.sample` (e.g. ``sampler``, ``eta``).
        """
        from . import checks
        from .sampling import sample

        i = self._index(i)
        for key, how in (("start", "pass M= (the lab's start time)"), ("start_native", "pass M= (normalised; 1 = T)"),
                         ("stats", "build the Lab with stats="), ("show_progress", "the lab samples without a bar"),
                         # these two failed in Python's call: "sample() got multiple values for argument 'model'"
                         ("model", "build a Lab with that model"), ("y", "pass i= (an image of the lab; add_images() adds yours)")):
            if key in sample_kwargs:
                raise ValueError(f"Lab.sample sets {key} itself: {how}, not {key}={sample_kwargs[key]!r:.60}")
        M = checks.check_number("M", M, fix="(the normalised start time in (0, 1]; 1 = T)")
        if not 0 < M <= 1:
            raise ValueError(f"M must lie in (0, 1] (the normalised start time; 1 = T), got {M:g}")
        seed = checks.check_int("seed", seed, fix="(videos use seed, seed + 1, ...)")
        checks.check_seeds(seed, self.n_seeds)  # seed + n_seeds - 1 must be a seed too
        n_steps = self.n_steps if n_steps is None else checks.check_n_steps(n_steps, fix="(sampler steps; None: the lab's)")
        if init == "analytic" and self.stats is None:
            raise ValueError("init='analytic' needs Analytic-Init statistics: build the Lab with stats= "
                             "(python -m cilnb stats, or the shipped data/toy_stats.safetensors for the toy)")
        S = self.n_seeds
        cond = self._cond_of(i, S)
        if guidance is not None:
            cond["guidance"] = guidance
        if remedy is not None and remedy != "none":
            sample_kwargs["remedy"] = remedy
        sampler = sample_kwargs.pop("sampler", self.sampler)
        settings = dict(i=i, M=float(M), init=init, seed=int(seed), n_steps=n_steps, sampler=sampler,
                        guidance=guidance, **{"remedy": "none", **sample_kwargs})
        t0 = time.perf_counter()
        x = sample(self.model, cond, n_steps=settings["n_steps"], start=float(M), init=init, stats=self.stats,
                   sampler=sampler, seed=[int(seed) + s for s in range(S)],
                   show_progress=False, **sample_kwargs)
        videos = self._decoded(x).float().clamp(-1, 1)
        seconds = time.perf_counter() - t0
        self.calls.append({"kind": "sample", **settings})
        return SampleResult(videos=videos.cpu(), truth=self.truth[i].cpu(), motion=self._motion_of(videos, "the generated videos"),
                            truth_motion=float(self.truth_motion[i]),
                            alignment=_align_psnr(videos, self.decode_image(i).expand(S, -1, -1, -1)),
                            seconds=seconds, settings=settings)

    def _decoded(self, x: torch.Tensor) -> torch.Tensor:
        """``decode(x)``, which must be the pixel videos as a tensor."""
        import torch

        from .checks import InputTypeError

        out = self.decode(x)
        if not torch.is_tensor(out):
            raise InputTypeError(f"decode must return the pixel videos as a torch.Tensor [B, F, C, H, W], got {type(out).__name__}"
                                 + (": return torch.from_numpy(...)" if isinstance(out, np.ndarray) else ""))
        if out.ndim != 5 or out.shape[0] != x.shape[0]:  # else the read-outs failed deep inside (the tracker's layout, an IndexError)
            raise ValueError(f"decode must return one pixel video [F, C, H, W] per video it is given, [B, F, C, H, W] with B = "
                             f"{x.shape[0]}, got shape {tuple(out.shape)}")
        return out

    def _cond_of(self, i: int, n: int) -> "Cond":
        """Image ``i``'s conditioning (``y`` and the extras), repeated ``n`` times along the batch."""
        from .denoiser import Cond  # imports torch: kept out of module import (see above)

        return Cond(self.images, **self.cond).select(i).expand(n)

    def decode_image(self, i: int) -> torch.Tensor:
        """The conditional image ``i`` in pixels, ``[1, C, H, W]`` (frame 0 of the ground truth)."""
        i = self._index(i)
        return self.truth[i:i + 1, 0]

    def probe(self, i: int = 0, *, t: float = 0.9, seed: int = 0) -> ProbeResult:
        """Eq. (4) at one ``t`` for video ``i``: ``X_t = alpha_t x0 + sigma_t eps`` and the model's ``X̂_{t→0}``."""
        import torch

        from . import checks
        from .probe import one_step_predictions
        from .sampling import per_sample_noise

        i = self._index(i)
        t = checks.check_number("t", t, fix="(the normalised time in (0, 1]; 1 = T)")
        if not 0 < t <= 1:
            raise ValueError(f"t must lie in (0, 1] (normalised; 1 = T), got {t}")
        seed = checks.check_seed("seed", seed)
        t0 = time.perf_counter()
        x0 = self.x0[i:i + 1]
        pred = one_step_predictions(self.model, x0, [t], cond=self._cond_of(i, 1), seed=int(seed))[:, 0]
        sched = self.model.schedule
        eps = per_sample_noise([int(seed)], x0.shape[1:]).to(x0.device, x0.dtype)
        x_t = float(sched.alpha(torch.tensor(t))) * x0 + float(sched.sigma(torch.tensor(t))) * eps
        pred_px, x_t_px = self._decoded(pred).float(), self._decoded(x_t).float()
        seconds = time.perf_counter() - t0
        self.calls.append({"kind": "probe", "i": i, "t": t, "seed": int(seed)})
        return ProbeResult(x_t=x_t_px[0].cpu(), x0_hat=pred_px[0].clamp(-1, 1).cpu(), truth=self.truth[i].cpu(), t=t,
                           motion=float(self._motion_of(pred_px.clamp(-1, 1), "the prediction X̂")[0]),
                           truth_motion=float(self.truth_motion[i]), seconds=seconds)

    def sampling_widget(self, **kwargs):
        """The live sampling controls (:func:`cilnb.plotting.sampling_widget`) for this lab; returned, not displayed."""
        from .plotting import sampling_widget

        return sampling_widget(self, **kwargs)

    def probe_widget(self, **kwargs):
        """The live probing controls (:func:`cilnb.plotting.probe_widget`) for this lab; returned, not displayed."""
        from .plotting import probe_widget

        return probe_widget(self, **kwargs)
