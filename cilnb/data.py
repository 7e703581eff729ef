"""Moving-sprite videos with exactly known motion, and a sprite tracker that reads motion back.

The built-in dataset of cilnb: 1-2 bright sprites (soft disks or squares) bouncing off the walls
over a smooth, static, darker textured background; grayscale in ``[-1, 1]``, layout
``[B, F, C, H, W]`` with ``C = 1``; the conditional image ``y_0`` is frame 0. Every video comes
with its ground-truth motion (per-sprite trajectories, per-pixel flow, mean speed), so motion
measured on generated or sampled videos (:func:`track_sprites`, :func:`motion`) can be checked
against the truth instead of trusting an optical-flow network.

Sprites are always brighter than any background value (``sprite_brightness[0] >
background_range[1]``), so the fixed threshold :data:`THRESHOLD` halfway between them separates
sprite pixels from background pixels on clean videos; that is what the tracker relies on.

Used through :mod:`cilnb.experiments` by the notebooks' toy read-outs and to train
the toy model (:mod:`cilnb.training`).
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import math
import numbers
from dataclasses import dataclass, field

import numpy as np
import torch

from . import checks
from ._util import make_generator

__all__ = [
    "flow_score",
    "SpriteConfig",
    "SpriteVideos",
    "Tracks",
    "THRESHOLD",
    "generate",
    "bounce",
    "track_sprites",
    "motion",
    "MAX_RATE",
]

SHAPES = ("disk", "square")
#: Largest sprite speed and camera pan (px/frame) and texture frequency (cycles per image) a :class:`SpriteConfig` takes: far
#: beyond any frame (a 32 px frame is crossed at 31 px/frame); beyond it float64 positions and phases lose their pixels.
MAX_RATE = 1e6
#: Default sprite/background threshold: halfway between the brightest background (0.0) and the
#: dimmest sprite (0.5) of the default :class:`SpriteConfig`.
THRESHOLD = 0.25


@dataclass(frozen=True)
class SpriteConfig:
    """How moving-sprite videos are drawn; every range is ``(low, high)``, sampled uniformly."""

    frames: int = 8  # F
    size: int = 32  # H = W, pixels
    n_sprites: tuple[int, int] = (1, 2)  # number of sprites per video, inclusive range
    radius: tuple[float, float] = (2.5, 5.0)  # disk radius / half side of a square, px
    speed: tuple[float, float] = (0.0, 3.0)  # px/frame, direction uniform on the circle
    shapes: tuple[str, ...] = SHAPES  # drawn uniformly from these
    sprite_brightness: tuple[float, float] = (0.5, 1.0)  # sprite value in [-1, 1]
    background_range: tuple[float, float] = (-1.0, 0.0)  # background lies inside this range
    texture_waves: int = 6  # plane waves summed into the background texture
    max_frequency: float = 3.0  # cycles per image of the fastest texture wave
    edge: float = 1.0  # width of the soft (anti-aliased) sprite edge, px
    # --- options closer to real clips (issue 11); the defaults reproduce the original data bit for bit
    speed_power: float = 1.0  # speed = lo + (hi - lo) * u**speed_power, u ~ U(0, 1): > 1 puts most clips near lo (WebVid-like)
    pan: tuple[float, float] = (0.0, 0.0)  # camera pan: the background translates at this speed px/frame, direction uniform
    turn_prob: float = 0.0  # probability that a sprite turns once, after a uniform frame in 1..F-2
    turn_angle: tuple[float, float] = (90.0, 180.0)  # turn angle range in degrees, sign random

    def __post_init__(self):
        def plain(v):  # numpy numbers (from an array, a sweep over sizes) and one-number tensors as Python numbers: the config is
            # written to JSON (np.float32 and tensors failed there) and hashed (a tensor hashes by identity); same values
            if isinstance(v, np.integer):
                return int(v)
            if isinstance(v, np.floating):
                return float(v)
            if isinstance(v, torch.Tensor) and v.numel() == 1 and not v.is_meta and v.dtype != torch.bool and not v.is_complex():
                return v.item()
            return v

        for f in dataclasses.fields(self):  # lists (from YAML, argparse) as tuples: equal configs compare, hash and serialise equal
            v = getattr(self, f.name)
            if isinstance(v, (list, tuple)):
                object.__setattr__(self, f.name, tuple(plain(x) for x in v))
            elif (p := plain(v)) is not v:
                object.__setattr__(self, f.name, p)

        def rng(name, lo_ok=-math.inf):
            pair = getattr(self, name)
            if isinstance(pair, (str, bytes)) or not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise checks.InputTypeError(f"SpriteConfig.{name} must be a (low, high) pair, got {pair!r}")
            lo, hi = (checks.check_number(f"SpriteConfig.{name}[{i}]", v) for i, v in enumerate(pair))
            if not (math.isfinite(lo) and math.isfinite(hi) and lo_ok <= lo <= hi):
                raise ValueError(f"SpriteConfig.{name} must be a finite (low, high) range with {lo_ok} <= low <= high, got {(lo, hi)}")

        if not (isinstance(self.frames, int) and self.frames >= 2):
            raise ValueError(f"SpriteConfig.frames must be an int >= 2 (motion needs two frames), got {self.frames!r}")
        if not (isinstance(self.size, int) and self.size >= 8):
            raise ValueError(f"SpriteConfig.size must be an int >= 8, got {self.size!r}")
        if not isinstance(self.n_sprites, (tuple, list)) or len(self.n_sprites) != 2:
            raise checks.InputTypeError(f"SpriteConfig.n_sprites must be a (low, high) pair of ints such as (1, 2), got {self.n_sprites!r}")
        lo, hi = self.n_sprites
        if not (_plain_int(lo) and _plain_int(hi) and 1 <= lo <= hi <= 8):
            raise ValueError(f"SpriteConfig.n_sprites must be ints with 1 <= low <= high <= 8, got {self.n_sprites}")
        rng("radius", 0.5)
        rng("speed", 0.0)
        rng("sprite_brightness", -1.0)
        rng("background_range", -1.0)
        if self.sprite_brightness[1] > 1.0 or self.background_range[1] > 1.0:
            raise ValueError("sprite_brightness and background_range must lie in [-1, 1]")
        if self.sprite_brightness[0] <= self.background_range[1]:
            raise ValueError(
                f"sprites must be brighter than any background value for tracking: sprite_brightness[0] "
                f"({self.sprite_brightness[0]}) must exceed background_range[1] ({self.background_range[1]})"
            )
        checks.check_number("SpriteConfig.edge", self.edge, lo=0, lo_open=True, fix="(soft sprite edge, px)")
        # a sprite's centre keeps radius + edge / 2 from the walls at 0 and size - 1: with no room between them (an edge below
        # 1 px lets the first test pass) the sprites were pinned to one wall while their velocity said they moved
        if 2 * (self.radius[1] + self.edge) >= self.size or 2 * self.radius[1] + self.edge > self.size - 1:
            raise ValueError(f"sprites of radius {self.radius[1]} (soft edge {self.edge} px) do not fit in a {self.size} px frame with room "
                             "to move (2 * (radius + edge) < size and 2 * radius + edge <= size - 1); lower radius or raise size")
        if isinstance(self.shapes, (str, bytes)) or not isinstance(self.shapes, (tuple, list)):
            raise checks.InputTypeError(f"SpriteConfig.shapes must be a tuple of shape names from {SHAPES} such as ('disk',), "
                                        f"got {self.shapes!r}")
        bad = [s for s in self.shapes if s not in SHAPES]
        if not self.shapes or bad:
            raise ValueError(f"SpriteConfig.shapes must be a non-empty subset of {SHAPES}, got {self.shapes!r}")
        if not (_plain_int(self.texture_waves) and self.texture_waves >= 0):
            raise ValueError(f"SpriteConfig.texture_waves must be an int >= 0, got {self.texture_waves!r}")
        checks.check_number("SpriteConfig.max_frequency", self.max_frequency, lo=0, hi=MAX_RATE,
                            fix="(cycles per image of the fastest texture wave; beyond 1e6 float64 loses the texture's phases, NaN at 1e308)")
        checks.check_number("SpriteConfig.speed_power", self.speed_power, lo=0, lo_open=True, fix="(1 = uniform speeds)")
        rng("pan", 0.0)
        for name in ("speed", "pan"):  # 1e308 px/frame overflowed the positions to NaN videos; 1e300 lost them to round-off
            if getattr(self, name)[1] > MAX_RATE:
                raise ValueError(f"SpriteConfig.{name} = {getattr(self, name)} reaches beyond any motion the toy draws (at most "
                                 f"{MAX_RATE:g} px/frame; a {self.size} px frame is crossed at {self.size - 1} px/frame): float64 "
                                 "positions lose the sprites beyond it; pass a few px/frame, e.g. (0.0, 3.0)")
        checks.check_number("SpriteConfig.turn_prob", self.turn_prob, lo=0, hi=1, fix="(the probability that a sprite turns once)")
        rng("turn_angle", 0.0)
        lo, hi = self.turn_angle
        if not (0.0 <= lo <= hi <= 180.0):
            raise ValueError(f"SpriteConfig.turn_angle must be a (low, high) range of degrees in [0, 180], got {self.turn_angle}")
        if self.turn_prob > 0 and self.frames < 3:
            raise ValueError("SpriteConfig.turn_prob > 0 needs frames >= 3 (a turn happens after a frame in 1..F-2)")

    @property
    def threshold(self) -> float:
        """Value halfway between the brightest background and the dimmest sprite."""
        return 0.5 * (self.sprite_brightness[0] + self.background_range[1])

    def to_dict(self) -> dict:
        """The fields as a dict; the issue-11 options (:data:`REALISM_FIELDS`) only when they differ from
        their defaults, so configs written before they existed compare and serialise unchanged."""
        d = dataclasses.asdict(self)
        for name in REALISM_FIELDS:
            if getattr(self, name) == _DEFAULTS[name]:
                d.pop(name)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @property
    def realistic(self) -> bool:
        """True when any issue-11 option (slow-speed power, pan, turns) is on."""
        return any(getattr(self, n) != _DEFAULTS[n] for n in REALISM_FIELDS)

    @classmethod
    def from_json(cls, text: str | dict) -> "SpriteConfig":
        """Inverse of :meth:`to_json` (a JSON string or its dict); corrupt JSON and unknown fields raise ``ValueError``."""
        d = checks.parse_json(text, "SpriteConfig JSON") if isinstance(text, (str, bytes)) else text
        if not isinstance(d, dict):
            raise checks.InputTypeError(f"SpriteConfig JSON must hold an object of fields, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown SpriteConfig field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _plain_int(v) -> bool:
    """A Python int (not a bool): the config is written to JSON and used as torch sizes."""
    return isinstance(v, int) and not isinstance(v, bool)


#: SpriteConfig fields added for issue 11 (left out of :meth:`SpriteConfig.to_dict` at their defaults).
REALISM_FIELDS = ("speed_power", "pan", "turn_prob", "turn_angle")
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(SpriteConfig)}


@dataclass
class SpriteVideos:
    """Videos and their ground-truth motion (all tensors on CPU).

    - ``videos``: ``[B, F, 1, H, W]`` float32 in ``[-1, 1]``; ``condition`` is frame 0, ``[B, 1, H, W]``.
    - ``positions``: ``[B, F, S, 2]`` sprite centres ``(x, y)`` in px (x = column), NaN for absent sprites.
    - ``present``: ``[B, S]`` bool; ``radius``, ``brightness``: ``[B, S]``; ``shape``: ``[B, S]`` index into ``SHAPES``.
    - ``velocity``: ``[B, S, 2]`` initial velocity px/frame (reflected at the walls).
    - ``speed``: ``[B]`` mean over frame pairs and present sprites of ``|p_{f+1} - p_f|`` (px/frame).
    - ``flow``: ``[B, F-1, 2, H, W]`` forward flow ``(dx, dy)`` from frame f to f+1: the displacement of
      the top-most sprite covering a pixel (sprite mask > 0.5), the pan velocity (0 when static) on the background.
    - ``pan``: ``[B, 2]`` background (camera) velocity px/frame; ``turn_frame``: ``[B, S]`` the frame after
      which each sprite turns (-1: no turn). Zeros / -1 unless the config enables pans / turns.
    """

    videos: torch.Tensor
    positions: torch.Tensor
    present: torch.Tensor
    radius: torch.Tensor
    brightness: torch.Tensor
    shape: torch.Tensor
    velocity: torch.Tensor
    speed: torch.Tensor
    flow: torch.Tensor
    config: SpriteConfig = field(default_factory=SpriteConfig)
    pan: torch.Tensor | None = None
    turn_frame: torch.Tensor | None = None

    @property
    def condition(self) -> torch.Tensor:
        """The conditional image ``y_0`` = frame 0, ``[B, 1, H, W]``."""
        return self.videos[:, 0]

    def __len__(self) -> int:
        return self.videos.shape[0]


def bounce(p0: torch.Tensor, v: torch.Tensor, frames: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Closed-form position of a point moving at ``v`` from ``p0`` and reflecting off walls at ``lo``/``hi``.

    A triangle wave: ``lo + L - |((p0 + v f - lo) mod 2L) - L|`` with ``L = hi - lo``; broadcasts.
    Each argument is a tensor or a real number.
    """
    args = {"p0": p0, "v": v, "frames": frames, "lo": lo, "hi": hi}
    for name, x in args.items():
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (torch.Tensor, numbers.Real)) or (isinstance(x, torch.Tensor) and x.is_complex()):
            raise checks.InputTypeError(f"bounce: {name} must be a real tensor or number, got {type(x).__name__}")
    p0, v, frames, lo, hi = (x if isinstance(x, torch.Tensor) else torch.tensor(float(x), dtype=torch.float64) for x in args.values())
    inverted = hi < lo
    if bool(inverted.any()):  # the walls' distance was clamped to 1e-6: every point was pinned to lo without a word
        lo_b, hi_b = torch.broadcast_tensors(lo, hi)
        raise ValueError(f"bounce: the walls are inverted (hi < lo: lo = {float(lo_b[inverted][0]):g}, hi = {float(hi_b[inverted][0]):g}): "
                         "pass the lower wall as lo and the upper as hi")
    length = (hi - lo).clamp(min=1e-6)
    u = torch.remainder(p0 + v * frames - lo, 2 * length)
    return lo + length - (u - length).abs()


