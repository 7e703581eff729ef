"""The metrics that moved into cilnb.metrics (issue 10): the toy's Fréchet distance (was cilnb.evaluation)
and the sweeps' ``align_psnr`` (was only in cilnb.sweep, now cilnb.runs)."""
from __future__ import annotations

import pytest
import torch

from cilnb import data
from cilnb.metrics import toy_quality as TQ


def test_frechet_to_reference_is_small_for_same_distribution_and_large_for_broken_videos():
    ref = TQ.video_features(data.generate(256, seed=10).videos)
    same = TQ.frechet_to_reference(data.generate(256, seed=11).videos, ref)
    noisy = data.generate(256, seed=11).videos
    noisy = (noisy + 0.3 * torch.randn(noisy.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    frozen = data.generate(256, seed=11).videos[:, :1].expand(-1, 8, -1, -1, -1).contiguous()
    assert same < TQ.frechet_to_reference(noisy, ref) / 5
    assert same < TQ.frechet_to_reference(frozen, ref) / 2


def test_video_features_reject_bad_input():
    with pytest.raises(ValueError, match="toy layout"):
        TQ.video_features(torch.zeros(2, 8, 3, 8, 8))
    bad = torch.zeros(2, 8, 1, 8, 8)
    bad[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        TQ.video_features(bad)



def test_old_homes_are_the_same_functions():
    from cilnb import evaluation, metrics

    assert evaluation.video_features is metrics.video_features is TQ.video_features
    assert evaluation.frechet_to_reference_ci is metrics.frechet_to_reference_ci


def test_align_psnr_is_psnr_at_data_range_2_but_keeps_the_stored_numbers():
    """align_psnr measures what metrics.psnr(value_range=(-1, 1)) measures, to float32 round-off; it is not
    computed by psnr because psnr's float64, inf for identical frames and range check would change the
    numbers stored in every sweep."""
    from cilnb import metrics, runs

    def stored(videos, images):  # cilnb.sweep.align_psnr before the move, verbatim: what every stored sweep holds
        mse = (videos[:, 0].float().clamp(-1, 1) - images.float().to(videos.device)).pow(2).mean(dim=(1, 2, 3))
        return 10 * (4.0 / mse.clamp(min=1e-12)).log10()

    v = data.generate(8, seed=1).videos
    gen = (v + 0.2 * torch.randn(v.shape, generator=torch.Generator().manual_seed(0))).clamp(-1.2, 1.2)
    y = v[:, 0]
    got = metrics.align_psnr(gen, y)
    assert got.dtype == torch.float32
    assert torch.allclose(got.double(), metrics.psnr(gen[:, 0].clamp(-1, 1), y, value_range=(-1, 1)), atol=1e-4)
    # by hand: 10 log10(range^2 / mse), range 2
    mse = (gen[:, 0].clamp(-1, 1) - y).double().pow(2).mean(dim=(1, 2, 3))
    assert torch.allclose(got.double(), 10 * torch.log10(4.0 / mse), atol=1e-4)
    assert torch.equal(stored(gen, y), got) and torch.equal(runs.align_psnr(gen, y), got)  # bit for bit
    same = metrics.align_psnr(v, y)
    assert torch.isfinite(same).all() and float(same.min()) > 120  # floored, where psnr gives inf
    assert torch.isinf(metrics.psnr(y, y, value_range=(-1, 1))).all()
