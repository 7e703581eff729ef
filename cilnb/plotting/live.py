"""The live lab's widgets: controls that re-run a :class:`cilnb.live.Lab` computation on every change and
replace a playing animation. Both return the widget and never display it, so a cell shows it once.
Shown in notebooks/explore.ipynb (through ``Lab.sampling_widget`` / ``Lab.probe_widget``)."""
from __future__ import annotations

import math

import torch

__all__ = ["sampling_widget", "probe_widget", "guidance_options", "WIDGET_REMEDIES"]

# remedies offered by the sampling widget, at their authors' defaults (Analytic-Init is the ``init`` toggle)
WIDGET_REMEDIES = ("none", "freeinit", "frameinit", "progressive", "alg", "cond_noise")


def _guidance_name(g) -> str:
    if g is None:
        return "off"
    if isinstance(g, (tuple, list)) and len(g) == 2:
        return f"{g[0]:g} → {g[1]:g} frame-wise"
    shape = tuple(getattr(g, "shape", ()))  # a tensor or array of [B] or [B, F] weights (guidance_weights): float() failed on them
    if shape and math.prod(shape) != 1:
        return f"weights of shape {list(shape)}"
    try:
        return f"{float(g):g}"
    except (TypeError, ValueError):  # a model's own kind of guidance setting: shown as it is, the widget passes "default"
        return str(g)


def guidance_options(model) -> list[tuple[str, object]]:
    """(label, value) pairs of the sampling widget's guidance control: the model's default first
    (``"default"``), then off (``1.0``), SVD's frame-wise ``(1, 3)`` and constant scales."""
    opts = [(f"model default ({_guidance_name(getattr(model, 'guidance', None))})", "default"), ("off", 1.0),
            ("1 → 3 frame-wise", (1.0, 3.0))]
    return opts + [(f"{g:g}", g) for g in (1.5, 2.0, 2.5, 3.0, 5.0)]


_SEED_MAX = 2**31 - 1  # the seed box's bounds (ipywidgets would clamp anything outside silently)


def _check_lab(lab) -> None:
    from ..checks import InputTypeError
    from ..live import Lab

    if not isinstance(lab, Lab):
        raise InputTypeError(f"lab must be a cilnb.live.Lab (Lab.toy(), or Lab(model, images, truth)), got {type(lab).__name__}")


