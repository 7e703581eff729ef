"""Odd input to the video helpers, the figure functions, the live lab's widgets and the figure runner: each case here was
mishandled before this file (a traceback from deep inside PIL/matplotlib/ipywidgets, a silently empty or saturated
picture, rows dropped without a word, a file written in a folder named "~")."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from cilnb import figures as FG  # noqa: E402
from cilnb import plotting as P  # noqa: E402
from cilnb.plotting import animation as A  # noqa: E402

T, V = TypeError, ValueError


def _v(*shape, fill=0.0):
    return torch.full(shape or (3, 3, 8, 8), fill)


def _sweep(**kw):
    s = pd.DataFrame({"M": [1.0, 0.6, 1.0, 0.6], "init": ["standard", "standard", "analytic", "analytic"],
                      "motion": [1.0, 1.5, 1.0, 1.4], "motion_sem": 0.1, "gt_motion": 1.4, "fd": [2.0, 5.0, 2.0, 1.5],
                      "fd_lo": 1.0, "fd_hi": 6.0, "first_frame_psnr": 30.0, "first_frame_psnr_sem": 0.5,
                      "motion_name": "speed", "fd_name": "FD"})
    return s.assign(**kw)


def _compare(**kw):
    return pd.DataFrame({"model": ["a", "b"], "M": [1.0, 0.7], "init": ["standard", "analytic"], "motion_ratio": [0.5, 1.0],
                         "first_frame_psnr": [30.0, 31.0], "motion_name": "speed", "fd_name": "FD"}).assign(**kw)


def _remedies(**kw):
    return pd.DataFrame({"remedy": ["none", "freeinit N=3", "freeinit N=5"], "motion": [1.0, 1.2, 1.3], "motion_sem": 0.1,
                         "gt_motion": 1.5, "first_frame_psnr": [30.0, 29, 28], "first_frame_psnr_sem": 0.3,
                         "sec_per_video": [1.0, 2, 3]}).assign(**kw)


def _probe_table(**kw):
    return pd.DataFrame({"model": "m", "t": np.repeat([0.2, 0.6, 1.0], 3), "r": np.arange(9.0), "index": 0.5}).assign(**kw)


def _control(**kw):
    return pd.DataFrame({"model": "base", "M": 1.0, "init": "standard", "input_motion": [1.0, 2.0], "output_motion": [0.5, 1.0]}).assign(**kw)


CASES = [
    # PIL's "can't measure length of multiline text"
    pytest.param(lambda: A.tile_frames([_v(), _v()], ["a\nb", "c"]), V, r"label 0 \('a\\nb'\) has a line break.*pass 'a b'", id="label-newline"),
    pytest.param(lambda: A.gif_bytes(_v(), ["x\r\ny"]), V, r"line break", id="gif-label-crlf"),
    # an unordered set drew the captions in hash order; a dict drew its keys (video_grid: KeyError 0)
    pytest.param(lambda: A.tile_frames([_v(), _v()], {"a", "b"}), T, r"labels must be a list .* got a set", id="labels-set"),
    pytest.param(lambda: P.video_grid(_v(2, 3, 3, 8, 8), labels={"a": 1, "b": 2}), T, r"labels must be a list of captions", id="grid-labels-dict"),
    # OverflowError: cannot convert float infinity to integer
    pytest.param(lambda: A.gif_bytes(_v(), fps=1e-320), V, r"too slow for a GIF", id="gif-subnormal-fps"),
    # Pillow merges identical frames, adding their delays: "OverflowError: int too big to convert" inside it
    pytest.param(lambda: A.gif_bytes(_v(), fps=0.002), V, r"3 identical frames in a row would show for 1500 s.*fps >= 0\.0046",
                 id="gif-still-video-too-slow"),
    # shown as gray/white frames without a word
    pytest.param(lambda: A.tile_frames(torch.ones(3, 3, 8, 8, dtype=torch.bool)), T, r"booleans .*v\.float\(\) \* 2 - 1", id="tile-bool"),
    pytest.param(lambda: P.video_grid([np.ones((3, 1, 8, 8), bool)]), T, r"video 0 holds booleans", id="grid-bool"),
    pytest.param(lambda: A.tile_frames(torch.full((3, 3, 8, 8), 10, dtype=torch.uint8)), V, r"uint8 \(0\.\.255 pixels\).*vmin=0, vmax=255",
                 id="tile-dark-uint8"),
    pytest.param(lambda: P.video_grid(torch.full((2, 3, 1, 8, 8), 10, dtype=torch.uint8)), V, r"uint8 \(0\.\.255 pixels\)", id="grid-dark-uint8"),
    # torch's "Cannot copy out of meta tensor; no data!"
    pytest.param(lambda: A.tile_frames(torch.zeros(2, 1, 8, 8, device="meta")), T, r"'meta' device", id="tile-meta"),
    pytest.param(lambda: P.video_grid([torch.zeros(2, 1, 8, 8, device="meta")]), T, r"video 0 is a tensor on the 'meta' device", id="grid-meta"),
    # std::bad_alloc when drawn or saved
    pytest.param(lambda: P.video_grid(_v(1, 2, 1, 4, 4), cell=1e4), V, r"lower cell", id="grid-huge-cell"),
    # 'yerr' must not contain negative values (matplotlib), or the points dropped
    pytest.param(lambda: P.plot_m_sweep(_sweep(fd=[np.inf, 1, 1, 1])), V, r"summary\['fd'\] holds infinite values", id="m-sweep-inf-fd"),
    pytest.param(lambda: P.plot_m_sweep(_sweep(motion_sem=np.inf)), V, r"summary\['motion_sem'\] holds infinite values", id="m-sweep-inf-sem"),
    # an infinite M was drawn off the axis, a (M, init) cell given twice as a zigzag line; fd without fd_lo an AttributeError
    pytest.param(lambda: P.plot_m_sweep(_sweep(M=[1.0, np.inf, 1.0, 0.6])), V, r"summary\['M'\] holds NaN or infinite", id="m-sweep-inf-M"),
    pytest.param(lambda: P.plot_m_sweep(_sweep(M=[1.0, 1.0, 1.0, 0.6])), V, r"summary has 1 row\(s\) repeating a cell", id="m-sweep-dup-cell"),
    pytest.param(lambda: P.plot_m_sweep(_sweep().drop(columns=["fd_lo"])), V, r"summary lacks the columns \['fd_lo'\]", id="m-sweep-no-fd-lo"),
    pytest.param(lambda: P.plot_tradeoff(_remedies(sec_per_video=[1.0, np.inf, 3])), V, r"summary\['sec_per_video'\] holds infinite",
                 id="tradeoff-inf-seconds"),
    pytest.param(lambda: P.plot_tradeoff(_remedies(motion_sem=np.inf)), V, r"summary\['motion_sem'\] holds infinite", id="tradeoff-inf-sem"),
    pytest.param(lambda: P.plot_tradeoff(_remedies(remedy=["none", "alg", "alg"])), V, r"lists the remedy 'alg' more than once",
                 id="tradeoff-remedy-twice"),
    pytest.param(lambda: P.plot_probe_curves(_probe_table(r=np.r_[np.inf, np.arange(8.0)]), ["r"]), V, r"table\['r'\] holds infinite",
                 id="curves-inf-value"),
    pytest.param(lambda: P.plot_probe_curves(_probe_table(t=np.inf), ["r"]), V, r"table\['t'\] holds infinite", id="curves-inf-t"),
    pytest.param(lambda: P.plot_leakage_index(_probe_table(index=np.inf)), V, r"li\['index'\] holds infinite", id="li-inf-index"),
    pytest.param(lambda: P.plot_tradeoff(_remedies(fd=[np.inf, 2, 3], fd_lo=0.5, fd_hi=4.0)), V, r"infinite", id="tradeoff-inf-fd"),
    pytest.param(lambda: P.plot_compare(_compare(motion_ratio=[np.inf, 1])), V, r"infinite", id="compare-inf-ratio"),
    # a still ground truth has no motion ratio: the hint named a read-out that found nothing
    pytest.param(lambda: P.plot_compare(_compare(motion_ratio=np.nan, gt_motion=0.0)), V,
                 r"motion_ratio'\] holds only NaN.*the ground-truth videos do not move \(gt_motion 0\)", id="compare-still-truth"),
    pytest.param(lambda: P.plot_compare(_compare(motion_ratio=np.nan)), V, r"motion_ratio'\] holds only NaN.*no sprite or flow",
                 id="compare-no-ratio"),
    pytest.param(lambda: P.plot_compare(_compare(motion_ratio=["a", "b"])), V, r"summary\['motion_ratio'\] must hold numbers",
                 id="compare-text-ratio"),
    # rows with a missing key were dropped without a word (all of them: empty panels written)
    pytest.param(lambda: P.plot_m_sweep(_sweep(init=None)), V, r"summary\['init'\] is missing in 4 of 4 rows", id="m-sweep-no-init"),
    pytest.param(lambda: P.plot_probe_curves(_probe_table(model=np.nan), ["r"]), V, r"table\['model'\] is missing", id="curves-no-model"),
    pytest.param(lambda: P.plot_leakage_index(_probe_table(t=np.nan)), V, r"li\['t'\] is missing", id="li-no-t"),
    # gridspec's "Number of columns must be a positive integer, not 0"
    pytest.param(lambda: P.plot_motion_control(_control(M=np.nan)), V, r"df\['M'\] is missing", id="control-no-M"),
    # "can only concatenate str (not "float") to str"; a NaN M was labelled "M=T"
    pytest.param(lambda: P.plot_compare(_compare(init=[np.nan, "x"])), V, r"summary\['init'\] is missing", id="compare-no-init"),
    pytest.param(lambda: P.plot_compare(_compare(M=[np.nan, 0.7])), V, r"summary\['M'\] is missing", id="compare-no-M"),
    # AttributeError: 'DataFrame' object has no attribute 'fd_lo'
    pytest.param(lambda: P.plot_compare(_compare(fd=[1.0, 2.0])), V, r"lacks the columns \['fd_lo', 'fd_hi'\]", id="compare-fd-without-bounds"),
]


@pytest.mark.parametrize("call, exc, pattern", CASES)
def test_odd_input_is_named(call, exc, pattern):
    try:
        with pytest.raises(exc, match=pattern):
            call()
    finally:
        plt.close("all")


def test_good_input_still_draws():
    assert A.tile_frames(torch.full((2, 1, 4, 4), 10, dtype=torch.uint8), vmin=0, vmax=255).shape[0] == 2
    assert A.tile_frames([_v(), _v()], ("a", "b")).shape[0] == 3
    moving = torch.stack([_v(1, 8, 8, fill=-1.0), _v(1, 8, 8, fill=1.0), _v(1, 8, 8, fill=-1.0)])
    assert len(A.gif_bytes(moving, fps=0.002)) > 0 and len(A.gif_bytes(_v(), fps=0.005)) > 0
    for fig in (P.video_grid(_v(2, 3, 1, 4, 4), ["a", "b"]), P.plot_m_sweep(_sweep()), P.plot_compare(_compare()),
                P.plot_compare(_compare(fd=[1.0, 2.0], fd_lo=0.5, fd_hi=3.0)), P.plot_tradeoff(_remedies()),
                P.plot_probe_curves(_probe_table(), ["r"]), P.plot_motion_control(_control())):
        fig.savefig(io.BytesIO(), format="png")
    plt.close("all")


def test_save_gif_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    path = A.save_gif(_v(), "~/slides/a.gif")
    assert path == tmp_path / "home" / "slides" / "a.gif" and path.is_file()
    assert not (tmp_path / "~").exists()  # was written to ./~/slides/a.gif


def test_figure_runner_expands_the_home_folder_of_out(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    seen = []

    def fake(p, profile, fig_dir, executed, progress, dtype=None):
        seen.append(fig_dir)
        return FG.NotebookResult(p.stem, True, 0.0, executed / p.name, verdict="ok")

    monkeypatch.setattr(FG, "_run_reporting", fake)
    FG.run_all(profile="smoke", only=["explore"], out="~/figs", executed_dir=tmp_path / "executed", progress=False, jobs=1)
    assert seen == [tmp_path / "home" / "figs"] and (tmp_path / "home" / "figs" / "VERDICTS.md").is_file()
    assert not (tmp_path / "~").exists()


def test_savefig_refuses_a_name_with_an_image_suffix(tmp_path):
    fig = P.video_grid(_v(1, 2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"got 'grid\.jpg': pass 'grid' and formats=\('jpg',\)"):
        P.savefig(fig, "grid.jpg", tmp_path)  # was written as grid.jpg.png and grid.jpg.pdf
    assert not list(tmp_path.iterdir())
    assert [p.name for p in P.savefig(fig, "probe_t0.9", tmp_path, formats=("png",))] == ["probe_t0.9.png"]  # a dotted stem is fine
    plt.close("all")


def test_sampling_widget_takes_a_numpy_guidance():
    pytest.importorskip("ipywidgets")
    from cilnb.live import Lab

    lab = Lab.toy(n_images=1, n_steps=2, n_seeds=1)
    box = lab.sampling_widget(guidance=np.float64(2.0))  # was ipywidgets' TraitError "Invalid selection: value not found"
    assert box.children[3].children[0].value == 2.0 and lab.calls[-1]["guidance"] == 2.0
