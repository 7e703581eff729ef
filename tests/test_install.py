"""The pinned torch/torchvision pair imports and runs on CPU (the pitfall this project pins against)."""
from __future__ import annotations

import torch


def test_torchvision_ops_run_on_cpu():
    import torchvision
    from torchvision.ops import nms

    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [50.0, 50.0, 60.0, 60.0]])
    keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    assert torchvision.__version__


def test_optical_flow_models_import_and_run():
    from torchvision.models.optical_flow import raft_small

    model = raft_small(weights=None, progress=False).eval()
    img = torch.rand(1, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        flows = model(img, img, num_flow_updates=2)
    assert flows[-1].shape == (1, 2, 128, 128)
    assert torch.isfinite(flows[-1]).all()


def test_pinned_versions_match_constraints():
    from pathlib import Path

    import torchvision

    pins = {}
    for line in (Path(__file__).parent.parent / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, ver = line.split("==")
            pins[name.strip()] = ver.strip()
    assert torch.__version__.split("+")[0] == pins["torch"]
    assert torchvision.__version__.split("+")[0] == pins["torchvision"]
