"""Videos that play: GIF/MP4 exporters and the inline player, checked by decoding what they wrote."""
import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from cilnb.plotting import animation as A


def _moving_square(F=5, size=16, C=3):
    v = -torch.ones(F, C, size, size)
    for f in range(F):
        v[f, :, 4:8, 2 + 2 * f: 6 + 2 * f] = 1.0
    return v


def _decode_gif(data: bytes) -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    frames = []
    for i in range(im.n_frames):
        im.seek(i)
        frames.append(np.asarray(im.convert("RGB")))
    return np.stack(frames)


def test_gif_round_trip_is_exact_and_loops():
    v = torch.stack([_moving_square(), _moving_square().flip(-1)])
    tiles = A.tile_frames(v, scale=2)
    assert tiles.shape == (5, 2 + 32 + 2, 2 + 2 * (32 + 2), 3) and tiles.dtype == np.uint8
    data = A.gif_bytes(v, fps=5, scale=2)
    assert np.array_equal(_decode_gif(data), tiles)  # two colours: the palette is lossless
    im = Image.open(io.BytesIO(data))
    assert im.info["loop"] == 0 and im.info["duration"] == 200
    # the square moves 2 px per frame, i.e. 4 tile pixels at scale 2: frame 1 is frame 0 shifted
    first = tiles[0, 2:34, 2:34, 0] < 128
    second = tiles[1, 2:34, 2:34, 0] < 128
    assert np.array_equal(np.roll(first, 4, axis=1)[:, 8:], second[:, 8:])


def test_shorter_video_holds_its_last_frame_and_gray_is_expanded():
    a, b = _moving_square(F=5, C=1), _moving_square(F=3, C=1)
    tiles = A.tile_frames([a, b], scale=1, pad=0)
    assert tiles.shape == (5, 16, 32, 3)
    assert np.array_equal(tiles[3, :, 16:], tiles[2, :, 16:]) and np.array_equal(tiles[4, :, 16:], tiles[2, :, 16:])
    assert np.array_equal(tiles[..., 0], tiles[..., 2])


def test_labels_draw_into_a_band_above_the_tiles_only():
    v = _moving_square()[None].repeat(2, 1, 1, 1, 1)
    plain = A.tile_frames(v, scale=6)
    labelled = A.tile_frames(v, ["base", "fix"], scale=6)
    band = A._LABEL_H
    assert labelled.shape[1] == plain.shape[1] + band
    assert (labelled[:, 2:2 + band] < 128).any()  # text is drawn
    assert np.array_equal(labelled[:, 2 + band:], plain[:, 2:])  # tiles untouched


def test_mp4_has_every_frame(tmp_path):
    av = pytest.importorskip("av")
    v = _moving_square(F=6, size=15)  # odd size is padded to even for yuv420p
    path = A.save_mp4(v, tmp_path / "clip.mp4", fps=8)
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape[0] % 2 == 0
    tiles = A.tile_frames(v)
    err = np.abs(frames[0][: tiles.shape[1], : tiles.shape[2]].astype(float) - tiles[0]).mean()
    assert err < 12  # lossy codec, same picture
    assert not list(tmp_path.glob("*.tmp"))


def test_play_returns_self_contained_html_once(tmp_path):
    html = A.play(_moving_square(), title="x<y")
    body = html.data
    assert "data:image/gif;base64," in body and "x&lt;y" in body
    data = base64.b64decode(body.split("base64,")[1].split("'")[0])
    assert _decode_gif(data).shape[0] == 5
    A.save_gif(_moving_square(), tmp_path / "a.gif")
    assert (tmp_path / "a.gif").read_bytes() == A.gif_bytes(_moving_square())


@pytest.mark.parametrize("call, match", [
    (lambda: A.tile_frames(torch.zeros(2, 2, 3)), r"\[F, C, H, W\]"),
    (lambda: A.tile_frames(torch.zeros(3, 4, 8, 8)), r"C in \(1, 3\)"),
    (lambda: A.tile_frames(torch.full((3, 3, 8, 8), float("nan"))), "NaN"),
    (lambda: A.tile_frames([]), "non-empty"),
    (lambda: A.tile_frames(torch.zeros(2, 3, 3, 8, 8), ["one"]), "2 videos"),
    (lambda: A.tile_frames(torch.zeros(3, 3, 8, 8), vmin=1, vmax=1), "vmax"),
    (lambda: A.tile_frames(torch.zeros(3, 3, 8, 8), ncols=0), "ncols"),
    (lambda: A.gif_bytes(torch.zeros(3, 3, 8, 8), fps=0), "fps"),
    (lambda: A.save_gif(torch.zeros(3, 3, 8, 8), "x.mp4"), "save_mp4"),
    (lambda: A.save_mp4(torch.zeros(3, 3, 8, 8), "x.gif"), "save_gif"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
