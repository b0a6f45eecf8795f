"""Image intake: every mode and container becomes (H, W, 3) uint8 RGB; every bad file a clear ImageLoadError.

All files are generated here in tmp_path. No Qt.
"""
from __future__ import annotations

import base64
import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from app.image_io import (
    MAX_PIXELS, SUPPORTED_SUFFIXES, file_dialog_filter, is_data_url, is_supported_path, load_image_bytes,
    load_image_data_url, load_image_file)
from app.samples import SAMPLES_DIR, sample_images
from models.errors import ImageLoadError, UserFacingError


def _save(tmp_path: Path, name: str, im: Image.Image, **kw) -> Path:
    path = tmp_path / name
    im.save(path, **kw)
    return path


def _rgb_noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _assert_rgb8(pixels: np.ndarray, h: int, w: int) -> None:
    assert pixels.shape == (h, w, 3)
    assert pixels.dtype == np.uint8
    assert pixels.flags.c_contiguous


# ---------------------------------------------------------------------------------------- good files


@pytest.mark.parametrize("fmt,suffix", [
    ("PNG", ".png"), ("BMP", ".bmp"), ("TIFF", ".tif"), ("PPM", ".ppm"), ("TGA", ".tga")])
def test_lossless_files_round_trip_pixels(tmp_path, fmt, suffix):
    pixels = _rgb_noise(23, 37)
    path = _save(tmp_path, "img" + suffix, Image.fromarray(pixels), format=fmt)
    loaded = load_image_file(path)
    np.testing.assert_array_equal(loaded.pixels, pixels)
    assert loaded.original_size == (37, 23)
    assert loaded.source == str(path)
    assert loaded.format == fmt


def test_bytes_and_file_give_the_same_image(tmp_path):
    pixels = _rgb_noise(16, 20, seed=1)
    path = _save(tmp_path, "a.png", Image.fromarray(pixels))
    from_bytes = load_image_bytes(path.read_bytes())
    np.testing.assert_array_equal(from_bytes.pixels, load_image_file(path).pixels)
    assert from_bytes.source == "pasted image"


def test_data_url_from_a_web_page_round_trips(tmp_path):
    pixels = _rgb_noise(9, 11, seed=2)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    assert is_data_url(url) and not is_data_url("https://example.com/cat.png")
    loaded = load_image_data_url(url)
    np.testing.assert_array_equal(loaded.pixels, pixels)
    assert loaded.source == "dropped image"


@pytest.mark.parametrize("url,reason", [
    ("data:text/plain;base64,aGVsbG8=", "text/plain, not an image"),
    ("data:image/svg+xml,%3Csvg%20xmlns%3D'http://www.w3.org/2000/svg'%2F%3E", "SVG"),
    ("data:image/png;base64,iVBORw0KGgo=", "truncated or corrupted"),
    ("data:image/png;base64,", "empty"),
    ("https://example.com/cat.png", "not a data: URL"),
])
def test_unusable_data_urls_are_refused(url, reason):
    with pytest.raises(ImageLoadError, match=reason):
        load_image_data_url(url, name="web image")


def test_jpeg_with_exif_orientation_6_comes_out_rotated(tmp_path):
    stored = np.zeros((40, 80, 3), np.uint8)  # stored 80 wide, 40 high: top half red, bottom half blue
    stored[:20] = (255, 0, 0)
    stored[20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = _save(tmp_path, "phone.jpg", Image.fromarray(stored), quality=95, exif=exif.tobytes())
    loaded = load_image_file(path)
    _assert_rgb8(loaded.pixels, 80, 40)  # displayed upright: 40 wide, 80 high
    assert loaded.original_size == (80, 40)
    right, left = loaded.pixels[:, 30:].mean((0, 1)), loaded.pixels[:, :10].mean((0, 1))
    assert right[0] > 200 and right[2] < 50  # the stored top (red) is now on the right
    assert left[2] > 200 and left[0] < 50


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = _save(tmp_path, "print.jpg", Image.new("CMYK", (24, 16), (0, 255, 255, 0)), quality=95)
    loaded = load_image_file(path)
    _assert_rgb8(loaded.pixels, 16, 24)
    assert loaded.original_mode == "CMYK"
    r, g, b = loaded.pixels.reshape(-1, 3).mean(0)
    assert r > 230 and g < 25 and b < 25  # no cyan, full magenta + yellow = red


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 32 * 8).round().astype(np.uint16).reshape(8, 32)
    ramp[1] = np.random.default_rng(0).integers(0, 65536, 32)  # not only multiples of 257
    path = _save(tmp_path, "depth.png", Image.fromarray(ramp))
    loaded = load_image_file(path)
    assert loaded.original_mode.startswith("I;16")
    _assert_rgb8(loaded.pixels, 8, 32)
    expected = np.round(ramp / 257.0)
    assert np.abs(loaded.pixels[..., 0].astype(int) - expected).max() <= 1
    assert (loaded.pixels[..., 0] == loaded.pixels[..., 2]).all()
    assert 0 in loaded.pixels and 255 in loaded.pixels and 40 < np.median(loaded.pixels) < 215


