"""``cilnb.io``: finding and decoding videos, frame sampling, resize/crop, clip sets, image sets, writing mp4."""
from __future__ import annotations

import numpy as np
import pytest
import torch

iio = pytest.importorskip("imageio.v3")
pytest.importorskip("av")

from cilnb import io as IO

from _media import BAD, GOOD  # the video_dir fixture is conftest's

F, SIZE = 3, 16  # frames per clip, output size


def test_find_videos_lists_files_and_frame_folders(video_dir):
    names = [p.relative_to(video_dir).as_posix() for p in IO.find_videos(video_dir)]
    assert sorted(names) == sorted(GOOD + list(BAD))
    with pytest.raises(ValueError, match="not a folder"):
        IO.find_videos(video_dir / "a.mp4")


def test_read_clip_stride_fps_and_too_short(tmp_path):
    # frame i is a flat grey of level 20 i: the decoded level tells which frame was taken
    fr = np.stack([np.full((16, 16, 3), 20 * i, np.uint8) for i in range(9)])
    iio.imwrite(tmp_path / "ramp.mp4", fr, plugin="pyav", codec="libx264", fps=8)
    lev = lambda c: c.reshape(len(c), -1).mean(1) / 20  # noqa: E731
    np.testing.assert_allclose(lev(IO.read_clip(tmp_path / "ramp.mp4", 3)), [0, 1, 2], atol=0.15)
    np.testing.assert_allclose(lev(IO.read_clip(tmp_path / "ramp.mp4", 3, stride=3)), [0, 3, 6], atol=0.15)
    np.testing.assert_allclose(lev(IO.read_clip(tmp_path / "ramp.mp4", 3, fps=4)), [0, 2, 4], atol=0.15)  # 8 fps -> 4 fps: stride 2
    with pytest.raises(IO.VideoSkip, match="too short: 9 frames, needs 10"):
        IO.read_clip(tmp_path / "ramp.mp4", 4, stride=3)
    # a frame folder: stride over the sorted files, exact (PNG is lossless)
    (tmp_path / "frames").mkdir()
    for i in range(5):
        iio.imwrite(tmp_path / "frames" / f"{i:02d}.png", fr[i])
    np.testing.assert_array_equal(IO.read_clip(tmp_path / "frames", 3, stride=2), fr[[0, 2, 4]])
    with pytest.raises(IO.VideoSkip, match="too short: 5 frames, needs 7"):
        IO.read_clip(tmp_path / "frames", 4, stride=2)


def test_clip_to_tensor_covers_then_centre_crops():
    # 20 x 40 frame: black | grey 128 over columns 8..31 | white
    fr = np.zeros((1, 20, 40, 3), np.uint8)
    fr[:, :, 8:32] = 128
    fr[:, :, 32:] = 255
    x = IO.clip_to_tensor(fr, (10, 10))  # scale 0.5 -> 10 x 20; the centre 10 columns see only grey (filter support 2 px)
    assert x.shape == (1, 3, 10, 10)
    np.testing.assert_allclose(x.numpy(), 128 / 255 * 2 - 1, atol=1e-5)
    wide = IO.clip_to_tensor(fr, (10, 40))  # scale 1 in width: no crop in width, 10 of 20 rows
    assert wide.shape == (1, 3, 10, 40) and float(wide.min()) == -1.0 and float(wide.max()) == 1.0
    rgb = np.zeros((1, 4, 4, 3), np.uint8)
    rgb[..., 1] = 255
    gray = IO.clip_to_tensor(rgb, (4, 4), channels=1)
    np.testing.assert_allclose(gray.numpy(), 0.587 * 2 - 1, atol=1e-6)  # BT.601 luma of pure green
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        IO.clip_to_tensor(rgb, (4, 4), channels=2)


def test_parse_size_safe_name_and_to_rgb():
    assert IO.parse_size("320x512") == (320, 512) and IO.parse_size(32) == (32, 32) and IO.parse_size((4, 6)) == (4, 6)
    for bad in ("320by512", "0x4", (1, 2, 3)):
        with pytest.raises(ValueError, match="HxW"):
            IO.parse_size(bad)
    assert IO.safe_name("a b/c:d.png") == "a_b_c_d.png" and IO.safe_name("..") == "image" and IO.safe_name("_x_.") == "x"
    gray16 = np.array([[0, 65535], [32768, 257]], np.uint16)
    np.testing.assert_array_equal(IO.to_rgb(gray16)[..., 0], [[0, 255], [128, 1]])
    assert IO.to_rgb(gray16).shape == (2, 2, 3) and (IO.to_rgb(gray16)[..., 0] == IO.to_rgb(gray16)[..., 2]).all()
    rgba = np.zeros((2, 2, 4), np.float32)
    rgba[..., 0], rgba[..., 3] = 0.5, 1.0
    np.testing.assert_array_equal(IO.to_rgb(rgba)[0, 0], [128, 0, 0])  # alpha dropped, floats clipped to [0, 1]
    np.testing.assert_array_equal(IO.to_rgb(np.full((1, 1, 1), 2.0))[0, 0], [255, 255, 255])
    with pytest.raises(IO.VideoSkip, match="unexpected frame shape"):
        IO.to_rgb(np.zeros((2, 2, 2, 2)))


