"""The page's controls for a new setting: drawn, read back and run."""
from __future__ import annotations


import pytest


from conftest import FORM_LIMITS as LIMITS, FormExtended as Extended


def test_the_pages_controls_for_a_new_setting(content_path, style_path):
    """The page builds its form for the settings class it is given: the new field is a slider
    with its label, help and range, and the page's values for it reach the Settings."""
    gr = pytest.importorskip("gradio")
    from nst_studio.ui import panel as panel_module

    with gr.Blocks():
        panel = panel_module.build(LIMITS, cls=Extended)
    slider = panel.form["sharpness"]
    assert isinstance(slider, gr.Slider)
    assert (slider.label, slider.info, slider.minimum, slider.maximum, slider.value) == (
        "Sharpness", "how crisp the strokes are", 0.0, 2.0, 0.5)
    data = {component: component.value for component in panel.event_inputs()}
    data.update({panel.content: str(content_path), panel.styles[0]: str(style_path),
                 panel.base: None, slider: 1.25})
    read, settings = panel.read(data)
    assert isinstance(settings, Extended) and settings.sharpness == 1.25
    assert read.content is not None and len(read.styles) == 1 and read.masks is None
