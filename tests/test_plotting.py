"""cilnb.plotting is the one place that draws; its old homes still resolve to the same functions."""
from __future__ import annotations

import ast
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import cilnb as C  # noqa: E402
from cilnb import plotting as P  # noqa: E402

PACKAGE = Path(C.__file__).parent


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_plotting_package_imports_a_drawing_library():
    drawing = {"matplotlib", "seaborn", "ipywidgets"}
    offenders = [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py"))
                 if "plotting" not in p.relative_to(PACKAGE).parts and _imports(p) & drawing]
    assert not offenders


def test_old_names_are_the_plotting_functions():
    from cilnb import analytic_init, experiments, flowviz, timenoise, widgets

    assert widgets.sliders is P.sliders and flowviz.plot_flow_fields is P.plot_flow_fields
    assert flowviz.flow_to_rgb is P.flow_to_rgb and flowviz.plot_agreement is P.plot_agreement
    assert timenoise.plot_density is P.plot_timenoise_density and timenoise.plot_mu is P.plot_timenoise_mu
    assert timenoise.plot_samples is P.plot_timenoise_samples
    assert analytic_init.plot_params is P.plot_init_params and analytic_init.plot_kl is P.plot_init_kl
    assert analytic_init.plot_marginals is P.plot_init_marginals
    for name in ("plot_probe_strips", "plot_probe_curves", "plot_leakage_index", "plot_m_sweep", "plot_sweep_videos",
                 "plot_compare", "plot_timenoise_conditioning", "plot_motion_control"):
        assert getattr(experiments, name) is getattr(P, name)
    with pytest.raises(AttributeError):
        timenoise.plot_nothing  # noqa: B018
    assert set(P.__all__) <= set(dir(P))


def test_sliders_do_nothing_headless_and_refuse_bad_specs():
    assert P.sliders(lambda a: None, False, a=(0, 1, 1, 0)) is None
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValueError, match="min, max, step, value"):
        P.sliders(lambda a: None, True, a=(0, 1))


def test_savefig_writes_stable_names_and_refuses_empty_figures(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    paths = P.savefig(fig, "a_figure", tmp_path)
    assert [p.name for p in paths] == ["a_figure.png", "a_figure.pdf"] and all(p.stat().st_size > 0 for p in paths)
    with pytest.raises(ValueError, match="plain stem"):
        P.savefig(fig, "a_figure.png", tmp_path)
    with pytest.raises(ValueError, match="no axes"):
        P.savefig(plt.figure(), "empty", tmp_path)
    plt.close("all")


def test_math_figures_draw_from_the_math_modules():
    fig = P.plot_timenoise_density(5.0, 2.0, (0.5, 1.0), n_t=11, n_beta=12)
    assert len(fig.axes) == 3  # heatmap, its colour bar, slices
    fig = P.plot_timenoise_samples(5.0, 2.0, (0.5, 1.0), n=500)
    assert "KS p" in fig.axes[0].get_title()
    ps = C.timenoise.check_samples((0.5, 1.0), 5.0, 2.0, 500, 0)["ks_p"]
    for ax, p in zip(fig.axes, ps):  # a passing test reads as a pass, with its threshold
        title = ax.get_title()
        assert ("consistent with Eq. (6)" in title and "> 0.001: pass" in title) == (p > 1e-3), title
    assert "pass when p > 0.001" in fig._suptitle.get_text()
    strict = P.plot_timenoise_samples(5.0, 2.0, (0.5,), n=500, p_min=1.0)  # nothing passes p > 1
    assert "differs from Eq. (6)" in strict.axes[0].get_title() and "FAIL" in strict.axes[0].get_title()
    A = C.analytic_init
    table = A.kl_table({"vp": C.schedules.VPSchedule()}, A.synthetic_data("gaussian", 3, 0), np.linspace(0.2, 1, 3), n_mc=64, numeric=False)
    assert len(P.plot_init_params(table).axes) == 2 and len(P.plot_init_kl(table).axes) == 1
    assert len(P.plot_init_marginals(C.schedules.VPSchedule(), A.synthetic_data("gaussian", 3, 0), [0.5]).axes) == 1
    plt.close("all")


def test_video_grid_and_flow_pictures():
    fig = P.video_grid(torch.zeros(2, 3, 1, 8, 8), ["a", "b"], col_labels=["f0", "f1", "f2"])
    assert len(fig.axes) == 6
    with pytest.raises(ValueError, match=r"\[F, C, H, W\]"):
        P.video_grid([torch.zeros(3, 2, 8, 8)])
    flow = torch.zeros(1, 2, 16, 16)
    flow[:, 0] = 1.0  # everything moves right: red, full saturation
    rgb = P.flow_to_rgb(flow)
    assert rgb.shape == (1, 16, 16, 3) and np.allclose(rgb[0, 0, 0], [1.0, 0.0, 0.0])
    fig = P.plot_flow_fields(torch.zeros(1, 1, 16, 16), flow, ["x"])
    assert "spatial mean 1.00 px" in fig.axes[2].get_title()
    plt.close("all")


def test_probe_curves_are_deterministic():
    """The 95% bands are seaborn bootstraps: seeded, the same table draws the same picture."""
    import io

    rng = np.random.default_rng(0)
    import pandas as pd

    table = pd.DataFrame({"model": "m", "t": np.repeat([0.2, 0.6, 1.0], 20), "r": rng.random(60), "index": rng.random(60)})

    def png(fig):
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return buf.getvalue()

    assert png(P.plot_probe_curves(table, ["r"])) == png(P.plot_probe_curves(table, ["r"]))
    assert png(P.plot_leakage_index(table)) == png(P.plot_leakage_index(table))


def test_sliders_return_the_widget_once_and_snap_to_the_options(monkeypatch):
    """Interactive: the widget is returned and never display()ed by sliders itself (a cell shows it once);
    an options slider only offers the given values and re-runs the figure function with each."""
    pytest.importorskip("ipywidgets")
    import IPython.display

    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append(a))
    calls = []

    def fn(t):
        calls.append(t)
        fig, ax = plt.subplots()
        ax.plot([0, 1], [t, t])
        return fig

    w = P.sliders(fn, True, t=([0.05, 0.5, 1.0], 1.0))
    slider = w.children[0]
    assert type(slider).__name__ == "SelectionSlider" and list(slider.options) == [0.05, 0.5, 1.0]
    slider.value = 0.5
    assert calls[-1] == 0.5
    assert not [a for a in shown if a and a[0] is w]  # never displayed by sliders: the cell's value shows it once
    with pytest.raises(ValueError, match="one of its options"):
        P.sliders(fn, True, t=([0.1, 0.2], 0.9))


