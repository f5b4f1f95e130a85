"""The page's left column, shared by every tab: content and style images with blend weights,
the masks that place each style, the examples, and the settings form; its own events (presets,
loading settings from a file, the mask painters' background)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from nst_core.settings import Settings
from nst_studio.web import forms, inputs
from nst_studio.web import settings_io
from nst_studio.web.limits import Limits

from . import controls
from .examples import example_pairs
from .common import upload_image, user_error

IMAGE_HEIGHT = 200  # px: both images and the main choices fit the first screen
MASKS_HELP = ("Paint on the content where a style should go, or upload a mask (white = that "
              "style). With masks, give every style one; areas no mask covers get no style. "
              "*Run* and *Explore* use them; *Compare* does not.")


@dataclass
class Panel:
    """The left column's components, and how an event's values become a job's inputs."""

    limits: Limits
    cls: type = Settings
    content: Any = None
    styles: list = field(default_factory=list)
    weights: list = field(default_factory=list)
    mask_paints: list = field(default_factory=list)
    mask_uploads: list = field(default_factory=list)
    form: dict = field(default_factory=dict)  # form value name -> component
    base: Any = None  # gr.State: Settings loaded from a file (fields the form lacks)
    settings_file: Any = None

    def event_inputs(self, masks: bool = True) -> set:
        """The components a job event reads (as a set: the handler gets a dict)."""
        chosen = {self.content, self.base, *self.styles, *self.weights, *self.form.values()}
        return chosen | ({*self.mask_paints, *self.mask_uploads} if masks else set())

    def read(self, data: dict, mode: str = "stylize", masks: bool = True
             ) -> tuple[inputs.Inputs, Settings]:
        """An event's values -> the job's images (read once) and checked settings."""
        slots = [data[s] for s in self.styles]
        styles, blend = inputs.collect_styles(slots, [data[w] for w in self.weights])
        settings = forms.settings_from_form(
            {name: data[c] for name, c in self.form.items()}, limits=self.limits,
            n_styles=len(styles), blend=blend, base=data[self.base],
            need_style=mode != "reconstruct", cls=self.cls)
        read = inputs.load_inputs(data[self.content], styles, need_content=mode != "texture")
        if masks:
            chosen = inputs.collect_masks(slots, [data[m] for m in self.mask_paints],
                                          [data[m] for m in self.mask_uploads])
            # Texture synthesis without a content image takes its shape from the first style.
            shape = read.content or (read.styles[0] if read.styles else None)
            read.masks = inputs.read_masks(chosen, shape)
        return read, settings

    def form_outputs(self) -> list:
        return [*self.form.values(), *self.weights, self.base]

    def fill(self, settings: Settings) -> dict:
        """Put ``settings`` in the form (values over this server's limits lowered, with a
        warning), its blend weights on the sliders, and keep it as the base."""
        values, notes = forms.form_values(settings, self.limits)
        for note in notes:
            gr.Warning(note)
        out: dict = {c: values[name] for name, c in self.form.items() if name in values}
        for weight, value in zip(self.weights, settings.style_blend_weights or ()):
            out[weight] = value
        out[self.base] = settings
        return out


def _image(label: str, elem_id: str, height: int, guard: str, value: str | None = None
           ) -> gr.Image:
    """An upload slot; a file a browser cannot show is replaced by a PNG of what is read."""
    slot = upload_image(label, guard, elem_id=elem_id, height=height, value=value)

    def shown(path: str | None) -> Any:
        try:
            copy = inputs.browser_copy(path, guard)
        except ValueError as exc:
            raise user_error(exc) from None
        return gr.skip() if copy is None else copy

    # Queued: Gradio 6.31 shows a refusal's message (an upload that is no image) only for a
    # queued event.
    slot.upload(shown, slot, slot, api_visibility="private")
    return slot


def _styles(panel: Panel) -> None:
    """More style slots, each with its blend weight, in an accordion of their own: with one
    style (all of the style loss goes to it) the page shows no weight at all."""
    if panel.limits.max_styles == 1:
        panel.weights.append(gr.Slider(0, 1, 1, step=0.05, label="Blend weight of style 1",
                                       elem_id="style_weight_1", visible=False))
        return
    with gr.Accordion("Blend more styles", open=False, elem_id="more_styles"):
        panel.weights.append(gr.Slider(0, 1, 1, step=0.05, label="Blend weight of style 1",
                                       info="each style's share of the style loss (the "
                                            "weights are scaled to sum to 1)",
                                       elem_id="style_weight_1"))
        for i in range(2, panel.limits.max_styles + 1):
            with gr.Row():
                panel.styles.append(_image(f"Style image {i}", f"style_{i}", 160,
                                           f"style image {i}"))
                panel.weights.append(gr.Slider(0, 1, 1, step=0.05,
                                               label=f"Blend weight of style {i}",
                                               elem_id=f"style_weight_{i}"))


