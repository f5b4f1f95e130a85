"""The mask painter: a job reads what was painted, never the picture painted on."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_studio.web import inputs


def _file(path) -> dict:
    return {"path": str(path), "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def test_a_half_written_background_does_not_fail_a_run(tmp_path):
    """The browser re-saves the background after each new content image: a Run pressed while
    that file is still being written must read the painted layer and nothing else."""
    gr = pytest.importorskip("gradio")
    from gradio.components.image_editor import EditorData
    from nst_studio.ui import panel

    with gr.Blocks():
        painter = panel.mask_painter(type="pil", sources=(), transforms=(), layers=False)
    assert type(painter) is gr.ImageEditor  # no component class: gradio writes none a stub
    assert not Path(panel.__file__).with_suffix(".pyi").exists()
    broken = tmp_path / "image.webp"
    broken.write_bytes(b"RIFF\x00\x00")  # a file cut short, as when still being saved
    layer = np.zeros((8, 8, 4), np.uint8)
    layer[2:5, 2:5] = 255
    Image.fromarray(layer, "RGBA").save(tmp_path / "layer.png")
    payload = EditorData(background=_file(broken), layers=[_file(tmp_path / "layer.png")],
                         composite=_file(broken))
    with pytest.raises(Exception, match="cannot identify image file"):
        gr.ImageEditor(type="pil").preprocess(payload)  # what gradio alone does
    value = painter.preprocess(payload)
    mask = inputs.painted_mask(value)
    assert mask is not None and np.asarray(mask)[3, 3] == 255 and np.asarray(mask)[6, 6] == 0
    assert painter.preprocess(None) is None
