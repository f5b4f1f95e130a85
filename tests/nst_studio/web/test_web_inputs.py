"""nst_studio.web.inputs: uploads, style slots and blend weights, masks (read once per job)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nst_studio.web import inputs


def test_check_upload_names_the_problem(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not an image")
    assert "content image: not an image file" in inputs.check_upload(bad, "content image")


def test_styles_and_blend_weights():
    styles, blend = inputs.collect_styles(["a", None, "c"], [2, 1, 0.5])
    assert styles == ["a", "c"] and blend == [2.0, 0.5]
    with pytest.raises(ValueError, match="blend weight is 0"):
        inputs.collect_styles(["a", "b"], [0, 0])
    with pytest.raises(ValueError, match="blend weight of style 1 must be a number"):
        inputs.collect_styles(["a"], ["x"])


def test_load_inputs_reads_each_image_once_and_names_a_missing_content(content_path,
                                                                        style_path):
    read = inputs.load_inputs(content_path, [style_path])
    assert isinstance(read.content, Image.Image) and len(read.styles) == 1
    assert inputs.load_inputs(None, [style_path, style_path], need_content=False).content is None
    assert len(inputs.load_inputs(content_path, [style_path, style_path]).styles) == 2
    with pytest.raises(ValueError, match="no content image"):
        inputs.load_inputs(None, [style_path])


def test_painted_mask_is_the_union_of_the_layers():
    bg = Image.new("RGB", (8, 4), "gray")
    layer = Image.new("RGBA", (8, 4), (0, 0, 0, 0))
    assert inputs.painted_mask({"background": bg, "layers": [layer], "composite": bg}) is None
    layer.putpixel((1, 1), (255, 45, 111, 255))
    other = Image.new("RGBA", (8, 4), (0, 0, 0, 0))
    other.putpixel((6, 2), (255, 45, 111, 128))
    mask = np.asarray(inputs.painted_mask({"background": bg, "layers": [layer, other]}))
    assert mask.shape == (4, 8) and mask[1, 1] == 255 and mask[2, 6] == 128
    assert mask.sum() == 255 + 128


def test_masks_for_every_style_or_none(tmp_path):
    assert inputs.collect_masks(["s1", "s2"], [None, None], [None, None]) is None
    assert inputs.collect_masks(["s1", None], [], ["m1"]) == ["m1"]
    with pytest.raises(ValueError, match="style image 2 has no mask"):
        inputs.collect_masks(["s1", "s2"], [], ["m1", None])
    with pytest.raises(ValueError, match="mask 2 is for an empty style slot"):
        inputs.collect_masks(["s1", None], [], ["m1", "m2"])


def test_read_masks_checks_them_against_the_content_once(tmp_path):
    content = Image.new("RGB", (40, 20), "gray")
    half = Image.new("L", (80, 40), 0)
    half.paste(255, (0, 0, 40, 40))
    path = tmp_path / "half.png"
    half.save(path)
    [mask] = inputs.read_masks([str(path)], content)
    assert mask.mode == "L" and mask.size == (40, 20)
    assert np.asarray(mask)[:, :18].min() == 255 and np.asarray(mask)[:, 22:].max() == 0
    assert inputs.read_masks(None, content) is None
    with pytest.raises(ValueError, match="mask: the mask is empty"):
        inputs.read_masks([Image.new("L", (40, 20), 0)], content)
    with pytest.raises(ValueError, match="aspect ratio"):
        inputs.read_masks([Image.new("L", (20, 40), 255)], content)
