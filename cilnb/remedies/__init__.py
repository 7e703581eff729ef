"""Inference-time remedies for the motion deficit of I2V models, on one contract (:mod:`.base`).

=================  ============================================  =====================================
name               what it does                                  where it acts
=================  ============================================  =====================================
``none``           plain sampling                                 --
``analytic_init``  start at M with Analytic-Init (Eq. 5)          initial distribution (needs stats)
``freeinit``       FreeInit's re-noise + low-pass loop            around the sampler (N passes)
``frameinit``      ConsistI2V's low frequencies of the frame      initial sample
``progressive``    PYoCo's mixed / progressive noise              standard-normal draw
``alg``            ALG: low-passed ``y`` at early steps           conditioning at each t (hook)
``cond_noise``     fixed noise level on ``y`` (SVD noise aug)     conditioning (once)
=================  ============================================  =====================================

Use::

    import cilnb.remedies as R
    r = R.build("freeinit", iterations=2)               # or R.from_cli("freeinit", ["iterations=2"])
    r = R.compose(R.build("alg"), R.build("analytic_init", start=0.96))
    videos = cilnb.sampling.sample(model, y, remedy=r, stats=stats)   # or remedy="freeinit"
    r.spec()  # {"name": ..., "settings": {...}}: JSON for stored runs; R.build(spec) rebuilds it

:func:`compare` runs several remedies on the same model, images and seeds and tabulates motion,
quality, alignment and seconds per video (notebooks/remedies.ipynb). Where cilnb differs from each
method's code on purpose is listed in ``docs/remedies.md``.
"""
from __future__ import annotations

import dataclasses
import typing

from ..checks import InputTypeError
from .base import Compose, Context, NoRemedy, Remedy, derive_seed, per_sample_normal
from .conditioning import ALG, CondNoise, alg_switch_time
from .filters import FILTERS, freq_filter, freq_mix, lowpass_image
from .freeinit import FreeInit
from .noise import AnalyticInit, FrameInit, Progressive, pyoco_correlation, pyoco_matrix

__all__ = [
    "REMEDIES", "Remedy", "Context", "Compose", "NoRemedy", "AnalyticInit", "FreeInit", "FrameInit", "Progressive", "ALG",
    "CondNoise", "build", "from_cli", "compose", "resolve", "known", "derive_seed", "per_sample_normal", "freq_filter",
    "freq_mix", "lowpass_image", "FILTERS", "pyoco_correlation", "pyoco_matrix", "alg_switch_time", "compare", "default_grid", "grid", "verdict",
    "plot_tradeoff", "plot_videos", "Comparison", "assess", "paired",
]

#: name -> remedy class (its dataclass fields are its settings)
REMEDIES: dict[str, type] = {
    "none": NoRemedy,
    "analytic_init": AnalyticInit,
    "freeinit": FreeInit,
    "frameinit": FrameInit,
    "progressive": Progressive,
    "alg": ALG,
    "cond_noise": CondNoise,
}


def known() -> dict[str, dict]:
    """Every remedy name with its settings' defaults: ``{"freeinit": {"iterations": 3, ...}, ...}``."""
    return {n: {f.name: f.default for f in dataclasses.fields(c)} for n, c in REMEDIES.items()}


def _cls(name: str) -> type:
    if not isinstance(name, str) or name not in REMEDIES:
        raise ValueError(f"unknown remedy {name!r}; known remedies: {', '.join(REMEDIES)} (combine them with '+', e.g. 'alg+analytic_init')")
    return REMEDIES[name]


