"""The one denoiser contract every model reduces to, its shape aliases, and the parameterisation conversions.

Contract (k-diffusion's ``D(x, sigma) -> x0`` on normalised time)::

    model(x_t: Video [B, F, C, H, W], t: Times [B] in [0, 1], **cond) -> x0_hat: Video [B, F, C, H, W]

``cond`` holds the conditioning, a :class:`Cond` (``y``: the conditional image ``Images [B, C, H, W]``;
extras such as ``motion``: ``[B]``; a plain dict with ``"y"`` works too); the model carries its :class:`cilnb.schedules.Schedule` as ``.schedule``.
Samplers (``cilnb.sampling``) and the probe (``cilnb.probe``) only ever see this contract; each
parameterisation (eps, v, x0, flow velocity, EDM preconditioning) is a thin conversion here, and
:func:`to_x0` is the one dispatch from a prediction type to ``x0_hat``. The one adapter base that
implements the contract for every model is :class:`cilnb.models.base.Adapter`;
:class:`Denoiser` (an adapter around a plain network) is re-exported here.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Mapping, Sequence

import numpy as np
import torch

__all__ = [
    "Video",
    "Images",
    "Times",
    "Cond",
    "PREDICTION_TYPES",
    "prediction_from_diffusers",
    "to_x0",
    "x0_from_eps",
    "x0_from_v",
    "x0_from_flow",
    "eps_from_x0",
    "v_from_x0_eps",
    "edm_scalings",
    "Denoiser",
]

_MAX_NUMEL = 2**63 - 1  # the most elements a tensor (int64 sizes) can hold

#: A batch of videos, ``[B, F, C, H, W]`` (frames second; latent models: latent frames and channels).
Video = torch.Tensor
#: A batch of images, ``[B, C, H, W]`` (e.g. the conditional image ``y``).
Images = torch.Tensor
#: Normalised times, ``[B]`` float64 in ``[0, 1]`` (``1 = T``), or one scalar for the whole batch.
Times = torch.Tensor


class Cond(dict):
    """The conditioning a model is called with, ``y`` carried end to end (Sec. 3: the conditional image).

    A ``dict`` that always holds ``"y"`` (the conditional image or image latent, :data:`Images`
    ``[B, C, H, W]``; ``None`` only in an unconditional branch that drops the image) plus
    model-specific extras (text embeddings, ``motion``, ``fps``, ``guidance``...), tensors batch-first.
    Being a dict, ``model(x_t, t, **cond)`` and ``cond["y"]`` work as before, and a plain dict
    with ``"y"`` is accepted wherever a ``Cond`` is: entry points coerce once with :meth:`of`.

    ``Cond(y, **extras)``; ``.y``, ``.extras``, ``.with_y(y)``, ``.replace(**values)``,
    ``.select(index)`` (the rows of every batched tensor), ``.to(device, dtype)``, ``Cond.cat(conds)``.
    """

    def __init__(self, y: Images | None, /, **extras: Any):
        if "y" in extras:
            raise ValueError("Cond(y, **extras) got y twice: pass the conditional image once, as the first argument")
        super().__init__(y=y, **extras)

    @classmethod
    def of(cls, value: "Cond | Mapping[str, Any] | Images") -> "Cond":
        """``value`` as a :class:`Cond`: a ``Cond`` itself (not copied), a mapping holding ``"y"``, or a bare image tensor ``y``."""
        if isinstance(value, Cond):
            return value
        if torch.is_tensor(value):
            return cls(value)
        if isinstance(value, Mapping):
            if "y" not in value:
                raise ValueError(
                    f"the conditioning has no 'y' (keys {sorted(map(str, value))}): it must hold the conditional image "
                    "[B, C, H, W]; build it with model.prepare_condition(images) or cilnb.denoiser.Cond(y, **extras)"
                )
            extras = {k: v for k, v in value.items() if k != "y"}
            return cls(value["y"], **extras)
        from .checks import InputTypeError  # a TypeError that is also a ValueError

        raise InputTypeError(
            f"the conditioning must be a Cond, a dict holding 'y', or an image tensor [B, C, H, W]; got {type(value).__name__}"
        )

    @classmethod
    def cat(cls, conds: "Sequence[Cond | Mapping[str, Any]]") -> "Cond":
        """Conditionings of consecutive rows joined along the batch: tensors concatenated, equal non-tensor values kept once."""
        if isinstance(conds, (Mapping, str, bytes)) or torch.is_tensor(conds) or not isinstance(conds, Sequence):
            from .checks import InputTypeError

            raise InputTypeError(f"Cond.cat takes a list of conditionings (Cond or dicts holding 'y'), got {type(conds).__name__}")
        conds = [cls.of(c) for c in conds]
        if not conds:
            raise ValueError("Cond.cat needs at least one conditioning")
        for i, c in enumerate(conds[1:], 1):
            if set(c) != set(conds[0]):
                raise ValueError(f"Cond.cat: conditioning {i} has the keys {sorted(c)} but conditioning 0 has {sorted(conds[0])}: "
                                 "every conditioning must hold the same entries")
        out = {}
        for k in conds[0]:
            vals = [c[k] for c in conds]
            if torch.is_tensor(vals[0]) or any(torch.is_tensor(v) for v in vals):
                if not all(torch.is_tensor(v) and v.ndim for v in vals):
                    raise ValueError(f"Cond.cat: {k!r} must be a tensor with a batch dim in every conditioning, got "
                                     f"{[tuple(v.shape) if torch.is_tensor(v) else type(v).__name__ for v in vals]}")
                if len({v.device for v in vals}) > 1:  # torch's "Expected all tensors to be on the same device" names no entry
                    raise ValueError(f"Cond.cat: the rows of {k!r} are on different devices ({[str(v.device) for v in vals]}): "
                                     "move every conditioning to one device first, e.g. cond.to('cpu')")
                if len({tuple(v.shape[1:]) for v in vals}) > 1:
                    raise ValueError(f"Cond.cat: the rows of {k!r} differ in shape ({[tuple(v.shape) for v in vals]}): "
                                     "only conditionings of the same model and settings can be joined")
                out[k] = torch.cat(vals, dim=0)
            else:
                if any(not _same_value(v, vals[0]) for v in vals[1:]):
                    raise ValueError(f"the conditionings hold different non-tensor values for {k!r}: give one value per row as a tensor")
                out[k] = vals[0]
        return cls.of(out)

    @property
    def y(self) -> Images | None:
        """The conditional image (latent) ``[B, C, H, W]``."""
        return self["y"]

    @property
    def extras(self) -> dict[str, Any]:
        """Everything but ``y``, as a plain dict."""
        return {k: v for k, v in self.items() if k != "y"}

    @property
    def batch_size(self) -> int | None:
        """``B``, the rows of ``y`` (``None`` without a ``y`` tensor)."""
        y = self["y"]
        return int(y.shape[0]) if torch.is_tensor(y) and y.ndim else None

    def copy(self) -> "Cond":
        return Cond.of(dict(self))

    def equals(self, other: "Cond | Mapping[str, Any]") -> bool:
        """The same keys and values: tensors of equal shape and elements (:func:`torch.equal`), other values ``==``."""
        if not isinstance(other, Mapping) or set(self) != set(other):
            return False
        for k, u in self.items():
            v = other[k]
            if torch.is_tensor(u) or torch.is_tensor(v):
                if not (torch.is_tensor(u) and torch.is_tensor(v) and u.shape == v.shape and torch.equal(u, v)):
                    return False
            elif u is not v and u != v:
                return False
        return True

    def with_y(self, y: Images | None) -> "Cond":
        """A copy with ``y`` replaced (the extras shared, not copied)."""
        return Cond(y, **self.extras)

    def replace(self, **values: Any) -> "Cond":
        """A copy with the given entries set (``y=`` included)."""
        return Cond.of({**self, **values})

    def is_batched(self, value: Any) -> bool:
        """Whether ``value`` has one row per video: a tensor with a leading dim of ``B`` (any tensor with a dim when ``y`` is ``None``)."""
        if not torch.is_tensor(value) or value.ndim == 0:
            return False
        B = self.batch_size
        return B is None or value.shape[0] == B

    def select(self, index: "int | slice | torch.Tensor | Sequence[int]") -> "Cond":
        """The rows ``index`` (an int keeps the batch dim) of every batched tensor (:meth:`is_batched`); other values kept."""
        B = self.batch_size
        if isinstance(index, (bool, np.bool_)):  # operator.index(True) is 1: a flag would select row 1
            from .checks import InputTypeError

            raise InputTypeError(f"index must be an int, a slice, a list of ints or an index tensor (the rows to keep), got {index!r} (bool)")
        if torch.is_tensor(index) and (index.is_floating_point() or index.is_complex()):
            from .checks import InputTypeError

            raise InputTypeError(f"an index tensor must hold integer rows (or be a bool mask), got dtype {index.dtype}: use index.long()")
        if not isinstance(index, (slice, list, tuple)) and not torch.is_tensor(index):
            try:
                i = operator.index(index)  # ints (numpy ints too) keep the batch dim
            except TypeError:
                from .checks import InputTypeError

                raise InputTypeError(f"index must be an int, a slice, a list of ints or an index tensor (the rows to keep), "
                                     f"got {index!r} ({type(index).__name__})") from None
            if B is not None and not -B <= i < B or B is None and i < 0:
                raise ValueError(f"row {i} is out of range for a conditioning of {B} row(s): select 0 .. {B - 1}"
                                 if B is not None else f"row {i}: a negative row needs a y tensor to count from")
            i = i % B if i < 0 else i
            index = slice(i, i + 1)
        elif B is not None and not isinstance(index, slice):
            from .checks import check_not_meta

            _check_rows(check_not_meta("index", index), B)
        if isinstance(index, slice) and index.step is not None and (not isinstance(index.step, (int, np.integer)) or index.step <= 0):
            raise ValueError(f"the slice's step must be a positive int (tensors take no reversed or zero steps), got {index.step!r}: "
                             "select the rows in order, e.g. slice(0, 4, 2), or a list of rows for another order")
        return Cond.of({k: (v[index] if self.is_batched(v) else v) for k, v in self.items()})

    def expand(self, n: int) -> "Cond":
        """A one-row conditioning repeated ``n`` times along the batch (a view: ``Tensor.expand``), other values kept."""
        from .checks import check_int

        n = check_int("n", n, min=1, fix="(the rows to repeat the conditioning to)")
        if self.batch_size not in (None, 1):
            raise ValueError(f"Cond.expand repeats one row, but this conditioning holds {self.batch_size}: select(i) one row first")
        for k, v in self.items():  # a view of more elements than int64 counts failed inside torch ("Overflow when unpacking long")
            if self.is_batched(v) and n * math.prod(v.shape[1:]) > _MAX_NUMEL:
                raise ValueError(f"Cond.expand(n={n}): {k!r} would hold {n} rows of {math.prod(v.shape[1:])} elements, more than a "
                                 "tensor can index (2**63 - 1): pass the number of videos to condition, e.g. n=4")
        return Cond.of({k: (v.expand(n, *v.shape[1:]) if self.is_batched(v) else v) for k, v in self.items()})

    def to(self, device=None, dtype: torch.dtype | None = None) -> "Cond":
        """Every tensor moved to ``device`` (``"auto"``: CUDA when present; ``None``: where it is); floating-point tensors
        also cast to ``dtype`` when given."""
        from ._util import resolve_device

        if device is not None:
            device = resolve_device(device)  # "auto" is cilnb's word, not torch's; "cuda" without CUDA is named here
        if dtype is not None and not isinstance(dtype, torch.dtype):
            from .checks import InputTypeError

            raise InputTypeError(f"dtype must be a torch.dtype such as torch.float32 (or None), got {dtype!r} ({type(dtype).__name__})")
        if dtype is not None and not dtype.is_floating_point:  # float images cast to ints would be truncated
            raise ValueError(f"dtype must be a floating dtype such as torch.float32 or torch.float16 (it casts the floating tensors), got {dtype}")

        def move(v):
            if not torch.is_tensor(v):
                return v
            return v.to(device, dtype) if dtype is not None and v.is_floating_point() else v.to(device)

        return Cond.of({k: move(v) for k, v in self.items()})

    def __repr__(self) -> str:
        def show(v):
            return f"tensor{list(v.shape)} {str(v.dtype).replace('torch.', '')}" if torch.is_tensor(v) else repr(v)

        return "Cond(" + ", ".join(f"{k}={show(v)}" for k, v in self.items()) + ")"


def _same_value(u: Any, v: Any) -> bool:
    """Whether two non-tensor conditioning values are equal (arrays element-wise, as :meth:`Cond.equals` compares tensors)."""
    if u is v:
        return True
    if isinstance(u, np.ndarray) or isinstance(v, np.ndarray):
        return isinstance(u, np.ndarray) and isinstance(v, np.ndarray) and u.shape == v.shape and bool(np.array_equal(u, v))
    try:
        return bool(u == v)
    except (TypeError, ValueError, RuntimeError):  # a value whose == gives no single truth value
        return False


def _check_rows(index, B: int) -> None:
    """Rows ``index`` (a list of ints, an integer or bool tensor) of a ``B``-row conditioning must exist (not deep torch's IndexError)."""
    if torch.is_tensor(index) and index.dtype == torch.bool:
        if index.shape != (B,):
            raise ValueError(f"a boolean row mask must have one entry per row, shape ({B},), got {tuple(index.shape)}")
        return
    rows = index.flatten().tolist() if torch.is_tensor(index) else list(index)
    if rows and all(isinstance(r, (bool, np.bool_)) for r in rows):  # a list of bools: a row mask
        if len(rows) != B:
            raise ValueError(f"a boolean row mask must have one entry per row ({B}), got {len(rows)}")
        return
    if not all(isinstance(r, (int, np.integer)) and not isinstance(r, (bool, np.bool_)) for r in rows):
        from .checks import InputTypeError

        bad = next(r for r in rows if not isinstance(r, (int, np.integer)) or isinstance(r, (bool, np.bool_)))
        raise InputTypeError(f"the rows to select must be ints (or a bool mask of {B} entries), got {bad!r} ({type(bad).__name__}) in the index")
    bad = [int(r) for r in rows if not -B <= r < B]
    if bad:
        raise ValueError(f"rows {bad} are out of range for a conditioning of {B} row(s): select rows 0 .. {B - 1}")


#: The one spelling of prediction types inside cilnb (what the network outputs).
PREDICTION_TYPES = ("eps", "v", "x0", "flow", "edm")
# diffusers' scheduler-config spellings -> cilnb's (mapped once, at the boundary)
_DIFFUSERS_PREDICTIONS = {"epsilon": "eps", "v_prediction": "v", "sample": "x0", "flow_prediction": "flow"}


def prediction_from_diffusers(prediction_type: str) -> str:
    """A diffusers ``prediction_type`` (``epsilon``, ``v_prediction``, ``sample``, ``flow_prediction``) in cilnb's spelling."""
    if not isinstance(prediction_type, str):
        from .checks import InputTypeError

        raise InputTypeError(f"prediction_type must be a string, one of {sorted(_DIFFUSERS_PREDICTIONS)} (the scheduler config's "
                             f"prediction_type), got {prediction_type!r} ({type(prediction_type).__name__})")
    if prediction_type not in _DIFFUSERS_PREDICTIONS:
        raise ValueError(f"unsupported prediction_type {prediction_type!r}; expected one of {sorted(_DIFFUSERS_PREDICTIONS)}")
    return _DIFFUSERS_PREDICTIONS[prediction_type]


def to_x0(prediction: str, x_t: Video, out: Video, alpha, sigma, *, c_skip=None, c_out=None) -> Video:
    """Eq. (4): the network output ``out`` of type ``prediction`` -> ``x0_hat`` (the one dispatch over :data:`PREDICTION_TYPES`).

    ``alpha``/``sigma`` broadcast against ``x_t`` (:meth:`cilnb.schedules.Schedule.broadcast`);
    ``flow`` uses ``sigma = t``; ``edm`` needs Karras' ``c_skip``/``c_out`` (``out`` is ``F`` of
    the preconditioned network, evaluated at ``c_in x_t``).
    """
    if not (torch.is_tensor(x_t) and torch.is_tensor(out)):
        from .checks import InputTypeError

        bad, v = ("x_t", x_t) if not torch.is_tensor(x_t) else ("out", out)
        raise InputTypeError(f"{bad} must be a torch.Tensor (the noisy video and the network output, [B, F, C, H, W]), "
                             f"got {type(v).__name__}" + (f": pass torch.from_numpy({bad})" if isinstance(v, np.ndarray) else ""))
    try:
        return _to_x0(prediction, x_t, out, alpha, sigma, c_skip, c_out)
    except RuntimeError:
        if out.shape != x_t.shape:  # torch's broadcast error names neither tensor
            raise ValueError(f"the network output {tuple(out.shape)} and x_t {tuple(x_t.shape)} must have the same shape: "
                             "the network must predict one value per element of x_t") from None
        raise


def _to_x0(prediction: str, x_t: Video, out: Video, alpha, sigma, c_skip, c_out) -> Video:
    if prediction == "eps":
        return x0_from_eps(x_t, out, alpha, sigma)
    if prediction == "v":
        return x0_from_v(x_t, out, alpha, sigma)
    if prediction == "flow":
        return x0_from_flow(x_t, out, sigma)
    if prediction == "edm":
        if c_skip is None or c_out is None:
            raise ValueError("prediction='edm' needs the preconditioning c_skip and c_out (edm_scalings)")
        return c_skip * x_t + c_out * out
    if prediction == "x0":
        return out
    raise ValueError(f"prediction must be one of {PREDICTION_TYPES}, got {prediction!r}")


def x0_from_eps(x_t, eps, alpha, sigma):
    """Eq. (4): ``(x_t - sigma eps) / alpha``; undefined where ``alpha = 0`` (zero terminal SNR)."""
    if torch.is_tensor(alpha) and bool((alpha == 0).any()) or (not torch.is_tensor(alpha) and alpha == 0):
        raise ValueError("eps-prediction cannot give x0 at alpha_t = 0 (zero terminal SNR): use v- or x0-prediction")
    return (x_t - sigma * eps) / alpha


def x0_from_v(x_t, v, alpha, sigma):
    """``v = alpha eps - sigma x0`` (Salimans & Ho) -> ``x0 = (alpha x_t - sigma v) / (alpha^2 + sigma^2)``."""
    return (alpha * x_t - sigma * v) / (alpha**2 + sigma**2)


def x0_from_flow(x_t, u, t):
    """Flow matching velocity ``u = eps - x0`` with ``x_t = (1 - t) x0 + t eps`` -> ``x0 = x_t - t u``."""
    return x_t - t * u


def eps_from_x0(x_t, x0, alpha, sigma):
    """The noise implied by a clean prediction: ``(x_t - alpha x0) / sigma``."""
    return (x_t - alpha * x0) / sigma


def v_from_x0_eps(x0, eps, alpha, sigma):
    """Training target for v-prediction: ``alpha eps - sigma x0``."""
    return alpha * eps - sigma * x0


def edm_scalings(sigma, sigma_data: float = 0.5):
    """EDM preconditioning (Karras et al. 2022, Table 1): ``c_skip, c_out, c_in, c_noise``.

    ``sigma`` > 0 (a number or tensor; ``c_noise = log(sigma) / 4``), ``sigma_data`` > 0."""
    from .checks import InputTypeError, check_number

    sigma_data = check_number("sigma_data", sigma_data, lo=0, lo_open=True, hi=1e150,  # its square must not overflow a float
                              fix="(the data std of EDM's preconditioning; SVD: 0.5)")
    if sigma is None or isinstance(sigma, (str, bytes, bool, np.bool_)):
        raise InputTypeError(f"sigma must be a number or a tensor of noise levels > 0, got {sigma!r} ({type(sigma).__name__})")
    try:
        sigma = torch.as_tensor(sigma)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputTypeError(f"sigma must be a number or a tensor of noise levels > 0, got {type(sigma).__name__} ({exc})") from None
    if sigma.is_complex() or sigma.dtype == torch.bool:
        raise InputTypeError(f"sigma must hold real noise levels > 0, got dtype {sigma.dtype}")
    if sigma.device.type == "cpu" and sigma.numel() and not bool(((sigma > 0) & torch.isfinite(sigma)).all()):  # free on the CPU (no sync)
        raise ValueError(f"sigma must be finite and > 0 (c_noise = log(sigma) / 4), got min {float(sigma.min()):g}: "
                         "EDM's preconditioning is for the noisy steps; the last step to sigma = 0 needs no network call")
    s2, d2 = sigma**2, sigma_data**2
    c_skip = d2 / (s2 + d2)
    c_out = sigma * sigma_data / (s2 + d2).sqrt()
    c_in = 1 / (s2 + d2).sqrt()
    c_noise = 0.25 * sigma.log()
    return c_skip, c_out, c_in, c_noise


def __getattr__(name: str):
    # the adapter around a plain network lives with the adapter base (which imports this module)
    if name == "Denoiser":
        from .models.base import Denoiser

        return Denoiser
    raise AttributeError(f"module 'cilnb.denoiser' has no attribute {name!r}")
