"""Reports of experiments, drawn once for the comparison and the sweep: labelled grids of
images, loss curves, markdown tables and their numbers."""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from PIL import Image, ImageDraw, ImageFont

# Smallest tile side in a comparison grid, in pixels: room for a caption such as
# "loss 1.23e+08 · 123.4 s" at the smallest font.
MIN_TILE = 200
LABEL_HEIGHT = 14  # pixels of the caption strip under each cell of a sweep grid
GRID_GAP = 2  # pixels between the cells of a sweep grid
FAILED_GREY = (200, 200, 200)  # a failed run's cell in a grid


@dataclass(frozen=True)
class GridLook:
    """How a grid is drawn.

    ``strip`` None: each tile is fitted into one box (the last tile's size, or ``tile_size``,
    enlarged to ``min_side``) on white, with its caption lines underneath in a font sized to
    the box. ``strip`` a height: each tile is scaled to the first one's height and gets a
    one-line label in a strip of that height, cut to the tile's width."""

    margin: int  # around the grid
    gap: int  # between tiles
    columns: int  # tiles per row unless the caller says
    min_side: int = 0
    strip: int | None = None


# A comparison's grid is the content, the style(s) and every method's result: one row for the
# content, a style and the four parameterizations' best methods (nst_core.methods.DEFAULT_METHODS)
# and more, so the results sit beside the images they came from.
COMPARE_LOOK = GridLook(margin=6, gap=6, columns=8, min_side=MIN_TILE)
SWEEP_LOOK = GridLook(margin=0, gap=GRID_GAP, columns=6, strip=LABEL_HEIGHT)


def font(size: int) -> ImageFont.ImageFont:
    """Pillow's own font at ``size`` px (a fixed-size bitmap font without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):
        return ImageFont.load_default()


def fit(img: Image.Image, box: tuple[int, int]) -> Image.Image:
    """``img`` scaled to fit ``box``, centred on white (enlarged with visible pixels)."""
    scale = min(box[0] / img.width, box[1] / img.height)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    tile = Image.new("RGB", box, "white")
    resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
    tile.paste(img.convert("RGB").resize(size, resample),
               ((box[0] - size[0]) // 2, (box[1] - size[1]) // 2))
    return tile


def _cells(images: Sequence[Image.Image], look: GridLook,
           tile_size: tuple[int, int] | None) -> list[Image.Image]:
    if look.strip is not None:  # the first tile's height, each its own width
        h = images[0].height
        return [c if c.height == h else c.resize((max(1, round(c.width * h / c.height)), h),
                                                 Image.Resampling.LANCZOS) for c in images]
    tw, th = tile_size or images[-1].size
    if max(tw, th) < look.min_side:  # small results enlarged so the captions fit under them
        tw, th = (round(tw * look.min_side / max(tw, th)),
                  round(th * look.min_side / max(tw, th)))
    return [fit(img, (tw, th)) for img in images]


def _cut(draw: ImageDraw.ImageDraw, text: str, width: int, face) -> str:
    """A label that fits ``width``: the value alone ("k=v" -> "v"), then cut with "…"."""
    if draw.textlength(text, font=face) > width - 2 and "=" in text:
        text = text.split("=", 1)[1]
    while len(text) > 3 and draw.textlength(text, font=face) > width - 2:
        text = text[:-2] + "…"
    return text


def make_grid(tiles: Sequence[tuple[Image.Image, Sequence[str]]], columns: int | None = None,
              *, look: GridLook = COMPARE_LOOK, tile_size: tuple[int, int] | None = None
              ) -> Image.Image:
    """Tiles (an image and its caption lines) in rows of ``columns``, drawn as ``look`` says."""
    if not tiles:
        raise ValueError("nothing to put in the grid")
    cells = _cells([img for img, _ in tiles], look, tile_size)
    tw, th = max(c.width for c in cells), cells[0].height
    if look.strip is None:
        size = max(12, min(18, tw // 16))
        line_h = size + 4
        caption_h = max(len(caption) for _, caption in tiles) * line_h + 6
    else:
        size, line_h, caption_h = look.strip - 3, 0, look.strip
    face = font(size)
    cols = min(columns or look.columns, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    grid = Image.new("RGB", (2 * look.margin + cols * tw + (cols - 1) * look.gap,
                             2 * look.margin + rows * (th + caption_h) + (rows - 1) * look.gap),
                     "white")
    draw = ImageDraw.Draw(grid)
    for i, (cell, (_, caption)) in enumerate(zip(cells, tiles)):
        x = look.margin + (i % cols) * (tw + look.gap)
        y = look.margin + (i // cols) * (th + caption_h + look.gap)
        grid.paste(cell, (x, y))
        if look.strip is not None:
            draw.text((x + 1, y + th + 1), _cut(draw, caption[0], tw, face), fill="black",
                      font=face)
            continue
        for j, line in enumerate(caption):
            draw.text((x + 2, y + th + 3 + j * line_h), line, fill="black", font=face)
    return grid


CURVES = (("step", "total", "own loss vs step", "step (objective evaluations)"),
          ("seconds", "total", "own loss vs own compute time", "seconds"),
          ("seconds", "fixed_score", "fixed score vs own compute time", "seconds"))


def plot_curves(histories: Mapping[str, Sequence[Mapping[str, float]]],
                labels: Mapping[str, str] | None = None) -> Image.Image:
    """Each method's own loss against step and seconds, and the fixed score against seconds
    (log scale, one line per method; the score where it was measured)."""
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in a web server

    labels = labels or {}
    fig = Figure(figsize=(15, 4), dpi=100)
    axes = fig.subplots(1, len(CURVES))
    for ax, (x, y, title, xlabel) in zip(axes, CURVES):
        for method, rows in histories.items():
            points = [(r[x], r[y]) for r in rows if r.get(y, 0) > 0]
            if points:
                ax.plot(*zip(*points), label=labels.get(method, method),
                        marker="." if y == "fixed_score" else None)
        ax.set_yscale("log")
        ax.set(title=title, xlabel=xlabel, ylabel="score" if y == "fixed_score" else "loss")
        ax.grid(True, which="both", alpha=0.3)
    if histories:
        axes[0].legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def number(x: Any, digits: int, sci_from: float | None = None) -> str:
    """A table cell: a float to ``digits`` significant digits (in e-notation from
    ``sci_from`` up), None as empty, anything else as it prints."""
    if x is None:
        return ""
    if not isinstance(x, float):
        return str(x)
    return f"{x:.{digits}e}" if sci_from is not None and abs(x) >= sci_from else \
        f"{x:.{digits}g}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    """A markdown table; ``align`` has one letter per column, ``l`` or ``r``."""
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "".join("---:|" if a == "r" else "---|" for a in align)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines) + "\n"