def test_m_sweep_plot_adds_a_net_travel_panel_with_the_datas_line_when_the_readout_has_one():
    import matplotlib.pyplot as plt

    s = pd.DataFrame({"M": [1.0, 0.6, 1.0, 0.6], "init": ["standard", "standard", "analytic", "analytic"],
                      "motion": [1.0, 1.5, 1.0, 1.4], "motion_sem": 0.1, "gt_motion": 1.4, "fd": [2.0, 5.0, 2.0, 1.5],
                      "fd_lo": 1.0, "fd_hi": 6.0, "first_frame_psnr": 30.0, "first_frame_psnr_sem": 0.5,
                      "motion_name": "speed", "fd_name": "FD"})
    fig = C.plotting.plot_m_sweep(s)
    assert len(fig.axes) == 3
    plt.close(fig)
    fig = C.plotting.plot_m_sweep(s.assign(net_travel=[6.0, 7.0, 6.1, 6.9], net_travel_sem=0.2, net_travel_data=8.0))
    ax = fig.axes[3]
    assert len(fig.axes) == 4 and "net sprite travel" in ax.get_ylabel()
    assert any(list(line.get_ydata()) == [8.0, 8.0] for line in ax.lines)  # the data's level
    assert ax.xaxis_inverted()
    plt.close(fig)


def test_motion_control_plot_adds_the_papers_motion_score_row():
    """Fig. 1's scatter; with the toy's motion scores (output vs its source video) a second row, titled with its own error."""
    import matplotlib.pyplot as plt

    n = 6
    inp = np.linspace(0.5, 3.0, n)
    df = pd.concat([pd.DataFrame({"model": "base", "M": M, "init": init, "image": range(n), "input_motion": inp,
                                  "output_motion": inp * k, "error": np.abs(inp * k - inp)})
                    for M, init, k in ((1.0, "standard", 0.5), (0.7, "analytic", 1.0))])
    fig = P.plot_motion_control(df)
    assert len(fig.axes) == 2 and "error 0.88" in fig.axes[0].get_title()
    plt.close(fig)
    scored = df.assign(input_score=np.tile(inp / 4, 2), output_score=np.r_[inp / 8, inp / 4])
    fig = P.plot_motion_control(scored)
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == P.plot_motion_control(df).axes[0].get_title()
    assert f"error {np.mean(inp / 8):.2f}" in fig.axes[2].get_title() and "error 0.00" in fig.axes[3].get_title()
    assert "source's motion score" in fig.axes[2].get_xlabel()
    plt.close("all")