def _check_memory(n: int, cfg: SpriteConfig) -> None:
    """Refuse an ``n`` whose videos alone (float32 frames, int8 sprite owners, float64 texture) cannot fit in this
    machine's memory, before anything is allocated (torch's allocator would fail deep inside, or the OS kill the process)."""
    px = cfg.size * cfg.size
    need = n * (cfg.frames * px * 5 + max(cfg.texture_waves, 1) * px * 8)  # a lower bound of the peak
    checks.check_fits_in_memory(need, f"generate(n={n})", f"{n} videos of {cfg.frames} frames at {cfg.size}x{cfg.size} px; generate "
                                "fewer videos per call (batches drawn from one torch.Generator, as cilnb.toy_training.toy_stats does)")


def _uniform(gen: torch.Generator, shape, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=torch.float64)


def generate(n: int, seed: int | torch.Generator = 0, *, config: SpriteConfig | None = None, flow: bool = True, **overrides) -> SpriteVideos:
    """``n`` moving-sprite videos ``[n, F, 1, H, W]`` drawn deterministically from ``seed``, with ground-truth motion.

    ``config`` is a :class:`SpriteConfig`; keyword ``overrides`` replace its fields
    (``generate(16, seed=0, frames=8, size=32, n_sprites=(1, 1))``). ``seed`` may be a
    ``torch.Generator`` (CPU), which is then advanced. Vectorised over videos; loops over frames.
    ``flow=False`` skips the per-pixel flow (``SpriteVideos.flow`` is then an empty tensor).
    The toy's ground truth in every notebook that probes or samples it (through :mod:`cilnb.experiments`).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive int (number of videos), got {n!r}")
    n = int(n)  # numpy ints too
    flow = checks.check_bool("flow", flow)
    if config is not None and not isinstance(config, SpriteConfig):
        raise checks.InputTypeError(f"config must be a SpriteConfig (or None), got {type(config).__name__}; "
                                    "keyword overrides such as frames=8 go directly to generate()")
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(SpriteConfig)})
    if unknown:
        raise checks.InputTypeError(f"generate() got unknown SpriteConfig field(s) {unknown}; "
                                    f"known: {sorted(f.name for f in dataclasses.fields(SpriteConfig))}")
    cfg = dataclasses.replace(config or SpriteConfig(), **overrides) if overrides else (config or SpriteConfig())
    _check_memory(n, cfg)
    if isinstance(seed, torch.Generator) and seed.device.type != "cpu":
        raise ValueError("generate() draws on the CPU: pass a CPU torch.Generator or an int seed")
    gen = make_generator(seed)
    F, H = cfg.frames, cfg.size
    S = cfg.n_sprites[1]
    f64 = torch.float64

    # --- sprites: count, shape, size, brightness, start, velocity (fixed draw order = determinism)
    count = torch.randint(cfg.n_sprites[0], cfg.n_sprites[1] + 1, (n,), generator=gen)
    present = torch.arange(S)[None, :] < count[:, None]  # [n, S]
    shape_idx = torch.randint(0, len(cfg.shapes), (n, S), generator=gen)
    shape = torch.tensor([SHAPES.index(s) for s in cfg.shapes])[shape_idx]
    radius = _uniform(gen, (n, S), *cfg.radius)
    brightness = _uniform(gen, (n, S), *cfg.sprite_brightness)
    margin = radius + 0.5 * cfg.edge
    lo, hi = margin, (H - 1) - margin
    start = lo[..., None] + (hi - lo)[..., None] * torch.rand((n, S, 2), generator=gen, dtype=f64)
    if cfg.speed_power == 1.0:
        speed0 = _uniform(gen, (n, S), *cfg.speed)
    else:  # a power law on U(0, 1): P(speed <= s) = ((s - lo) / (hi - lo)) ** (1 / speed_power)
        speed0 = cfg.speed[0] + (cfg.speed[1] - cfg.speed[0]) * torch.rand((n, S), generator=gen, dtype=f64) ** cfg.speed_power
    angle = _uniform(gen, (n, S), 0.0, 2 * math.pi)
    velocity = torch.stack([speed0 * torch.cos(angle), speed0 * torch.sin(angle)], dim=-1)  # [n, S, 2]

    # --- background: smooth sum of plane waves, rescaled into background_range
    yy, xx = torch.meshgrid(torch.arange(H, dtype=f64), torch.arange(H, dtype=f64), indexing="ij")
    K = cfg.texture_waves
    freq = _uniform(gen, (n, K, 2), -cfg.max_frequency, cfg.max_frequency) * (2 * math.pi / H)
    phase = _uniform(gen, (n, K), 0.0, 2 * math.pi)
    amp = _uniform(gen, (n, K), 0.2, 1.0)
    level = _uniform(gen, (n,), 0.0, 1.0)  # where the background sits inside its range
    contrast = _uniform(gen, (n,), 0.3, 1.0)  # fraction of the range the texture spans
    panning = cfg.pan[1] > 0
    if panning:  # drawn only when enabled, so the default data stream is unchanged
        pan_speed = _uniform(gen, (n,), *cfg.pan)
        pan_angle = _uniform(gen, (n,), 0.0, 2 * math.pi)
        pan = torch.stack([pan_speed * torch.cos(pan_angle), pan_speed * torch.sin(pan_angle)], dim=-1)  # [n, 2]
    else:
        pan = torch.zeros(n, 2, dtype=f64)
    if K and not panning:
        arg = freq[..., 0, None, None] * xx + freq[..., 1, None, None] * yy + phase[..., None, None]  # [n, K, H, W]
        tex = (amp[..., None, None] * torch.cos(arg)).sum(1)
        tex = tex - tex.amin((-2, -1), keepdim=True)
        tex = tex / tex.amax((-2, -1), keepdim=True).clamp(min=1e-9)  # [0, 1]
    elif K:  # the texture translates by pan * f: evaluate the plane waves at x - pan f, normalise over all frames
        fr_bg = torch.arange(F, dtype=f64)[None, :, None, None, None]  # [1, F, 1, 1, 1]
        sx = xx[None, None, None] - (pan[:, 0, None, None, None, None] * fr_bg)  # [n, F, 1, H, W]
        sy = yy[None, None, None] - (pan[:, 1, None, None, None, None] * fr_bg)
        arg = freq[:, None, :, 0, None, None] * sx + freq[:, None, :, 1, None, None] * sy + phase[:, None, :, None, None]  # [n, F, K, H, W]
        tex = (amp[:, None, :, None, None] * torch.cos(arg)).sum(2)  # [n, F, H, W]
        tex = tex - tex.amin((-3, -2, -1), keepdim=True)
        tex = tex / tex.amax((-3, -2, -1), keepdim=True).clamp(min=1e-9)
    else:
        tex = torch.zeros(n, H, H, dtype=f64)
    b_lo, b_hi = cfg.background_range
    span = (b_hi - b_lo) * contrast
    if tex.ndim == 4:
        bg = b_lo + (b_hi - b_lo - span)[:, None, None, None] * level[:, None, None, None] + span[:, None, None, None] * tex  # [n, F, H, W]
    else:
        bg = b_lo + (b_hi - b_lo - span)[:, None, None] * level[:, None, None] + span[:, None, None] * tex  # [n, H, W]

    # --- trajectories (closed-form bouncing), positions [n, F, S, 2]
    fr = torch.arange(F, dtype=f64)[None, :, None, None]
    pos = bounce(start[:, None], velocity[:, None], fr, lo[:, None, :, None], hi[:, None, :, None])
    turn_frame = torch.full((n, S), -1, dtype=torch.long)
    if cfg.turn_prob > 0:  # one turn per sprite after frame k in 1..F-2: the rest of the clip is not in frame 0
        turns = torch.rand((n, S), generator=gen, dtype=f64) < cfg.turn_prob
        k = torch.randint(1, F - 1, (n, S), generator=gen)
        dang = _uniform(gen, (n, S), *cfg.turn_angle) * (math.pi / 180)
        sign = torch.where(torch.rand((n, S), generator=gen) < 0.5, -1.0, 1.0).to(f64)
        pk = torch.gather(pos, 1, k[:, None, :, None].expand(-1, 1, -1, 2))[:, 0]  # [n, S, 2] position at frame k
        # the direction of travel at frame k (after any wall reflections), rotated by the turn
        pk1 = torch.gather(pos, 1, (k - 1)[:, None, :, None].expand(-1, 1, -1, 2))[:, 0]
        d = pk - pk1
        cur = torch.atan2(d[..., 1], d[..., 0])
        new = cur + sign * dang
        v2 = torch.stack([speed0 * torch.cos(new), speed0 * torch.sin(new)], dim=-1)
        rel = (fr - k[:, None, :, None]).clamp(min=0)  # frames since the turn
        pos2 = bounce(pk[:, None], v2[:, None], rel, lo[:, None, :, None], hi[:, None, :, None])
        after = turns[:, None, :, None] & (fr > k[:, None, :, None])
        pos = torch.where(after, pos2, pos)
        turn_frame = torch.where(turns, k, turn_frame)

    # --- render frame by frame (float32): later sprites are drawn over earlier ones
    f32 = torch.float32
    xs = torch.arange(H, dtype=f32)
    is_disk = (shape == SHAPES.index("disk"))[..., None, None]
    rad = (radius.to(f32) + 0.5 * cfg.edge)[..., None, None]
    bri = brightness.to(f32)
    pres = present[..., None, None]
    bg32 = bg.to(f32)
    videos = torch.empty(n, F, 1, H, H, dtype=f32)
    owner = torch.full((n, F, H, H), -1, dtype=torch.int8)  # top-most sprite with mask > 0.5
    for f in range(F):
        p = pos[:, f].to(f32)  # [n, S, 2]
        dx = (xs - p[..., 0, None])[..., None, :]  # [n, S, 1, W]
        dy = (xs - p[..., 1, None])[..., :, None]  # [n, S, H, 1]
        dist = torch.where(is_disk, torch.sqrt(dx * dx + dy * dy), torch.maximum(dx.abs(), dy.abs()))
        mask = ((rad - dist) / cfg.edge).clamp_(0, 1).mul_(pres)
        img = (bg32[:, f] if bg32.ndim == 4 else bg32).clone()
        for s in range(S):  # S <= 8 sprites; layering needs order
            m = mask[:, s]
            img.mul_(1 - m).add_(bri[:, s, None, None] * m)
            owner[:, f].masked_fill_(m > 0.5, s)
        videos[:, f, 0] = img

    # --- ground-truth motion
    disp = pos[:, 1:] - pos[:, :-1]  # [n, F-1, S, 2]
    step = disp.norm(dim=-1)  # [n, F-1, S]
    pres = present[:, None, :].expand_as(step)
    speed = (step * pres).sum((1, 2)) / pres.sum((1, 2))
    if flow:
        own = owner[:, :-1]  # [n, F-1, H, W]
        d = torch.cat([pan[:, None, None, :].expand(n, F - 1, 1, 2), disp], dim=2)  # index 0 = background (pan)
        idx = (own.long() + 1).reshape(n, F - 1, H * H)
        fl = torch.gather(d, 2, idx[..., None].expand(-1, -1, -1, 2))  # [n, F-1, HW, 2]
        flow_t = fl.permute(0, 1, 3, 2).reshape(n, F - 1, 2, H, H).float()
    else:
        flow_t = torch.empty(0)
    positions = torch.where(present[:, None, :, None], pos, torch.full_like(pos, float("nan")))
    return SpriteVideos(
        videos=videos, positions=positions, present=present, radius=radius, brightness=brightness,
        shape=shape, velocity=torch.where(present[..., None], velocity, torch.zeros_like(velocity)),
        speed=speed, flow=flow_t, config=cfg, pan=pan, turn_frame=turn_frame,
    )


def flow_score(flow: torch.Tensor) -> torch.Tensor:
    """Each clip's whole-frame mean flow magnitude ``[B]`` (px/frame) from ground-truth flow ``[B, F-1, 2, H, W]``
    (:attr:`SpriteVideos.flow`): the SVD-protocol motion score (spatial mean of ``|flow|`` per frame pair, then
    the mean over pairs) without an estimator's error. Camera pan counts on every background pixel, so it is
    the kind of statistic SVD's motion bucket is, not the sprites' speed."""
    if not isinstance(flow, torch.Tensor):
        raise checks.InputTypeError(f"flow must be a torch.Tensor [B, F-1, 2, H, W], got {type(flow).__name__}")
    checks.check_not_meta("flow", flow)
    if flow.ndim != 5 or flow.shape[2] != 2 or flow.shape[1] < 1 or flow.numel() == 0:
        raise ValueError(f"flow must be [B, F-1, 2, H, W] with F >= 2 (generate(..., flow=True)), got shape {tuple(flow.shape)}")
    if flow.dtype == torch.bool or flow.is_complex():
        raise checks.InputTypeError(f"flow must hold real displacements in px (float), got dtype {flow.dtype}")
    checks.check_finite("flow", flow, "ground-truth flow is finite: pass SpriteVideos.flow of generate(..., flow=True)")
    return flow.float().norm(dim=2).mean(dim=(1, 2, 3))


# ----------------------------------------------------------------------------------------------
# Tracking
# ----------------------------------------------------------------------------------------------


@dataclass
class Tracks:
    """Sprites found in each frame and linked across frames (numpy, float64).

    - ``centroids``: ``[B, F, K, 2]`` ``(x, y)`` px, NaN where track ``k`` has no sprite in frame ``f``.
    - ``area``: ``[B, F, K]`` pixels above the threshold (0 where absent).
    - ``count``: ``[B, F]`` sprites found in each frame (components of at least ``min_area`` px,
      at most ``K`` kept, the largest first).
    - ``step``: ``[B, F-1, K]`` centroid displacement of each linked track between frames f and f+1.
    """

    centroids: np.ndarray
    area: np.ndarray
    count: np.ndarray
    step: np.ndarray

    @property
    def speed(self) -> np.ndarray:
        """``[B]`` centroid speed px/frame: mean of ``step`` over linked tracks and frame pairs (NaN if none)."""
        return _nanmean(self.step, (1, 2))

    @property
    def displacement(self) -> np.ndarray:
        """``[B]`` net displacement over the clip: mean over tracks seen in the first and last frames of ``|c_last - c_first|``."""
        d = np.linalg.norm(self.centroids[:, -1] - self.centroids[:, 0], axis=-1)  # [B, K]
        return _nanmean(d, (1,))

    @property
    def path_length(self) -> np.ndarray:
        """``[B]`` summed per-frame displacement of the linked tracks, averaged over tracks."""
        ok = np.isfinite(self.step).any(1)  # [B, K] tracks linked at least once
        tot = np.nansum(self.step, axis=1)
        return _nanmean(np.where(ok, tot, np.nan), (1,))

    @property
    def count_stability(self) -> np.ndarray:
        """``[B]`` fraction of frames whose sprite count equals that of frame 0 (the conditional image)."""
        return (self.count == self.count[:, :1]).mean(1)

    @property
    def area_cv(self) -> np.ndarray:
        """``[B]`` coefficient of variation over frames of the total sprite area (0 = perfectly stable)."""
        tot = self.area.sum(-1)
        m = tot.mean(1)
        return np.where(m > 0, tot.std(1) / np.where(m > 0, m, 1), np.nan)


def _nanmean(x: np.ndarray, axis) -> np.ndarray:
    ok = np.isfinite(x)
    n = ok.sum(axis)
    s = np.where(ok, x, 0).sum(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _as_numpy_videos(videos) -> np.ndarray:
    """Float videos ``[B, F, 1, H, W]`` (any range: callers also track background-subtracted frames) as float64 ``[B, F, H, W]``."""
    if isinstance(videos, SpriteVideos):
        videos = videos.videos
    if isinstance(videos, np.ndarray):
        videos = torch.from_numpy(videos)
    if not isinstance(videos, torch.Tensor):
        raise checks.InputTypeError(f"videos must be a tensor, array or SpriteVideos [B, F, 1, H, W], got {type(videos).__name__}")
    checks.check_not_meta("videos", videos)
    if not videos.is_floating_point():
        raise checks.InputTypeError(f"videos have dtype {videos.dtype}; the tracker reads float frames (the data is in [-1, 1]) "
                                    "(uint8 pixels: videos.float() / 127.5 - 1)")
    if videos.ndim != 5 or videos.shape[2] != 1:
        raise ValueError(f"videos must be [B, F, 1, H, W] grayscale (cilnb layout), got shape {tuple(videos.shape)}")
    if videos.shape[1] < 2:
        raise ValueError(f"videos need at least 2 frames to measure motion, got {videos.shape[1]}")
    if any(s == 0 for s in videos.shape):
        raise ValueError(f"videos are empty: shape {tuple(videos.shape)}")
    checks.check_finite("videos", videos, fix="the tracker thresholds pixel values; NaN frames have no sprites to find")
    return videos.detach().to("cpu", torch.float64).numpy()[:, :, 0]


def track_sprites(videos, *, threshold: float = THRESHOLD, min_area: int = 3, max_sprites: int = 4, connectivity: int = 8) -> Tracks:
    """Find the bright sprites in every frame and link them across frames; ``videos`` ``[B, F, 1, H, W]``.

    Pixels above ``threshold`` are labelled with ``scipy.ndimage.label`` over all videos and frames
    at once (the structure connects pixels only within a frame); components smaller than
    ``min_area`` are dropped and the ``max_sprites`` largest kept. Consecutive frames are linked
    by the assignment minimising the summed centroid distance (all permutations, vectorised), and
    tracks are chained from frame 0. Works on generated and sampled videos alike (tensor or array).
    The toy's motion read-out (:class:`cilnb.experiments.ToyReadout`, :class:`cilnb.experiments.SpriteMotion`).
    """
    from scipy import ndimage

    threshold = checks.check_number("threshold", threshold, fix="(the sprite/background cut in data units)")
    min_area = checks.check_int("min_area", min_area, min=1, fix="(pixels)")
    v = _as_numpy_videos(videos)
    B, F, H, W = v.shape
    K = checks.check_int("max_sprites", max_sprites, fix="(in [1, 6])")
    if K < 1 or K > 6:
        raise ValueError(f"max_sprites must lie in [1, 6] (assignment enumerates K! permutations), got {max_sprites}")
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    struct = np.zeros((3, 3, 3, 3), dtype=bool)  # connects pixels within a frame only
    struct[1, 1] = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    labels, n_lab = ndimage.label(v > threshold, structure=struct)

    cent = np.full((B, F, K, 2), np.nan)
    area = np.zeros((B, F, K))
    if n_lab:
        flat = labels.ravel()
        sel = flat > 0
        lab = flat[sel] - 1
        pix = np.flatnonzero(sel)
        bf, rem = np.divmod(pix, H * W)
        yy, xx = np.divmod(rem, W)
        a = np.bincount(lab, minlength=n_lab).astype(np.float64)
        # centroid weighted by the excess over the threshold: sub-pixel accurate on soft edges
        w = v.ravel()[pix] - threshold
        wsum = np.bincount(lab, weights=w, minlength=n_lab)
        cx = np.bincount(lab, weights=w * xx, minlength=n_lab) / wsum
        cy = np.bincount(lab, weights=w * yy, minlength=n_lab) / wsum
        comp_bf = np.zeros(n_lab, dtype=np.int64)
        comp_bf[lab] = bf  # every pixel of a component lies in the same (video, frame)
        keep = a >= min_area
        ids = np.flatnonzero(keep)
        if ids.size:
            # rank components within their frame by area (largest first), keep the top K
            order = np.lexsort((-a[ids], comp_bf[ids]))
            ids = ids[order]
            grp = comp_bf[ids]
            first = np.r_[0, np.flatnonzero(np.diff(grp)) + 1]
            rank = np.arange(ids.size) - np.repeat(first, np.diff(np.r_[first, ids.size]))
            ok = rank < K
            ids, grp, rank = ids[ok], grp[ok], rank[ok]
            b_idx, f_idx = np.divmod(grp, F)
            cent[b_idx, f_idx, rank, 0] = cx[ids]
            cent[b_idx, f_idx, rank, 1] = cy[ids]
            area[b_idx, f_idx, rank] = a[ids]
    count = (area > 0).sum(-1)

    # --- link frames: slot order of frame f+1 permuted to match frame f (chained from frame 0)
    perms = np.array(list(itertools.permutations(range(K))), dtype=np.int64)  # [P, K]
    big = 4.0 * (H + W)  # cost of leaving a sprite unmatched: larger than any distance
    step = np.full((B, F - 1, K), np.nan)
    for f in range(F - 1):
        a0, a1 = cent[:, f], cent[:, f + 1]  # [B, K, 2]
        d = np.linalg.norm(a0[:, :, None] - a1[:, None, :], axis=-1)  # [B, K, K]
        v0, v1 = np.isfinite(a0[..., 0]), np.isfinite(a1[..., 0])
        cost = np.where(v0[:, :, None] & v1[:, None, :], d, np.where(v0[:, :, None] ^ v1[:, None, :], big, 0.0))
        total = cost[:, np.arange(K)[None, :], perms].sum(-1)  # [B, P]
        best = perms[np.argmin(total, axis=1)]  # [B, K]: slot k of frame f <- component best[k] of f+1
        cent[:, f + 1] = np.take_along_axis(a1, best[..., None], axis=1)
        area[:, f + 1] = np.take_along_axis(area[:, f + 1], best, axis=1)
        step[:, f] = np.linalg.norm(cent[:, f + 1] - cent[:, f], axis=-1)
    return Tracks(centroids=cent, area=area, count=count, step=step)


def motion(videos, *, threshold: float = THRESHOLD, min_area: int = 3, max_sprites: int = 4, **labels):
    """Tidy per-video motion summary (pandas DataFrame) from :func:`track_sprites`.

    Columns: ``video``, ``speed`` (centroid px/frame), ``displacement`` (net, first to last frame),
    ``path_length``, ``count0`` (sprites in frame 0), ``count_stability``, ``area0`` (sprite px in
    frame 0), ``area_cv``, plus any ``labels`` given as constant columns (``method="base", M=1.0``)
    or as per-video sequences.
    """
    import pandas as pd

    tr = track_sprites(videos, threshold=threshold, min_area=min_area, max_sprites=max_sprites)
    B = tr.count.shape[0]
    df = pd.DataFrame({
        "video": np.arange(B),
        "speed": tr.speed,
        "displacement": tr.displacement,
        "path_length": tr.path_length,
        "count0": tr.count[:, 0],
        "count_stability": tr.count_stability,
        "area0": tr.area[:, 0].sum(-1),
        "area_cv": tr.area_cv,
    })
    for k, val in labels.items():
        if isinstance(val, torch.Tensor):
            val = val.detach().cpu().numpy()
        try:
            nd = 0 if isinstance(val, (str, bytes)) else np.ndim(val)
        except ValueError:  # a ragged list
            nd = -1
        if isinstance(val, (dict, set, frozenset)) or nd not in (0, 1):
            what = type(val).__name__ if nd in (0, 1) else "ragged values" if nd < 0 else f"{nd}-D values"
            raise ValueError(f"label {k}= must be one constant or one value per video (a list or 1-D array), got {what}")
        if not isinstance(val, (str, bytes)) and np.ndim(val) > 0 and len(val) != B:
            raise ValueError(f"label {k}= has {len(val)} values for {B} videos: give one constant or one value per video")
        df[k] = val
    return df