def test_clip_set_reads_in_order_and_reports_the_unusable(video_dir, tmp_path):
    clips = IO.ClipSet(video_dir, frames=F, size=SIZE)
    assert clips.names == sorted(GOOD + list(BAD)) and len(clips) == len(GOOD) + len(BAD)
    skipped = {}
    got = list(clips.usable(on_skip=lambda i, exc: skipped.__setitem__(clips.names[i], str(exc))))
    assert [clips.names[i] for i, _ in got] == GOOD
    assert {k: v.split(":")[0].split(" (")[0] for k, v in skipped.items()} == BAD
    for i, clip in got:  # each clip is exactly read_clip + clip_to_tensor of its file
        torch.testing.assert_close(clip, IO.clip_to_tensor(IO.read_clip(clips.paths[i], F), (SIZE, SIZE)), rtol=0, atol=0)
    order = [clips.names.index(n) for n in ("nested/f.mp4", "short.mp4", "a.mp4")]
    assert [clips.names[i] for i, _ in clips.usable(order)] == ["nested/f.mp4", "a.mp4"]
    gray = IO.ClipSet(video_dir, frames=F, size=(8, 12), channels=1)
    assert gray.clip(0).shape == (F, 1, 8, 12)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no videos found"):
        IO.ClipSet(tmp_path / "empty", frames=F, size=SIZE)
    assert len(IO.ClipSet(tmp_path / "empty", frames=F, size=SIZE, allow_empty=True)) == 0


def test_read_clips_first_n_readable_with_warning(video_dir, tmp_path):
    with pytest.warns(UserWarning, match="skipped 1 unreadable or short videos.*corrupt.mp4"):
        x, names = IO.read_clips(video_dir, 4, frames=F, size=SIZE)
    assert names == ["a", "b", "c", "d"] and x.shape == (4, F, 3, SIZE, SIZE)
    torch.testing.assert_close(x[3], IO.clip_to_tensor(IO.read_clip(video_dir / "d.gif", F), (SIZE, SIZE)), rtol=0, atol=0)
    with pytest.raises(ValueError, match="n_videos must be a positive int"):
        IO.read_clips(video_dir, 0, frames=F, size=SIZE)
    with pytest.raises(ValueError, match="videos_dir is empty"):
        IO.read_clips("", 1, frames=F, size=SIZE)
    (tmp_path / "none").mkdir()
    with pytest.raises(ValueError, match="no readable videos"):
        IO.read_clips(tmp_path / "none", 1, frames=F, size=SIZE)


def test_load_images_folder_and_toy(tmp_path):
    from cilnb import data

    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.RandomState(0)
    arrs = {"b img.png": rng.randint(0, 256, (20, 24, 3), np.uint8), "a.jpg": rng.randint(0, 256, (20, 24, 3), np.uint8)}
    for name, a in arrs.items():
        iio.imwrite(d / name, a)
    (d / ".hidden.png").write_bytes(b"no")
    s = IO.load_images(str(d), size="8x8")
    assert s.names == ["a", "b_img"] and s.images.shape == (2, 3, 8, 8) and s.spec == str(d) and len(s) == 2
    torch.testing.assert_close(s.images[1], IO.clip_to_tensor(arrs["b img.png"][None], (8, 8))[0], rtol=0, atol=0)
    iio.imwrite(d / "a.png", arrs["a.jpg"])  # stems collide: names come from the full file names
    assert IO.load_images(str(d), size=8).names == ["a.jpg", "a.png", "b_img.png"]
    toy = IO.load_images("toy:3", size=16, data_seed=5)
    ref = data.generate(3, seed=5, frames=8, size=16, flow=False)
    torch.testing.assert_close(toy.images, ref.condition)
    assert toy.names == ["toy5_00000", "toy5_00001", "toy5_00002"] and toy.columns["input_speed"] == pytest.approx(ref.speed.tolist())
    for spec, msg in (("toy:0", "N >= 1"), ("toy:x", "int N"), (str(tmp_path / "missing"), "not a folder")):
        with pytest.raises(ValueError, match=msg):
            IO.load_images(spec, size=8)
    with pytest.raises(ValueError, match="pass --size"):
        IO.load_images(str(d))


def test_write_mp4_round_trip_pads_odd_sizes(tmp_path):
    fr = np.stack([np.full((15, 17, 3), 40 * i + 20, np.uint8) for i in range(3)])
    IO.write_mp4(tmp_path / "v.mp4", fr, fps=8)
    back = IO.read_clip(tmp_path / "v.mp4", 3)
    assert back.shape == (3, 16, 18, 3)  # one edge row and column added for yuv420p
    np.testing.assert_allclose(back.reshape(3, -1).mean(1), [20, 60, 100], atol=2)