def mask_painter(**options) -> gr.ImageEditor:
    """An image editor whose value for a job is what was painted on it (its layers): the
    background, the content image shown to paint on, and the composite are not read. gradio
    opens every image of an editor before any handler runs, and the browser re-saves the
    background after each new content image; a Run pressed while that file is half written
    failed the whole job ("cannot identify image file ... image.webp") though no mask was
    painted. The editor's own reading is wrapped rather than subclassed: gradio writes a type
    stub next to the module of every component class defined, at import."""
    editor = gr.ImageEditor(**options)
    read = editor.preprocess

    def painted_only(payload):
        if payload is not None and payload.id is None:
            payload = payload.model_copy(update={"background": None, "composite": None})
        return read(payload)

    editor.preprocess = painted_only
    return editor


def _masks(panel: Panel) -> None:
    with gr.Accordion("Where each style applies (masks)", open=False, elem_id="masks"):
        gr.Markdown(MASKS_HELP)
        for i in range(1, len(panel.styles) + 1):
            with gr.Row():
                panel.mask_paints.append(mask_painter(
                    label=f"Paint where style {i} applies", type="pil", sources=(),
                    transforms=(), layers=False, height=240, elem_id=f"mask_paint_{i}",
                    brush=gr.Brush(colors=["#ff2d6f"], color_mode="fixed", default_size=24)))
                panel.mask_uploads.append(_image(f"…or upload a mask for style {i}",
                                                 f"mask_{i}", 240, f"mask {i}"))


def build(limits: Limits, cls: type = Settings) -> Panel:
    """Lay out the left column (inside the caller's column) and wire its own events."""
    panel = Panel(limits, cls, base=gr.State(None))
    pairs = example_pairs()
    # The page opens with the first example pair loaded: a visitor can press Run at once.
    first = [str(p) for p in pairs[0]] if pairs else [None, None]
    with gr.Row(elem_id="images_row"):
        panel.content = _image("Content image", "content", IMAGE_HEIGHT, "content image",
                               value=first[0])
        panel.styles.append(_image("Style image", "style", IMAGE_HEIGHT, "style image",
                                   value=first[1]))
    # The other pairs right under the images, where a visitor looks first.
    if pairs:
        gr.Examples([[str(c), str(s)] for c, s in pairs],
                    inputs=[panel.content, panel.styles[0]], cache_examples=False,
                    label="Example pairs (click one)", examples_per_page=len(pairs),
                    elem_id="examples", api_visibility="private")
    # The main choices right under them: with the Run button and the result beside them, a
    # visitor sees all of it without scrolling.
    panel.form = controls.settings_form(limits, advanced=False, cls=cls)
    _styles(panel)
    _masks(panel)
    with gr.Accordion("Advanced", open=False, elem_id="advanced"):
        panel.form.update(controls.settings_form(limits, advanced=True, cls=cls))
        panel.settings_file = gr.File(label="Load settings from a PNG made here or a settings "
                                            "JSON", file_types=[".png", ".json"],
                                      elem_id="settings_file")
    _wire(panel)
    return panel


def _wire(panel: Panel) -> None:
    def apply_preset(name: str) -> dict:
        try:
            values = forms.preset_values(name, panel.limits)
        except ValueError as exc:
            raise user_error(exc) from None
        return {panel.form[k]: v for k, v in values.items() if k in panel.form}

    def load_file(path: str | None) -> dict:
        if path is None:
            return {panel.base: gr.skip()}
        try:
            settings = settings_io.load_settings_file(path)
        except ValueError as exc:
            raise user_error(exc) from None
        gr.Info("Settings loaded into the form.")
        return panel.fill(settings)

    def mask_canvases(content: Any) -> list:
        """The mask painters show the content image to paint on."""
        try:
            canvas = inputs.mask_canvas(content)
        except ValueError as exc:
            raise user_error(exc) from None
        return [canvas] * len(panel.mask_paints)

    panel.form["preset"].input(apply_preset, panel.form["preset"], list(panel.form.values()),
                               api_visibility="private")
    panel.settings_file.upload(load_file, panel.settings_file, panel.form_outputs(),
                               api_visibility="private")
    panel.content.change(mask_canvases, panel.content, panel.mask_paints,
                         api_visibility="private", queue=False)
