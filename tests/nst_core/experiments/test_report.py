"""Reports drawn once for the comparison and the sweep: one grid in two looks, one table writer,
one number format."""
from PIL import Image

from nst_core.experiments.report import (COMPARE_LOOK, GRID_GAP, LABEL_HEIGHT, MIN_TILE,
                                         SWEEP_LOOK, make_grid, markdown_table, number)


def test_a_sweep_grid_is_cells_and_label_strips():
    cells = [(Image.new("RGB", (32, 32), "red"), ["style_weight=1"]),
             (Image.new("RGB", (16, 16), "blue"), ["style_weight=a very long value indeed"])]
    grid = make_grid(cells, look=SWEEP_LOOK)
    assert grid.size == (2 * 32 + GRID_GAP, 32 + LABEL_HEIGHT)  # scaled to the first height
    assert grid.getpixel((5, 5)) == (255, 0, 0) and grid.getpixel((32 + GRID_GAP + 5, 5)) == (
        0, 0, 255)


def test_a_comparison_grid_enlarges_small_tiles_under_their_captions():
    tiles = [(Image.new("RGB", (32, 24), "red"), ["content", ""]),
             (Image.new("RGB", (32, 24), "blue"), ["Adam · FFT", "score 1 · 2 s"])]
    grid = make_grid(tiles, look=COMPARE_LOOK)
    tile_w = (grid.width - 2 * COMPARE_LOOK.margin - COMPARE_LOOK.gap) // 2
    assert tile_w == MIN_TILE and grid.height > 150 + 2 * 18  # two caption lines under it


def test_a_comparison_grid_of_the_default_methods_is_one_row():
    from nst_core.methods import DEFAULT_METHODS

    n = 2 + len(DEFAULT_METHODS)  # the content, the style, each method's result
    tiles = [(Image.new("RGB", (32, 32), "red"), ["x", "y"])] * n
    one = make_grid(tiles[:1], look=COMPARE_LOOK)
    grid = make_grid(tiles, look=COMPARE_LOOK)
    assert grid.height == one.height and grid.width > (n - 1) * MIN_TILE


def test_tables_and_numbers():
    table = markdown_table(("Method", "Seconds"), [["a", "1.0"], ["b", "2.0"]], "lr")
    assert table.splitlines() == ["| Method | Seconds |", "|---|---:|", "| a | 1.0 |",
                                  "| b | 2.0 |"]
    assert number(12345.678, 3, 1e4) == "1.235e+04" and number(0.12345, 3, 1e4) == "0.123"
    assert number(0.123456, 4) == "0.1235" and number(None, 4) == "" and number(7, 4) == "7"