def build(name, **settings) -> Remedy:
    """A remedy from its name and settings (``build("freeinit", iterations=2)``), from a :meth:`Remedy.spec`
    dict, or a combination ``"alg+analytic_init"`` (then settings apply to the member that has them;
    ``"alg.until"`` names the member)."""
    if isinstance(name, dict):
        if settings:
            raise ValueError("give either a spec dict or keyword settings, not both")
        if set(name) - {"name", "settings"} or "name" not in name:
            raise ValueError(f"a remedy spec is {{'name': ..., 'settings': {{...}}}}, got keys {sorted(name)}")
        sett = name.get("settings") or {}
        if not isinstance(sett, dict):
            raise InputTypeError(f"a remedy spec's settings must be a dict {{setting: value}}, got {sett!r} ({type(sett).__name__})")
        sett = dict(sett)
        bad = [k for k in sett if not isinstance(k, str)]
        if bad:  # build(name, **sett) failed with Python's bare "keywords must be strings"
            raise InputTypeError(f"a remedy spec's settings must be keyed by setting names (str), got the key {bad[0]!r} "
                                 f"({type(bad[0]).__name__}): e.g. {{'iterations': 2}}")
        if name["name"] == "compose":
            extra = sorted(set(sett) - {"remedies"})
            if extra:
                raise ValueError(f"unknown setting(s) {extra} in a compose spec; its only setting is 'remedies' (a list of remedy specs)")
            members = sett.get("remedies", [])
            if isinstance(members, (str, dict)) or not isinstance(members, (list, tuple)):
                raise InputTypeError(f"a compose spec's settings['remedies'] must be a list of remedy specs, got {members!r}")
            return Compose(tuple(build(s) for s in members))
        return build(name["name"], **sett)
    if isinstance(name, str) and "+" in name:
        return _build_combo(name, settings)
    if name == "compose":
        members = settings.pop("remedies", ())
        if settings:
            raise ValueError(f"unknown setting(s) {sorted(settings)} for remedy 'compose'; its only setting is 'remedies' (a list of remedies)")
        if isinstance(members, (str, dict)) or not isinstance(members, (list, tuple)):
            raise InputTypeError(f"compose's remedies must be a list of remedies (objects, names or specs), got {members!r}: "
                                 f"pass remedies=[{members!r}]")
        return Compose(tuple(resolve(r) for r in members))
    cls = _cls(name)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} for remedy {name!r}; its settings are {sorted(fields) or 'none'}")
    return cls(**settings)


def _check_members(name: str) -> list:
    """The member names of a combination ``"alg+analytic_init"``, refusing an empty one (``"alg+"``, ``"+"``)."""
    names = [n.strip() for n in name.split("+")]
    if not all(names):
        raise ValueError(f"remedy {name!r} has an empty name around '+': write the members joined by '+', e.g. 'alg+analytic_init'")
    return names


def _build_combo(name: str, settings: dict) -> Remedy:
    names = _check_members(name)
    for n in names:
        _cls(n)
    if len(set(names)) != len(names):
        raise ValueError(f"remedy {name!r} names a member twice; use compose() with two built remedies instead")
    per: dict[str, dict] = {n: {} for n in names}
    given: dict[tuple, str] = {}  # (member, setting) -> the key that set it

    def put(member: str, k: str, key: str, v) -> None:
        if (member, k) in given:  # "alg.until" and "until" name the same setting: the later one silently won
            raise ValueError(f"setting {member}.{k} of {name!r} is given twice (as {given[member, k]!r} and {key!r}): give it once")
        given[member, k] = key
        per[member][k] = v

    for key, v in settings.items():
        if "." in key:
            member, k = key.split(".", 1)
            if member not in per:
                raise ValueError(f"setting {key!r} names {member!r}, which is not one of {names}")
            put(member, k, key, v)
            continue
        owners = [n for n in names if key in {f.name for f in dataclasses.fields(REMEDIES[n])}]
        if not owners:
            raise ValueError(f"unknown setting {key!r} for {name!r}; settings: " + "; ".join(f"{n}: {sorted(f.name for f in dataclasses.fields(REMEDIES[n]))}" for n in names))
        if len(owners) > 1:
            raise ValueError(f"setting {key!r} belongs to several of {owners}: write it as '{owners[0]}.{key}'")
        put(owners[0], key, key, v)
    return Compose(tuple(build(n, **per[n]) for n in names))


def compose(*remedies) -> Compose:
    """Several remedies at once (objects, names or specs), applied in order (:class:`Compose`), e.g. ``compose("alg", "analytic_init")``."""
    return Compose(tuple(resolve(r) for r in remedies))


