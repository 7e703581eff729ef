"""Every toy read-out draws its inputs from the data the checkpoint was trained on (issue 11).

A checkpoint trained on panning, slow, turning sprites must be measured on that data: its
conditional images, the reference videos of the Fréchet distance, the probe's ground truth, the
motion-control targets, the Analytic-Init statistics and the live lab's held-out images.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import cilnb.experiments as E
from cilnb import data as D
from cilnb import io, toy_training as TT
from cilnb.models import toy

# far from the defaults in every issue-11 option, so a silent fall-back to SpriteConfig() shows
CFG = D.SpriteConfig(speed=(0.0, 4.0), speed_power=3.0, pan=(0.5, 1.0), turn_prob=0.5)
TINY = toy.ToyConfig(widths=(8, 8), temporal_levels=(1,), temporal_width=8, emb_dim=16)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("toydata")
    tc = TT.TrainConfig(variant="base", pretrain_steps=0, steps=1, model=TINY, data=CFG)
    return toy.save_checkpoint(d / "pan.safetensors", toy.init_net(TINY), {"train_config": tc.to_dict()})


def _frame0(n, seed, cfg=CFG):
    return D.generate(n, seed=seed, config=cfg, flow=False).condition


def test_a_checkpoint_knows_its_training_data(ckpt):
    model = toy.load(str(ckpt), device="cpu")
    assert model.data_config == CFG
    assert E.toy_data(model) == CFG and E.toy_data(str(ckpt)) == CFG and E.toy_data(ckpt) == CFG
    assert E.toy_data(CFG) is CFG
    # built in code: no training config, the default sprites at the model's frames and size
    built = toy.build(TINY, frames=6, size=24)
    assert built.data_config == D.SpriteConfig(frames=6, size=24)
    # the shipped toy's data is its base checkpoint's
    assert E.toy_data() == E.toy_data("base") == toy.load("base", device="cpu").data_config


def test_images_and_their_spec_follow_the_model(ckpt):
    model = toy.load(str(ckpt), device="cpu")
    imgs = E.toy_images(5, 3, model)
    assert torch.equal(imgs.images, _frame0(5, 3)) and imgs.data == CFG
    assert "pan" in imgs.spec  # a run folder of these images is not one of default-data images
    plain = io.load_images("toy:5", toy.build(TINY), data_seed=3)
    assert plain.spec == "toy:5" and torch.equal(plain.images, _frame0(5, 3, D.SpriteConfig()))
    # the sample CLI's path (load_images with the model) and an explicit config agree
    assert torch.equal(io.load_images("toy:5", model, data_seed=3).images, imgs.images)
    assert torch.equal(E.toy_images(5, 3, data=str(ckpt)).images, imgs.images)
    # --size replaces the config's size only
    small = io.load_images("toy:2", model, data_seed=1, size="24x24")
    assert small.images.shape[-1] == 24 and small.data == dataclasses.replace(CFG, size=24)
    # targets keep the data the images came from
    assert E.with_targets(imgs, "motion", [1.0]).data == CFG


def test_sweep_inputs_and_readout_reference_use_the_checkpoint_data(ckpt):
    images, readout = E.sweep_inputs("toy", n_images=4, seed=2, n_reference=16, model_path=str(ckpt))
    assert torch.equal(images.images, _frame0(4, 2)) and readout.data == CFG
    ref = D.generate(16, seed=2 + 10_007, config=CFG, flow=False)
    assert readout.reference_columns["sprite_stability"] == pytest.approx(float(D.track_sprites(ref.videos).count_stability.mean()))
    score = E.flow_motion(ref.videos)  # the paper's motion score of the same reference videos
    assert readout.reference_columns["motion_score"] == pytest.approx(float(score.mean()))
    assert readout.reference_sems["motion_score"] == pytest.approx(float(score.std(ddof=1) / np.sqrt(16)))
    # the shipped toy's by default
    images0, readout0 = E.sweep_inputs("toy", n_images=2, seed=2, n_reference=0)
    assert readout0.data == E.toy_data() and images0.data == E.toy_data()


def test_motion_control_probe_truth_and_shown_image_use_the_checkpoint_data(ckpt):
    model = toy.load(str(ckpt), device="cpu")
    mc = E.motion_control_images("toy", n_images=3, data_seed=4, model_path=str(ckpt))
    sv = D.generate(3, seed=4, config=CFG, flow=False)
    assert torch.equal(mc.images, sv.condition) and mc.cond["motion"] == pytest.approx(sv.speed.tolist())
    bench = E.probe_bench("toy", model, 3, 5, device="cpu")
    assert torch.equal(bench.videos, D.generate(3, seed=5, config=CFG).videos)
    assert bench.truth.pan.abs().sum() > 0  # the camera pans: the config reached the probe
    gen, truth = E.model_videos("toy", str(ckpt), n_videos=2, seed=6, n_steps=2, device="cpu")
    assert torch.equal(truth, D.generate(2, seed=6, config=CFG, flow=False).videos)
    y = E.shown_image("toy", E.toy_images(2, 0, model), 7)
    assert torch.equal(y, _frame0(1, 7)[0])


def test_remedies_reference_and_live_lab_use_the_checkpoint_data(ckpt):
    import cilnb as C
    from cilnb.live import Lab

    model = toy.load(str(ckpt), device="cpu")
    images = E.toy_images(2, 0, model)
    res = C.remedies.compare(model, images, {"none": "none"}, n_steps=2, n_reference=8)
    ref = D.generate(8, seed=10_007, config=CFG, flow=False)
    assert res.data["sprite_stability"] == pytest.approx(float(D.track_sprites(ref.videos).count_stability.mean()))
    own = TT.toy_stats(None, n=4, config=CFG, show_progress=False)
    own.source = f"cilnb.data.generate: 4 toy training videos, seed 1, config {CFG.to_json()}"
    lab = Lab.toy(n_images=3, seed=9, checkpoint=str(ckpt), device="cpu", stats=own)
    assert torch.equal(lab.images, _frame0(3, 9)) and lab.stats is own
    # the shipped statistics describe other data than this checkpoint's: refused, naming the fix
    with pytest.raises(ValueError, match="toy-stats --data-from"):
        Lab.toy(n_images=2, checkpoint=str(ckpt), device="cpu")
    assert Lab.toy(n_images=2, checkpoint=str(ckpt), device="cpu", stats=None).stats is None


def test_toy_stats_describe_the_checkpoint_data(ckpt, tmp_path):
    from cilnb.__main__ import main
    from cilnb.analytic_init import MomentStats

    out = tmp_path / "s.safetensors"
    assert main(["toy-stats", "--n", "6", "--out", str(out), "--data-from", str(ckpt), "--quiet"]) == 0
    ref = TT.toy_stats(None, n=6, config=CFG, show_progress=False)
    got = MomentStats.load(out)
    assert torch.equal(got.mean, ref.mean)
    assert not torch.equal(got.mean, TT.toy_stats(None, n=6, config=D.SpriteConfig(), show_progress=False).mean)


def test_a_missing_or_bad_data_source_is_named(tmp_path, capsys):
    from cilnb.__main__ import main

    with pytest.raises(ValueError, match="not found.*shipped one"):
        E.toy_data(str(tmp_path / "missing.safetensors"))
    with pytest.raises(TypeError, match="SpriteConfig"):
        E.toy_data(3.5)
    with pytest.raises(TypeError, match="SpriteConfig"):
        io.load_images("toy:2", None, data={"pan": (0, 1)})
    rc = main(["toy-stats", "--n", "2", "--out", str(tmp_path / "s.safetensors"), "--data-from", str(tmp_path / "nope")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--data-from" in err[0] and "not found" in err[0]


def test_analytic_init_statistics_must_describe_the_toys_data(ckpt, tmp_path, capsys):
    from cilnb.__main__ import main

    # the shipped statistics fit the shipped toy, not a checkpoint of other data
    stats, path = E.load_stats("toy")
    assert TT.stats_data(stats) == E.toy_data() and path.name == "toy_stats.safetensors"
    with pytest.raises(ValueError, match=r"other toy data.*pan.*toy-stats --data-from"):
        E.load_stats("toy", model_path=str(ckpt))
    assert E.optional_stats("toy", "", "naive")[0] is not None
    with pytest.raises(ValueError, match="other toy data"):
        E.optional_stats("toy", "", str(ckpt))
    own = tmp_path / "own.safetensors"
    assert main(["toy-stats", "--n", "4", "--out", str(own), "--data-from", str(ckpt), "--quiet"]) == 0
    assert TT.stats_data(E.load_stats("toy", str(own), model_path=str(ckpt))[0]) == CFG
    # statistics without a recorded toy config (other tools' files) are not checked
    from cilnb.analytic_init import MomentStats

    E.check_toy_stats(MomentStats.from_moments(torch.zeros(8, 1, 32, 32), avg_var=0.1), "x", str(ckpt))
    # the sample CLI: one line naming the fix, exit 2
    rc = main(["sample", "--model", "toy", "--model-path", str(ckpt), "--images", "toy:2", "--out", str(tmp_path / "o"),
               "--M", "1.0", "--init", "analytic", "--stats", str(E.inputs.toy_stats_path()), "--n-steps", "2", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "toy-stats --data-from" in err[0]


@pytest.fixture(scope="module")
def flow_ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("toyflow")
    tc = TT.TrainConfig(variant="base", pretrain_steps=0, steps=1, model=TINY, data=CFG, motion_label="flow")
    return toy.save_checkpoint(d / "flow.safetensors", toy.init_net(TINY), {"train_config": tc.to_dict()})


def test_a_flow_label_toy_gets_flow_targets_and_is_judged_in_the_motion_score(flow_ckpt, ckpt, tmp_path):
    """A toy trained with --motion-label flow is conditioned on each clip's true whole-frame flow magnitude in Fig. 1,
    and its output is compared with its source in the motion score (same estimator on both sides)."""
    model, speed_model = toy.load(str(flow_ckpt), device="cpu"), toy.load(str(ckpt), device="cpu")
    assert model.motion_label == "flow" and speed_model.motion_label == "speed"
    assert E.toy_motion_label(str(flow_ckpt)) == "flow" and E.toy_motion_label(model) == "flow"
    assert E.toy_motion_label() == E.toy_motion_label("base") == TT.SHIPPED_RECIPE["motion_label"]  # the shipped toy's
    mc = E.motion_control_images("toy", n_images=3, data_seed=4, model_path=str(flow_ckpt))
    sv = D.generate(3, seed=4, config=CFG, flow=True)
    assert torch.equal(mc.images, sv.condition)
    assert mc.cond["motion"] == pytest.approx(D.flow_score(sv.flow).tolist())
    assert mc.cond["motion"] != pytest.approx(sv.speed.tolist())
    readout = E.sweep_inputs("toy", n_images=3, seed=4, n_reference=0, model_path=str(flow_ckpt))[1]
    cfg = [("base", 1.0, "standard")]
    kw = dict(n_steps=2, out_root=tmp_path, batch_size=4, show_progress=False)
    df = E.motion_control({"base": model}, cfg, mc, readout, **kw)
    idx = df.image.to_numpy()
    np.testing.assert_allclose(df.target.to_numpy(), np.asarray(mc.cond["motion"])[idx])
    np.testing.assert_array_equal(df.input_motion.to_numpy(), df.input_score.to_numpy())
    np.testing.assert_array_equal(df.output_motion.to_numpy(), df.output_score.to_numpy())
    np.testing.assert_allclose(df.error.to_numpy(), np.abs(df.output_score - df.input_score).to_numpy())
    np.testing.assert_array_equal(df.input_score.to_numpy(), E.flow_motion(mc.videos.float())[idx])
    assert "input_tracked" not in df and "motion score" in df.attrs["motion_name"]
    import matplotlib.pyplot as plt

    from cilnb.plotting import plot_motion_control
    fig = plot_motion_control(df)  # judged in the score already: no second row repeating it
    assert len(fig.axes) == 1
    plt.close(fig)
    v = E.verdicts.motion_control(df)
    assert "output/input motion" in v.reasons[0] and not any(r.startswith("The paper's motion score") for r in v.reasons)
    # one label per comparison, and the targets in the models' unit
    with pytest.raises(ValueError, match="different motion labels"):
        E.motion_control({"base": model, "other": speed_model}, cfg + [("other", 1.0, "standard")], mc, readout, **kw)
    speed_images = E.motion_control_images("toy", n_images=3, data_seed=4, model_path=str(ckpt))
    assert "input_flow" not in speed_images.columns
    for models, images in (({"base": model}, speed_images), ({"base": speed_model}, mc)):
        with pytest.raises(ValueError, match="other unit"):
            E.motion_control(models, cfg, images, readout, **kw)
    with pytest.raises(ValueError, match="toy's read-out"):
        E.motion_control({"base": model}, cfg, mc, E.motion_readout("svd"), **kw)


def test_toy_images_draw_their_clips_once_with_the_flow_score_when_asked(tmp_path):
    """load_images("toy:N", flow=True) adds each clip's whole-frame flow magnitude from the same draw; the images,
    speeds and spec are those of flow=False. Folder images have no flow ground truth: refused."""
    plain = io.load_images("toy:4", data_seed=3, data=CFG)
    withflow = E.toy_images(4, 3, data=CFG, flow=True)
    sv = D.generate(4, seed=3, config=CFG, flow=True)
    assert torch.equal(withflow.images, plain.images) and withflow.spec == plain.spec
    assert withflow.columns["input_speed"] == plain.columns["input_speed"] and "input_flow" not in plain.columns
    assert withflow.columns["input_flow"] == pytest.approx(D.flow_score(sv.flow).tolist())
    with pytest.raises(ValueError, match="no flow ground truth"):
        io.load_images(str(tmp_path), flow=True)
