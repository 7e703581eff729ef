"""Bad inputs of the remedies' filters and ALG's switch time, and of the synthetic known-motion videos (round 2):
each refused with a clear error naming the argument and the fix; valid inputs next to each edge unchanged."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cilnb import metrics as M
from cilnb import remedies as R
from cilnb.checks import InputTypeError


# -- freq_filter: dtype and size -------------------------------------------------------------------------------------

def test_freq_filter_dtype_string_is_named():
    """Before: ``dtype="float32"`` was passed on to ``Tensor.to`` and failed with torch's "Invalid device string: 'float32'"."""
    # valid float dtypes give the float64 mask cast, as before
    m64 = R.freq_filter(2, 4, 4)
    assert m64.dtype == torch.float64
    assert torch.equal(R.freq_filter(2, 4, 4, dtype=torch.float32), m64.float())
    with pytest.raises(InputTypeError, match=r"dtype must be a floating torch\.dtype.*'float32'"):
        R.freq_filter(2, 4, 4, dtype="float32")


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.bool])
def test_freq_filter_integer_dtype_is_refused(dtype):
    """Before: an integer (or bool) dtype truncated the mask's weights in (0, 1) to 0 without a word: the returned mask kept
    only the zero frequency (``sum() == 1``), a silently wrong FreeInit filter."""
    with pytest.raises(InputTypeError, match=r"dtype must be a floating torch\.dtype"):
        R.freq_filter(2, 4, 4, dtype=dtype)


def test_freq_filter_too_large_for_memory():
    """Before: ``freq_filter(10**6, 10**4, 10**4)`` failed in torch's allocator ("DefaultCPUAllocator: can't allocate memory:
    you tried to allocate 80000000000 bytes")."""
    with pytest.raises(ValueError, match=r"freq_filter\(1000000, 10000, 10000\) needs more than .* GiB.*frames, height and width"):
        R.freq_filter(10**6, 10**4, 10**4)


# -- alg_switch_time: the time grid ----------------------------------------------------------------------------------

@pytest.mark.parametrize("ts", [[1.0, float("nan"), 0.0], torch.tensor([float("nan"), 0.5, 0.0]), np.array([1.0, np.inf, 0.0])])
def test_alg_switch_time_non_finite_grid(ts):
    """Before: a grid holding NaN (or inf) returned a NaN (or inf) switch time without a word; with NaN ALG never
    low-passed (every ``t >= nan`` is false)."""
    with pytest.raises(ValueError, match=r"ts contains 1 non-finite value.*time grid"):
        R.alg_switch_time(ts, 0.5)


def test_alg_switch_time_grid_of_strings():
    """Before: ``ts=["a", "b"]`` failed in ``float()`` with the bare "could not convert string to float: 'a'", naming no argument."""
    # lists, arrays and tensors of numbers give the same switch time as before
    ts = torch.linspace(1, 0, 5, dtype=torch.float64)
    want = float(ts[2])
    assert R.alg_switch_time(ts, 0.5) == want
    assert R.alg_switch_time(ts.tolist(), 0.5) == want
    assert R.alg_switch_time(ts.numpy(), 0.5) == want
    with pytest.raises(InputTypeError, match=r"ts must be the sampler's 1-D time grid of numbers"):
        R.alg_switch_time(["a", "b"], 0.5)


def test_alg_switch_time_meta_grid():
    """Before: a meta-device grid failed in ``float()`` with torch's bare "Tensor.item() cannot be called on meta tensors"."""
    with pytest.raises(InputTypeError, match=r"ts is a tensor on the 'meta' device"):
        R.alg_switch_time(torch.linspace(1, 0, 5, device="meta"), 0.5)


# -- synthetic videos: sizes beyond memory ---------------------------------------------------------------------------

def test_synthetic_translation_size_too_large():
    """Before: ``size=(10**6, 10**6)`` failed in numpy with a bare MemoryError ("Unable to allocate 7.28 TiB ...")."""
    # small videos and textures are built as before (numpy ints accepted)
    v, f = M.synthetic_translation_video(np.int64(3), (np.int64(8), 8), (0.0, 1.0), seed=np.int64(0))
    assert v.shape == (3, 3, 8, 8) and f.shape == (2, 2, 8, 8)
    assert M.texture(np.zeros(2), np.zeros(2), n_waves=np.int64(4)).shape == (3, 2)
    with pytest.raises(ValueError, match=r"synthetic video of 2 frames of 1000000x1000000 pixels needs more than .*smaller size"):
        M.synthetic_translation_video(2, (10**6, 10**6))


def test_synthetic_rotation_too_many_frames():
    """Before: ``n_frames=10**9`` evaluated the texture frame by frame for hours (then ran out of memory) without a word."""
    with pytest.raises(ValueError, match=r"synthetic video of 1000000000 frames .*fewer frames"):
        M.synthetic_rotation_video(10**9, (8, 8))


def test_synthetic_motion_set_too_many_frames():
    """Before: ``synthetic_motion_set(n_frames=10**9)`` ran for hours per video before running out of memory."""
    with pytest.raises(ValueError, match=r"synthetic video of 1000000000 frames .*fewer frames"):
        M.synthetic_motion_set(speeds=(1.0,), rotation_deg=None, n_frames=10**9, size=(8, 8))


def test_texture_too_many_waves():
    """Before: ``n_waves=10**12`` failed in numpy with a bare MemoryError ("Unable to allocate 7.28 TiB ...")."""
    with pytest.raises(ValueError, match=r"texture\(n_waves=1000000000000\) needs more than .*n_waves=32"):
        M.texture(np.zeros(2), np.zeros(2), n_waves=10**12)