def resolve(remedy) -> Remedy:
    """A remedy object from an object, a name (``"freeinit"``, ``"alg+analytic_init"``), a spec dict or None (no remedy)."""
    if remedy is None:
        return NoRemedy()
    if isinstance(remedy, Remedy):
        return remedy
    if isinstance(remedy, (str, dict)):
        return build(remedy)
    if isinstance(remedy, type) and issubclass(remedy, Remedy):  # the class, not a remedy: say how to make one
        raise InputTypeError(f"remedy must be a Remedy object, got the class {remedy.__name__}: pass {remedy.__name__}() "
                             f"(or settings, {remedy.__name__}(...)), or its name {getattr(remedy, 'name', '')!r}")
    raise ValueError(f"remedy must be a Remedy, a name ({', '.join(REMEDIES)}), a spec dict or None, got {type(remedy).__name__}")


def _parse(value: str, tp, where: str):
    text = value.strip()
    args = typing.get_args(tp)
    optional = type(None) in args or tp is type(None)
    if optional and text.lower() in ("none", "null", ""):
        return None
    base = next((a for a in args if a is not type(None)), tp) if args else tp
    try:
        if base is bool:
            low = text.lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return low in ("true", "1", "yes")
        if base is int:
            return int(text)
        if base is float:
            return float(text)
        return text
    except ValueError:
        raise ValueError(f"{where}: cannot read {value!r} as {getattr(base, '__name__', base)}"
                         f"{' (or none)' if optional else ''}") from None


def from_cli(name: str, args=()) -> Remedy:
    """A remedy from the command line: ``from_cli("freeinit", ["iterations=2", "method=gaussian"])``.

    Each ``k=v`` is read as the setting's type (int, float, str, bool; ``none`` for optional
    settings). For a combination ``"alg+analytic_init"`` a key names its member when ambiguous
    (``alg.until=0.2``). This is what ``--remedy NAME --remedy-arg k=v`` passes through."""
    if isinstance(args, (str, bytes)):
        raise InputTypeError(f"args must be a list of 'key=value' strings, got the string {args!r}: pass [{args!r}]")
    if args is not None and not isinstance(args, (list, tuple)):
        raise InputTypeError(f"args must be a list of 'key=value' strings (e.g. ['iterations=2']), got {args!r} ({type(args).__name__})")
    if not isinstance(name, str):  # str(None) was looked up as the remedy 'None'
        raise InputTypeError(f"name must be a remedy name (str) such as 'freeinit' or 'alg+analytic_init', got {name!r} ({type(name).__name__})")
    names = _check_members(name) if "+" in name else [name.strip()]
    hints = {n: typing.get_type_hints(_cls(n)) for n in names}
    settings = {}
    for a in args or ():
        if not isinstance(a, str):
            raise InputTypeError(f"remedy settings must be 'key=value' strings (e.g. 'iterations=2'), got {a!r} ({type(a).__name__})")
        if "=" not in a:
            raise ValueError(f"remedy setting {a!r} must be written key=value (e.g. iterations=2)")
        key, value = a.split("=", 1)
        key = key.strip()
        if key in settings:
            raise ValueError(f"remedy setting {key!r} is given twice (--remedy-arg {a!r} after {key}=...): give each setting once")
        member, k = key.split(".", 1) if "." in key else (None, key)
        owners = [member] if member else [n for n in names if k in {f.name for f in dataclasses.fields(REMEDIES[n])}]
        if not owners or owners[0] not in hints or k not in {f.name for f in dataclasses.fields(REMEDIES[owners[0]])}:
            valid = "; ".join(f"{n}: {sorted(f.name for f in dataclasses.fields(REMEDIES[n]))}" for n in names)
            raise ValueError(f"unknown setting {key!r} for remedy {name!r}; settings: {valid}")
        store = k if member and len(names) == 1 else key  # "alg.until" on the single remedy "alg" is its setting "until"
        if store in settings:
            raise ValueError(f"remedy setting {key!r} is given twice (--remedy-arg {a!r} after {store}=...): give each setting once")
        settings[store] = _parse(value, hints[owners[0]][k], f"remedy setting {key}")
    return build(name, **settings)


_COMPARISON = ("compare", "default_grid", "grid", "verdict", "Comparison", "assess", "paired")
_PLOTS = ("plot_tradeoff", "plot_videos")  # drawn by cilnb.plotting.remedies; old names kept


def __getattr__(attr):  # the comparison pulls in pandas and the metrics: import it on first use
    if attr in _COMPARISON:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.comparison"), attr)
    if attr in _PLOTS:
        from .. import plotting

        return getattr(plotting, attr)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