def test_dark_16_bit_png_stays_dark(tmp_path):
    dark = np.full((4, 4), 200, np.uint16)  # 200 of 65535: nearly black, not 200 of 255
    loaded = load_image_file(_save(tmp_path, "dark.png", Image.fromarray(dark)))
    assert loaded.pixels.max() <= 1


def test_float_tiff_in_unit_range_is_multiplied_by_255(tmp_path):
    data = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    loaded = load_image_file(_save(tmp_path, "unit.tif", Image.fromarray(data)))
    assert loaded.original_mode == "F"
    _assert_rgb8(loaded.pixels, 8, 8)
    np.testing.assert_array_equal(loaded.pixels[..., 1], np.round(data * 255).astype(np.uint8))


def test_float_tiff_with_any_range_and_nan_is_stretched(tmp_path):
    data = np.linspace(-5.0, 20.0, 64, dtype=np.float32).reshape(8, 8)
    data[0, 0] = np.nan
    loaded = load_image_file(_save(tmp_path, "depth.tif", Image.fromarray(data)))
    ch = loaded.pixels[..., 0]
    assert ch.max() == 255 and ch[0, 1] < 5  # the smallest finite value maps to about 0
    assert (np.diff(ch.ravel()[1:].astype(int)) >= 0).all()  # order kept


def test_32_bit_integer_image_with_large_values_is_stretched(tmp_path):
    data = (np.arange(64, dtype=np.int32).reshape(8, 8) * 100_000)
    loaded = load_image_file(_save(tmp_path, "counts.tif", Image.fromarray(data, mode="I")))
    ch = loaded.pixels[..., 0]
    assert ch.min() == 0 and ch.max() == 255


def test_palette_png_with_transparency_is_composited_on_white(tmp_path):
    im = Image.new("P", (10, 10), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * (254 * 3))  # index 0 black (transparent), 1 red
    im.paste(1, (0, 0, 5, 10))
    path = _save(tmp_path, "icon.png", im, transparency=0)
    loaded = load_image_file(path)
    assert loaded.original_mode == "P"
    assert (loaded.pixels[:, :5] == (255, 0, 0)).all()
    assert (loaded.pixels[:, 5:] == 255).all()  # transparent -> white, not black


def test_rgba_and_la_are_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:2, :, 3] = 255  # top: opaque red
    rgba[2:, :, 3] = 0  # bottom: fully transparent
    loaded = load_image_file(_save(tmp_path, "a.png", Image.fromarray(rgba)))
    assert (loaded.pixels[:2] == (255, 0, 0)).all()
    assert (loaded.pixels[2:] == 255).all()
    half = Image.new("LA", (4, 4), (0, 128))  # black at half opacity -> mid grey
    grey = load_image_file(_save(tmp_path, "la.png", half)).pixels
    assert (np.abs(grey.astype(int) - 127) <= 1).all()


@pytest.mark.parametrize("mode", ["L", "1"])
def test_grayscale_and_bilevel_become_three_equal_channels(tmp_path, mode):
    gray = (np.arange(48).reshape(6, 8) * 5).astype(np.uint8)
    im = Image.fromarray(gray).convert(mode)
    loaded = load_image_file(_save(tmp_path, f"g_{mode}.png", im))
    _assert_rgb8(loaded.pixels, 6, 8)
    np.testing.assert_array_equal(loaded.pixels[..., 0], np.asarray(im.convert("L")))
    assert (loaded.pixels[..., 0] == loaded.pixels[..., 1]).all()


@pytest.mark.parametrize("fmt,suffix,kw", [
    ("GIF", ".gif", {}), ("PNG", ".png", {}), ("WEBP", ".webp", {"lossless": True})])
