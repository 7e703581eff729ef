"""Verdict lines never print "nan" or "inf", and never divide by zero: a read-out that found nothing reads "not read",
a ratio to zero says it is undefined, and a comparison asked to be paired says when it could not be. Each case printed
"nan"/"inf" or raised ZeroDivisionError before."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cilnb.experiments import verdicts as V

NAN = float("nan")


def _clean(v) -> bool:
    return not re.search(r"\bnan\b|\binf\b|-inf\b", str(v).lower())


def _sweep(**cols):
    s = pd.DataFrame({"M": [1.0, 0.6, 1.0, 0.6], "init": ["standard", "standard", "analytic", "analytic"], "n": 4,
                      "motion": [1.0, 1.5, 1.0, 1.4], "motion_sem": 0.1, "gt_motion": 1.4, "motion_ratio": [0.7, 1.1, 0.7, 1.0],
                      "first_frame_psnr": [30.0, 20.0, 30.0, 29.0], "first_frame_psnr_sem": 0.5, "motion_name": "speed", "fd_name": ""})
    return s.assign(**cols)


_FD = dict(fd=[10.0, 8.0, 10.0, 6.0], fd_lo=[8.0, 6.0, 8.0, 4.0], fd_hi=[12.0, 10.0, 12.0, 7.0])
_NET = dict(net_travel=[2.0, 3.0, 2.0, 2.5], net_travel_sem=0.1, net_travel_data=3.0, net_travel_data_sem=0.1)


@pytest.mark.parametrize("cols", [dict(gt_motion=NAN), dict(motion_ratio=NAN, **_FD), {**_FD, "fd_lo": NAN},
                                  dict(sprite_stability=NAN, sprite_stability_sem=NAN), {**_NET, "net_travel": NAN},
                                  {**_NET, "net_travel_data": NAN}],
                         ids=["ground-truth", "motion-ratio", "fd-interval", "sprite-stability", "net-travel", "data-travel"])
def test_start_time_prints_not_read_for_a_missing_read_out(cols):
    v = V.start_time(_sweep(**cols))
    assert _clean(v), str(v)
    assert "not read" in str(v)


def test_start_time_with_a_net_travel_of_zero_does_not_divide_by_it():
    """A cell whose sprites did not travel (mean 0) raised ZeroDivisionError in its ratio's standard error."""
    v = V.start_time(_sweep(**{**_NET, "net_travel": [2.0, 0.0, 2.0, 2.5]}))
    assert _clean(v) and "M=0.6 standard 0.00 +- 0.10 (ratio 0.00)" in str(v)
    v = V.start_time(_sweep(**{**_NET, "net_travel": 0.0}))  # at M = T too: ratio 0 with its standard error
    assert _clean(v) and "ratio 0.00 +- 0.03, BELOW the data's" in str(v)


def test_start_time_with_real_videos_that_do_not_travel_gives_no_ratio():
    v = V.start_time(_sweep(**{**_NET, "net_travel_data": 0.0}))
    assert _clean(v) and "no ratio (the data's is 0)" in str(v) and "(ratio none)" in str(v)


def test_the_ratio_standard_error_is_the_delta_methods():
    """The rewritten standard error (no division by the sample mean) equals |r| hypot(sa / a, sb / b) where both exist."""
    row = pd.Series({"net_travel": 2.0, "net_travel_sem": 0.3, "net_travel_data": 4.0, "net_travel_data_sem": 0.2})
    r, se = V._data_ratio(row)
    assert r == 0.5 and se == pytest.approx(0.5 * np.hypot(0.3 / 2.0, 0.2 / 4.0), rel=1e-12)


def test_start_time_alignment_only_part_b_without_a_psnr_is_not_judged():
    """Without a quality distance, (b) is alignment alone: a missing frame-0 PSNR judged it 'does NOT beat' (nan vs nan)."""
    v = V.start_time(_sweep(first_frame_psnr=NAN))
    assert _clean(v) and "(b) not judged at M=0.6" in str(v) and v.holds is True  # (a) still decides
    v = V.start_time(_sweep(first_frame_psnr=NAN, **{**_FD, "fd_hi": [12.0, 10.0, 12.0, 5.0]}))  # better on quality alone
    assert _clean(v) and "beats on quality only (alignment not read; not judged)" in str(v)
    assert "frame-0 PSNR not read vs not read (alignment not compared (not read))" in str(v) and v.holds is True


def _tn(**cols):
    return pd.DataFrame([{"model": m, "M": 1.0, "init": "standard", "n": 5, "motion": mo, "motion_sem": 0.05, "gt_motion": 1.0,
                          "motion_name": "speed", "first_frame_psnr": 20.0} for m, mo in (("naive", 1.0), ("timenoise", 1.3))]).assign(**cols)


@pytest.mark.parametrize("cols", [dict(gt_motion=NAN), dict(first_frame_psnr=NAN), dict(sprite_stability=NAN, sprite_stability_sem=NAN),
                                  dict(net_travel=[1.0, NAN], net_travel_sem=0.1, net_travel_data=NAN)],
                         ids=["ground-truth", "psnr", "sprite-stability", "net-travel"])
def test_timenoise_motion_prints_not_read_for_a_missing_read_out(cols):
    v = V.timenoise_motion(_tn(**cols))
    assert v.holds is True and _clean(v) and "not read" in str(v), str(v)


def test_timenoise_motion_says_when_a_requested_pairing_was_impossible():
    """With per_video whose models share one image, the comparison fell back to the unpaired one without saying so."""
    pv = pd.DataFrame([{"model": m, "M": 1.0, "init": "standard", "image": i, "seed": 0, "motion": 1.0 + i}
                       for m, n in (("naive", 1), ("timenoise", 3)) for i in range(n)])
    v = V.timenoise_motion(_tn(), per_video=pv)
    assert "difference (unpaired: fewer than two images with this read-out in both models) +0.30" in str(v)
    assert "unpaired" not in str(V.timenoise_motion(_tn()))  # not asked to pair: plain wording, as before


def _mc(**cols):
    a = pd.DataFrame({"model": "a", "M": 1.0, "init": "standard", "image": [0, 1, 2], "input_motion": [1.0, 2.0, 3.0],
                      "output_motion": [0.5, 1.0, 1.5], "error": [0.5, 1.0, 1.5]})
    b = a.assign(model="b", output_motion=[0.6, 1.1, 1.4], error=[0.4, 0.9, 1.6])
    return pd.concat([a, b], ignore_index=True).assign(**cols)


@pytest.mark.parametrize("cols", [dict(input_motion=0.0), dict(output_travel=1.0, input_travel=0.0),
                                  dict(input_tracked=1.0, input_motion=0.0), dict(output_score=1.0, input_score=0.0)],
                         ids=["targets", "travel", "tracked", "score"])
def test_motion_control_ratios_to_zero_are_undefined_not_inf(cols):
    v = V.motion_control(_mc(**cols))
    assert _clean(v) and "undefined (divides by 0)" in str(v), str(v)


def test_motion_control_read_outs_without_two_images_are_not_read():
    v = V.motion_control(_mc(output_travel=NAN, input_travel=1.0))
    assert _clean(v) and "a not read (0 image(s) with both); b not read (0 image(s) with both)" in str(v)
    v = V.motion_control(_mc(output_score=[1.0, NAN, NAN, NAN, 2.0, 3.0], input_score=0.5))
    assert _clean(v) and "a not read (1 image(s) with both)" in str(v)