def _check_control(name: str, value, lo: float, hi: float, what: str) -> float:
    """A slider's start value, refused (not clamped, as ipywidgets would) outside the slider's ``[lo, hi]``."""
    from ..checks import check_number

    v = check_number(name, value, fix=f"({what})")
    if not lo <= v <= hi:
        raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}] (the slider's range; {what}), got {v:g}")
    return v


def _check_seed(seed) -> int:
    from ..checks import check_int

    seed = check_int("seed", seed, min=0, fix=f"(the seed box takes 0 .. {_SEED_MAX})")
    if seed > _SEED_MAX:
        raise ValueError(f"seed must be at most {_SEED_MAX} (the seed box's range), got {seed}")
    return seed


def _keep_finite(slider) -> None:
    """A NaN or infinite value set on ``slider`` from code (ipywidgets clamps inf to the range but keeps NaN) is put back to
    the one before, so the lab never runs with it and later updates still work. Register before the update observer."""
    def back(change):
        if not math.isfinite(change["new"]):
            slider.value = change["old"] if math.isfinite(change["old"]) else slider.min

    slider.observe(back, names="value")


def _not_finite(change) -> bool:
    """Whether an observer's ``change`` is a slider moved to NaN or :func:`_keep_finite` putting it back (the value
    before is shown already: nothing to re-run)."""
    return isinstance(change, dict) and any(isinstance(change.get(k), float) and not math.isfinite(change[k]) for k in ("new", "old"))


def _same(value, o) -> bool:
    try:
        return not isinstance(value, bool) and bool(value == o)
    except (TypeError, ValueError, RuntimeError):
        return False


def _check_choice(name: str, value, options: list, fix: str = "") -> None:
    """``value`` must be one of a control's ``options`` (ipywidgets' own error would not name the control)."""
    if not any(_same(value, o) for o in options):
        raise ValueError(f"{name} must be one of {options}{fix}, got {value!r}")


class _ImageChoice:
    """A widget's image dropdown and, when the lab draws new images (:meth:`cilnb.live.Lab.draw_image`), a button that
    draws one and selects it. The dropdown lists every image of the lab, those added later too (:meth:`Lab.add_images`,
    from any widget); ``muted`` is true while it is refreshed, when its value moves without a user's choice."""

    def __init__(self, lab, noun: str):
        import ipywidgets as W

        self.lab, self.muted = lab, False
        self.dropdown = W.Dropdown(options=list(range(lab.n_images)), value=0, description=noun)
        self.button = None
        if lab.draw is not None:
            self.button = W.Button(description=f"new {noun}", tooltip=f"draw a fresh {noun} and show it", icon="plus")
            self.button.on_click(self._new)
        lab._follow(self._refresh)

    def widgets(self) -> list:
        return [self.dropdown] + ([self.button] if self.button is not None else [])

    def _refresh(self) -> None:
        value, self.muted = self.dropdown.value, True
        try:  # a new options list moves the value; put it back
            self.dropdown.options = list(range(self.lab.n_images))
            self.dropdown.value = value
        finally:
            self.muted = False

    def _new(self, _button=None) -> None:
        self.dropdown.value = self.lab.draw_image()  # the lab refreshes the options first (_refresh), then this runs the model


def sampling_widget(lab, *, M: float = 1.0, init: str = "standard", seed: int = 0, guidance="default",
                    remedy: str = "none", fps: float = 6.0):
    """Controls (image, M, init, guidance, remedy, seed) that re-sample on every change, above the playing videos; with a
    lab that draws images (:meth:`cilnb.live.Lab.draw_image`, the toy's does), a "new image" button samples a fresh one.

    ``guidance`` is one of :func:`guidance_options`' values: ``"default"`` (the model's own, for the
    shipped toy SVD's frame-wise 1 → 3), ``1.0`` (off), ``(1.0, 3.0)`` or a constant scale; ``remedy``
    one of :data:`WIDGET_REMEDIES` at its authors' default settings (FreeInit costs its iterations in time).

    Returns the ``ipywidgets.VBox`` (not displayed). ``.children[-2]`` is the animation
    (``HTML``), ``.children[-1]`` the read-out line.
    """
    import ipywidgets as W

    from .animation import check_fps, gif_duration, play

    _check_lab(lab)
    M = _check_control("M", M, 0.05, 1.0, "the normalised start time")
    inits = ["standard", "analytic"] if lab.stats is not None else ["standard"]
    _check_choice("init", init, inits, "" if lab.stats is not None else " (build the lab with stats= for 'analytic')")
    _check_choice("guidance", guidance, [v for _, v in guidance_options(lab.model)], " (guidance_options(model))")
    guidance = next(v for _, v in guidance_options(lab.model) if _same(guidance, v))  # the option itself: ipywidgets compares
    # a numpy float (np.float64(2.0)) with the (1.0, 3.0) option element-wise and fails with "Invalid selection"
    _check_choice("remedy", remedy, list(WIDGET_REMEDIES))
    seed = _check_seed(seed)
    fps = check_fps(fps)
    gif_duration(fps)  # an fps too slow for a GIF is refused now, not by play() after the first sample
    images = _ImageChoice(lab, "image")
    c = {
        "i": images.dropdown,
        "M": W.FloatSlider(min=0.05, max=1.0, step=0.01, value=float(M), description="M", continuous_update=False,
                           readout_format=".2f"),
        "init": W.ToggleButtons(options=inits, value=init, description="init"),
        "guidance": W.Dropdown(options=guidance_options(lab.model), value=guidance, description="guidance"),
        "remedy": W.Dropdown(options=list(WIDGET_REMEDIES), value=remedy, description="remedy"),
        "seed": W.BoundedIntText(min=0, max=2**31 - 1, value=int(seed), description="seed"),
    }
    view, line = W.HTML(), W.Label()

    def update(change=None):
        if images.muted or _not_finite(change):
            return
        g = c["guidance"].value
        res = lab.sample(c["i"].value, M=c["M"].value, init=c["init"].value, seed=c["seed"].value,
                          guidance=None if g == "default" else g, remedy=c["remedy"].value)
        labels = ["ground truth"] + [f"seed {c['seed'].value + s}" for s in range(lab.n_seeds)]
        view.value = play(torch.cat([res.truth[None], res.videos]), labels, fps=fps,
                          title=f"M = {c['M'].value:.2f}, {c['init'].value} init").data
        line.value = res.summary()

    _keep_finite(c["M"])
    for w in c.values():
        w.observe(update, names="value")
    update()
    return W.VBox([W.HBox([c["i"], c["seed"], *images.widgets()[1:]]), c["M"], c["init"], W.HBox([c["guidance"], c["remedy"]]),
                   view, line])

def probe_widget(lab, *, t: float = 0.9, seed: int = 0, fps: float = 6.0):
    """Controls (video, continuous t, seed) that re-run the one-step prediction, shown playing beside X_t and the truth;
    with a lab that draws images, a "new video" button probes a fresh one."""
    import ipywidgets as W

    from .animation import check_fps, gif_duration, play

    _check_lab(lab)
    t = _check_control("t", t, 0.01, 1.0, "the normalised time; 1 = T")
    seed = _check_seed(seed)
    fps = check_fps(fps)
    gif_duration(fps)  # an fps too slow for a GIF is refused now, not by play() after the first probe
    videos = _ImageChoice(lab, "video")
    c = {
        "i": videos.dropdown,
        "t": W.FloatSlider(min=0.01, max=1.0, step=0.01, value=float(t), description="t", continuous_update=False,
                           readout_format=".2f"),
        "seed": W.BoundedIntText(min=0, max=2**31 - 1, value=int(seed), description="seed"),
    }
    view, line = W.HTML(), W.Label()

    def update(change=None):
        if videos.muted or _not_finite(change):
            return
        res = lab.probe(c["i"].value, t=c["t"].value, seed=c["seed"].value)
        view.value = play([res.x_t.clamp(-1, 1), res.x0_hat, res.truth], ["X_t", "X̂ (t→0)", "ground truth"], fps=fps,
                          title=f"t = {res.t:.2f}").data
        line.value = res.summary()

    _keep_finite(c["t"])
    for w in c.values():
        w.observe(update, names="value")
    update()
    return W.VBox([W.HBox([c["i"], c["seed"], *videos.widgets()[1:]]), c["t"], view, line])