def test_animation_gives_its_first_frame(tmp_path, fmt, suffix, kw):
    frames = [Image.new("RGB", (12, 10), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / f"anim{suffix}"
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **kw)
    loaded = load_image_file(path)
    _assert_rgb8(loaded.pixels, 10, 12)
    assert loaded.n_frames == 3
    assert (np.abs(loaded.pixels.astype(int) - (255, 0, 0)) <= 2).all()
    assert "frame 1 of 3" in loaded.describe()


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_max_side_scales_large_images_down_keeping_aspect_and_content(tmp_path, suffix):
    stored = np.zeros((400, 600, 3), np.uint8)
    stored[:, :300] = (255, 0, 0)
    stored[:, 300:] = (0, 0, 255)
    path = _save(tmp_path, "big" + suffix, Image.fromarray(stored))
    loaded = load_image_file(path, max_side=150)
    assert loaded.pixels.shape == (100, 150, 3)
    assert loaded.original_size == (600, 400)
    assert loaded.pixels[:, :70, 0].min() > 200 and loaded.pixels[:, 80:, 2].min() > 200
    assert "scaled down from 600x400" in loaded.describe()
    untouched = load_image_file(path, max_side=1000)
    assert untouched.pixels.shape == (400, 600, 3) and "scaled" not in untouched.describe()


def _rgb_profile_with_red_and_green_swapped() -> bytes:
    """An RGB ICC profile whose red channel has sRGB's green primary and vice versa (not called sRGB)."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", data[128:132])[0]
    entries = {bytes(data[132 + 12 * i:136 + 12 * i]): 132 + 12 * i for i in range(count)}
    r, g = entries[b"rXYZ"], entries[b"gXYZ"]
    data[r + 4:r + 12], data[g + 4:g + 12] = data[g + 4:g + 12], data[r + 4:r + 12]
    data[84:100] = bytes(16)  # profile id: "not computed"
    return bytes(data).replace("sRGB".encode("utf-16-be"), "Test".encode("utf-16-be"))


def test_embedded_colour_profile_is_applied(tmp_path):
    red = Image.new("RGB", (8, 8), (255, 0, 0))
    path = _save(tmp_path, "wide.png", red, icc_profile=_rgb_profile_with_red_and_green_swapped())
    r, g, b = load_image_file(path).pixels.reshape(-1, 3).mean(0)
    assert g > 200 and r < 60 and b < 60  # this profile's "red" is sRGB green


@pytest.mark.parametrize("profile", [
    ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),  # already sRGB: untouched
    b"not an icc profile at all",  # damaged: ignored
])
def test_srgb_or_damaged_profile_leaves_pixels_as_stored(tmp_path, profile):
    pixels = _rgb_noise(8, 8, seed=3)
    path = _save(tmp_path, "p.png", Image.fromarray(pixels), icc_profile=profile)
    np.testing.assert_array_equal(load_image_file(path).pixels, pixels)


# ----------------------------------------------------------------------------------- refused files


def _png_claiming(width: int, height: int) -> bytes:
    """A valid 8x8 PNG whose IHDR (with a correct CRC) claims width x height."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _bmp_claiming(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "BMP")
    data = bytearray(buf.getvalue())
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


@pytest.mark.parametrize("make,width,height", [
    (_png_claiming, 30000, 30000),  # 900 MP: past Pillow's own bomb limit
    (_png_claiming, 12000, 9000),  # 108 MP: past ours, below Pillow's error threshold
    (_png_claiming, 25000, 10),  # small area, absurd side
    (_bmp_claiming, 60000, 60000),
])
def test_huge_header_is_refused_before_decoding(tmp_path, make, width, height):
    limit_before = Image.MAX_IMAGE_PIXELS
    path = tmp_path / "bomb.img"
    path.write_bytes(make(width, height))
    with pytest.raises(ImageLoadError) as err:
        load_image_file(path)
    msg = str(err.value)
    assert "'bomb.img'" in msg and "too large" in msg and f"{width}x{height}" in msg
    assert Image.MAX_IMAGE_PIXELS == limit_before  # Pillow's global limit left alone


def test_image_just_under_the_limits_is_not_refused_by_size(tmp_path):
    # a header within the limits gets past the size check (and then fails only because the data is fake)
    side = int(MAX_PIXELS ** 0.5) - 1
    path = tmp_path / "big.png"
    path.write_bytes(_png_claiming(side, side))
    with pytest.raises(ImageLoadError, match="truncated or corrupted"):
        load_image_file(path)


def _truncated(tmp_path: Path, fmt: str, keep: float) -> Path:
    buf = io.BytesIO()
    Image.fromarray(_rgb_noise(64, 64)).save(buf, fmt)
    data = buf.getvalue()
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.mark.parametrize("fmt,keep", [("PNG", 0.5), ("JPEG", 0.5), ("PNG", 0.02), ("GIF", 0.5)])
def test_truncated_files_are_reported_as_such(tmp_path, fmt, keep):
    path = _truncated(tmp_path, fmt, keep)
    with pytest.raises(ImageLoadError, match=rf"'{path.name}' is truncated or corrupted"):
        load_image_file(path)


@pytest.mark.parametrize("content,reason", [
    (b"hello, this is a text file\n", "not an image file"),
    (b"", "empty"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "PostScript/EPS"),  # never run Ghostscript
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), "HEIC/HEIF"),
    (b"<?xml version='1.0'?>\n<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>", "SVG"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF document"),
])
def test_non_images_and_empty_files_are_refused(tmp_path, content, reason):
    path = tmp_path / "notes.png"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError) as err:
        load_image_file(path)
    assert "'notes.png'" in str(err.value) and reason in str(err.value)


