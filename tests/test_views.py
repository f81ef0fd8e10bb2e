import numpy as np
import pytest
import torch
from PIL import Image

from iqabench.errors import IQABenchError
from iqabench.views import Views, crop_boxes, make_views


def _img(w, h):
    arr = np.full((h, w, 3), 200, dtype=np.uint8)
    return Image.fromarray(arr)


def test_arniqa_crops_on_kadid_sized_image():
    views = Views(crops=5, crop_size=224, scales=(1.0, 0.5))
    full, half = make_views(_img(512, 384), views)
    assert full.shape == (5, 3, 224, 224) and half.shape == (5, 3, 224, 224)
    # half scale is 256×192: the centre crop gets 16 zero rows top and bottom, corner crops 32
    centre = half[0, 0]
    assert torch.all(centre[:16] == 0) and torch.all(centre[-16:] == 0) and torch.all(centre[16:-16, 16:-16] > 0)
    top_left, bottom_left = half[1, 0], half[2, 0]
    assert torch.all(top_left[-32:] == 0) and torch.all(top_left[:192] > 0)
    assert torch.all(bottom_left[:32] == 0)
    assert torch.all(full > 0)


def test_crop_order_and_positions():
    boxes = crop_boxes(512, 384, 5, 224)
    assert boxes[0] == (144, 80, 368, 304)  # centre: top-left at (h//2-112, w//2-112)
    assert boxes[1] == (0, 0, 224, 224)
    assert boxes[2] == (0, 160, 224, 384)  # bottom-left
    assert boxes[3] == (288, 0, 512, 224)  # top-right
    assert boxes[4] == (288, 160, 512, 384)


def test_whole_image_views_and_half_size():
    full, half = make_views(_img(101, 75), Views(crops=0, scales=(1.0, 0.5)))
    assert full.shape == (1, 3, 75, 101) and half.shape == (1, 3, 37, 50)


def test_invalid_views():
    with pytest.raises(IQABenchError, match="crops must be"):
        Views(crops=3)
    with pytest.raises(IQABenchError, match="scales"):
        Views(scales=(0.25,))
