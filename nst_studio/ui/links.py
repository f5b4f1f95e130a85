"""Links that reproduce a run (see :mod:`nst_studio.web.links`): a "Copy link" row per tab that
writes the URL of the form as it is, and the page's load event that fills the form, the example
images and the tab from the URL it was opened with."""
from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import gradio as gr

from nst_studio.web import defaults, forms, links

from .common import user_error
from .examples import example_pairs
from .panel import Panel

# The form's query -> the page's full URL, put on the clipboard where the browser allows it
# (headless and non-HTTPS pages may refuse; the box shows the URL either way).
TO_URL_JS = """(query) => {
  if (!query || !query.startsWith("?")) return query;
  const url = window.location.origin + window.location.pathname + query;
  try { navigator.clipboard.writeText(url).catch(() => {}); } catch (e) {}
  return url;
}"""
# Opens the link's tab as a visitor's click would, so the load event needs no handle on the
# page's Tabs. The server checks the name (its message names a wrong one); a name no tab has
# clicks nothing.
OPEN_TAB_JS = """() => {
  const tab = new URLSearchParams(window.location.search).get("tab");
  if (!tab) return;
  const button = [...document.querySelectorAll("button[role=tab]")]
    .find((b) => b.dataset.tabId === tab);
  if (button) button.click();
}"""
UPLOADED_NOTE = ("The link carries the settings{tab}; the {which} you uploaded cannot travel in "
                 "a link: whoever opens it uploads {pronoun} again.")


# Every mark Markdown gives a meaning to (CommonMark lets each be escaped with a backslash).
_MARKDOWN_MARKS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:])")


def literal(text: str) -> str:
    """``text`` as a Markdown box shows it, character for character: a link's query is a
    visitor's text, which must not become HTML, a link or emphasis on the page."""
    return _MARKDOWN_MARKS.sub(r"\\\1", html.escape(text, quote=False))


@dataclass
class CopyLink:
    """A tab's "Copy link" row, and the tab's own components a link carries (name -> it)."""

    tab: str
    box: Any = None
    note: Any = None
    extra: dict = field(default_factory=dict)


def message_box() -> gr.Markdown:
    """Where the page says what of its link it could not use (hidden otherwise)."""
    return gr.Markdown("", visible=False, elem_id="link_message")


def _note(panel: Panel, data: dict, tab: str, number: int | None, names: list) -> str:
    tab_text = " and the tab" if tab != "stylize" else ""
    uploaded = [label for label, comp, name in (("content image", panel.content, names[0]),
                                                ("style image", panel.styles[0], names[1]))
                if data[comp] and not name]
    more = [s for s in panel.styles[1:] if data[s]]
    if more:
        uploaded.append("blended style images")
    if uploaded:
        return UPLOADED_NOTE.format(tab=tab_text, which=" and ".join(uploaded),
                                    pronoun="it" if len(uploaded) == 1 else "them")
    what = f"example {number}" if number else ("the example images" if any(names) else
                                               "no images")
    return f"The link carries the settings{tab_text} and {what}."


def copy_link(panel: Panel, tab: str, extra: Mapping[str, Any] | None = None) -> CopyLink:
    """Lay out the row (inside the caller's tab) and wire it: the button writes the URL of
    the form (with ``extra``, the tab's own components by link parameter name)."""
    link = CopyLink(tab, extra=dict(extra or {}))
    with gr.Row():
        button = gr.Button("Copy link", elem_id=f"{tab}_copy_link", size="sm", scale=0,
                           min_width=110)
        link.box = gr.Textbox(label="Link to this form", elem_id=f"{tab}_link", scale=5,
                              interactive=False, buttons=["copy"])
        if os.environ.get("SPACE_ID"):  # set on a Hugging Face Space
            # A deep link restores the whole session, the uploaded images and result included.
            gr.DeepLinkButton("Share this session", copied_value="Link copied", size="sm",
                              scale=0, min_width=150, elem_id=f"{tab}_deep_link")
    link.note = gr.Markdown("", elem_id=f"{tab}_link_note")
    inputs = {panel.content, *panel.styles, panel.base, *panel.form.values(),
              *link.extra.values()}
    # Queued: Gradio 6.31 shows a refusal's message only for a queued event.
    button.click(lambda data: form_link(panel, link, data), inputs, [link.box, link.note],
                 api_visibility="private").then(
        None, link.box, link.box, js=TO_URL_JS, api_visibility="private", queue=False)
    return link


def form_link(panel: Panel, link: CopyLink, data: dict) -> dict:
    """The "Copy link" handler: the query of the form's values in ``data`` (the page adds its
    address) and a note on what the link carries."""
    try:
        settings = forms.settings_from_form(
            {name: data[c] for name, c in panel.form.items()}, limits=panel.limits,
            base=data[panel.base], need_style=False, cls=panel.cls)
    except ValueError as exc:
        raise user_error(exc) from None
    number, content, style = links.which_examples(data[panel.content], data[panel.styles[0]],
                                                  example_pairs())
    compare = {name: data[c] for name, c in link.extra.items()}
    start = defaults.start_settings(panel.limits, panel.cls)
    return {link.box: links.query(settings, example=number, content=content, style=style,
                                  tab=link.tab, compare=compare, start=start),
            link.note: _note(panel, data, link.tab, number, [content, style])}


def fill(panel: Panel, params: Mapping[str, str], copies: list[CopyLink], message: Any) -> dict:
    """What the page shows for a link's query ``params``: the form, images and the tabs' own
    components filled, and a message naming what was left out (the tab opens in the page's
    script, :data:`OPEN_TAB_JS`)."""
    request = links.read_query(params, panel.limits, example_pairs(), panel.cls)
    if request.empty:
        return {message: gr.skip()}
    out = panel.fill(request.settings) if request.settings is not None else {}
    for slot, path in ((panel.content, request.content), (panel.styles[0], request.style)):
        if path is not None:
            out[slot] = str(path)
    for copy in copies:
        out.update({c: request.compare[n] for n, c in copy.extra.items()
                    if n in request.compare})
    problems = "\n".join(f"- {literal(p)}" for p in request.problems)
    heading = "**This link's parameters that were left out:**"
    out[message] = gr.update(value=f"{heading}\n{problems}" if problems else "",
                             visible=bool(problems))
    return out


def wire_load(demo: gr.Blocks, panel: Panel, message: Any, copies: list[CopyLink]) -> None:
    """Fill the page from the URL it is opened with (see :func:`fill`), then open its tab."""
    outputs = [*panel.form_outputs(), panel.content, panel.styles[0], message,
               *(c for copy in copies for c in copy.extra.values())]

    def on_load(request: gr.Request) -> dict:
        return fill(panel, dict(request.query_params or {}), copies, message)

    demo.load(on_load, None, outputs, api_visibility="private", queue=False).then(
        None, None, None, js=OPEN_TAB_JS, api_visibility="private", queue=False)