def test_headerless_bytes_are_not_guessed_as_targa(tmp_path):
    tga_like = bytes([0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 8, 0, 24, 0]) + bytes(range(192))
    path = tmp_path / "data.bin"
    path.write_bytes(tga_like)
    with pytest.raises(ImageLoadError, match="not an image file"):
        load_image_file(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "stream.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageLoadError, match="not a regular file"):
        load_image_file(fifo)


def test_missing_file_and_folder_are_refused(tmp_path):
    with pytest.raises(ImageLoadError, match="'nope.jpg'.*does not exist"):
        load_image_file(tmp_path / "nope.jpg")
    folder = tmp_path / "photos.png"
    folder.mkdir()
    with pytest.raises(ImageLoadError, match="'photos.png'.*folder"):
        load_image_file(folder)


def test_bad_bytes_name_the_source(tmp_path):
    with pytest.raises(ImageLoadError, match="'clipboard'.*not an image"):
        load_image_bytes(b"\x00\x01garbage" * 10, name="clipboard")
    with pytest.raises(ImageLoadError, match="'pasted image'.*empty"):
        load_image_bytes(b"")


def test_every_refusal_is_one_user_facing_line(tmp_path):
    bad = [tmp_path / "missing.png", _truncated(tmp_path, "JPEG", 0.3)]
    (tmp_path / "t.txt").write_text("x")
    bad.append(tmp_path / "t.txt")
    for path in bad:
        with pytest.raises(UserFacingError) as err:
            load_image_file(path)
        assert "\n" not in str(err.value) and path.name in str(err.value)


# ------------------------------------------------------------------------------- dialog and gallery


def test_suffixes_and_dialog_filter_cover_common_formats():
    for suffix in (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"):
        assert suffix in SUPPORTED_SUFFIXES
        assert f"*{suffix}" in file_dialog_filter()
    assert ".eps" not in SUPPORTED_SUFFIXES and ".pdf" not in SUPPORTED_SUFFIXES
    assert file_dialog_filter().endswith(";;All files (*)")
    assert is_supported_path("/x/Photo.JPG") and not is_supported_path("notes.txt")


def test_sample_gallery_loads_and_is_licensed():
    samples = sample_images()
    names = [s.path.name for s in samples]
    assert names[0] == "astronaut.jpg" and len(names) == len(set(names))
    assert {"chelsea.jpg", "coffee.jpg", "rocket.jpg", "shapes_circle.png", "shapes_sprites.png"} <= set(names)
    licences = (SAMPLES_DIR / "LICENSES.md").read_text()
    total = 0
    for sample in samples:
        loaded = load_image_file(sample.path)
        assert loaded.pixels.ndim == 3 and loaded.pixels.shape[2] == 3 and sample.title
        if sample.kind == "photo":
            assert max(loaded.pixels.shape[:2]) <= 512
        assert sample.path.name in licences or sample.path.name.startswith("shapes_scene_")
        total += sample.path.stat().st_size
    assert total < 2_000_000


def test_scene_ground_truth_matches_the_scene_files():
    coco = json.loads((SAMPLES_DIR / "shapes_scenes.json").read_text())
    for info in coco["images"]:
        pixels = load_image_file(SAMPLES_DIR / info["file_name"]).pixels
        assert pixels.shape[:2] == (info["height"], info["width"])
        boxes = [a["bbox"] for a in coco["annotations"] if a["image_id"] == info["id"]]
        assert len(boxes) >= 3
        for x, y, w, h in boxes:
            assert 0 <= x and 0 <= y and x + w <= info["width"] and y + h <= info["height"]


def test_a_symlink_loop_is_called_a_loop_not_missing(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(ImageLoadError) as info:
        load_image_file(a)
    assert "loop" in str(info.value) and "does not exist" not in str(info.value)


def test_a_dangling_symlink_names_its_target(tmp_path):
    link = tmp_path / "photo.jpg"
    link.symlink_to(tmp_path / "gone" / "real.jpg")
    with pytest.raises(ImageLoadError, match="link to .*real.jpg"):
        load_image_file(link)
