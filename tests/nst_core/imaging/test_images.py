import io

import numpy as np
import pytest
import torch
from PIL import Image

from nst_core.imaging import images
from nst_core.imaging.images import ImageError, load_image


def png(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "F", "1", "RGB"])
def test_every_mode_becomes_rgb(mode):
    base = Image.new("RGB", (8, 6), (200, 100, 50))
    if mode in ("I;16", "I", "F"):
        arr = {"I;16": np.full((6, 8), 65535, np.uint16), "I": np.full((6, 8), 255, np.int32),
               "F": np.full((6, 8), 1.0, np.float32)}[mode]
        src = Image.fromarray(arr)
        if mode == "I":
            src = src.convert("I")
        assert src.mode == mode
    else:
        src = base.convert(mode)
    out = load_image(src)
    assert out.mode == "RGB" and out.size == (8, 6)
    if mode in ("I;16", "I", "F"):
        # High-bit-depth white stays white (PIL's plain convert would clip or wrap).
        assert np.asarray(out).min() == 255


def test_transparency_is_composited_on_white():
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert np.asarray(load_image(img)).min() == 255


def test_sources_path_bytes_array_tensor(tmp_path, content_path):
    from_path = load_image(content_path)
    data = content_path.read_bytes()
    assert np.array_equal(np.asarray(load_image(data)), np.asarray(from_path))
    arr = np.asarray(from_path)
    assert np.array_equal(np.asarray(load_image(arr)), arr)
    assert np.array_equal(np.asarray(load_image(arr.astype(np.float32) / 255)), arr)
    t = images.to_tensor(from_path)
    assert np.array_equal(np.asarray(load_image(t)), arr)
    assert np.array_equal(np.asarray(load_image(t[0].numpy())), arr)  # CHW array


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (20, 10), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees
    out = load_image(png(img, "JPEG", exif=exif.tobytes()))
    assert out.size == (10, 20)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"this is not an image at all", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "not an image|corrupt|could not open"),
])
def test_bad_bytes_are_rejected_with_a_reason(data, message):
    with pytest.raises(ImageError, match=message):
        load_image(data, name="upload.png")


def test_truncated_file_is_rejected(content_path):
    data = content_path.read_bytes()
    with pytest.raises(ImageError, match="corrupt or truncated|could not open"):
        load_image(data[: len(data) // 3], name="half.png")


def test_missing_file_and_none():
    with pytest.raises(ImageError, match="not found"):
        load_image("/no/such/file.png")
    with pytest.raises(ImageError, match="no image"):
        load_image(None, name="style image")


def test_pixel_cap_and_decompression_bomb(monkeypatch):
    big = png(Image.new("L", (300, 300)))
    with pytest.raises(ImageError, match="megapixels"):
        load_image(big, max_pixels=50_000)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(big)


def test_bad_arrays():
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.full((4, 4), np.nan, np.float32))
    with pytest.raises(ImageError, match="batch"):
        load_image(torch.zeros(2, 3, 4, 4))


def test_sizes():
    assert images.fit_size(1024, 640, 256) == (256, 160)
    w, h = images.area_size(1024, 640, 256 * 256)
    assert abs(w * h - 65536) < 400 and abs(w / h - 1.6) < 0.02


def test_png_settings_roundtrip(tmp_path):
    img = Image.new("RGB", (4, 4))
    path = tmp_path / "x.png"
    images.save_png(img, path, {"settings": {"steps": 7}})
    assert images.read_png_settings(path)["settings"]["steps"] == 7
    assert images.read_png_settings(images.png_bytes(img, {"a": 1})) == {"a": 1}
    with pytest.raises(ImageError, match="no settings"):
        images.read_png_settings(images.png_bytes(img))


def test_header_check_refuses_before_decoding(tmp_path, monkeypatch):
    from PIL import ImageFile

    path = tmp_path / "big.png"
    Image.new("L", (300, 200)).save(path)
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda im: decoded.append(im.size))
    assert images.check_header(path) == (300, 200)
    with pytest.raises(ImageError) as exc:
        images.check_header(path, name="content image", max_pixels=50_000)
    assert str(exc.value) == ("content image: 300x200 is 0.06 megapixels; the limit is "
                              "0.05 megapixels")
    with pytest.raises(ImageError, match="megapixels"):
        load_image(path, max_pixels=50_000)
    assert decoded == []
    with pytest.raises(ImageError, match="not an image file"):
        images.check_header(png(Image.new("L", (2, 2)))[:20] + b"x" * 20)


def test_min_side_message_names_a_size_that_works():
    need, deepest = images.vgg_min_side(["relu1_1", "relu5_1"])
    assert (need, deepest) == (16, "relu5_1")
    images.check_min_side("content image", 78, lambda z: images.fit_size(320, 64, z), need,
                          deepest)
    with pytest.raises(ImageError) as exc:
        images.check_min_side("content image", 64, lambda z: images.fit_size(320, 64, z),
                              need, deepest)
    assert "size 78 px or more would work" in str(exc.value)
    with pytest.raises(ImageError, match="no size up to 100 px works"):
        images.check_min_side("x", 64, lambda z: images.fit_size(4000, 1, z), need, deepest,
                              limit=100)
    assert images.style_size((400, 100), (64, 64), 0.5) == (64, 16)


def test_saturated_fraction():
    assert images.saturated_fraction(Image.new("RGB", (4, 4), (0, 255, 0))) == 1.0
    assert images.saturated_fraction(Image.new("RGB", (4, 4), (10, 128, 250))) == 0.0
