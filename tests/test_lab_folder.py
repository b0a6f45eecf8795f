"""Data lab, "your own images": indexing an ImageFolder-layout folder (no decoding), its clear refusals, decoding
any image mode safely to the model's size (unreadable files skipped and counted), and the stratified split."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from models.errors import ImageLoadError, JobCancelled, UserFacingError
from models.jobs import JobContext, Progress, run_to_completion
from models.lab.image_decode import DecodeCache, load_image
from models.lab.image_folder import FolderError, index_folder_job, split


def _img(path, colour=(200, 30, 30), size=(20, 16), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


def _index(root, **kw):
    return run_to_completion(index_folder_job, root, **kw)[0]


def test_index_lists_classes_files_and_skips_non_images(tmp_path):
    _img(tmp_path / "cats" / "a.png")
    _img(tmp_path / "cats" / "more" / "b.jpg")  # nested folders are walked
    _img(tmp_path / "dogs" / "c.png")
    (tmp_path / "dogs" / "notes.txt").write_text("hi")
    (tmp_path / "dogs" / ".DS_Store").write_bytes(b"\0")
    (tmp_path / ".hidden").mkdir()
    _img(tmp_path / ".hidden" / "x.png")  # hidden folders are not classes
    _img(tmp_path.parent / f"{tmp_path.name}-elsewhere" / "e.png")
    (tmp_path / "emus").symlink_to(tmp_path.parent / f"{tmp_path.name}-elsewhere")  # a linked class folder counts
    (tmp_path / "dogs" / "loop").symlink_to(tmp_path)  # a link inside a class is not followed (no loop)
    index = _index(tmp_path)
    assert index.classes == ("cats", "dogs", "emus")
    assert index.per_class_counts == (2, 1, 1)
    assert [(p.split("/")[-1], c) for p, c in index.files] == [("a.png", 0), ("b.jpg", 0), ("c.png", 1), ("e.png", 2)]
    assert index.skipped_non_images == 3  # notes.txt, .DS_Store, the link
    assert index.notes == ()  # the skipped count is a field; notes are for classes dropped and images ignored
    assert "4 images in 3 classes" in index.describe()


@pytest.mark.parametrize("make, words", [
    (lambda p: None, "empty"),
    (lambda p: _img(p / "only" / "a.png"), "only one class"),
    (lambda p: (_img(p / "a.png"), _img(p / "b.png")), "no class folders"),
    (lambda p: ((p / "a").mkdir(), (p / "b").mkdir(), _img(p / "c" / "x.png")), "'a', 'b' hold no images"),
])
def test_bad_folders_get_one_clear_sentence(tmp_path, make, words):
    root = tmp_path / "data"
    root.mkdir()
    make(root)
    with pytest.raises(FolderError, match=words):
        _index(root)


def test_missing_folder_and_a_file_are_refused(tmp_path):
    with pytest.raises(FolderError, match="does not exist"):
        _index(tmp_path / "nope")
    _img(tmp_path / "pic.png")
    with pytest.raises(FolderError, match="not a folder"):
        _index(tmp_path / "pic.png")


def test_classes_without_images_are_dropped_with_a_note_and_loose_images_ignored(tmp_path):
    _img(tmp_path / "a" / "1.png")
    _img(tmp_path / "b" / "1.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "text_only").mkdir()
    (tmp_path / "text_only" / "readme.md").write_text("x")
    _img(tmp_path / "loose.png")
    index = _index(tmp_path)
    assert index.classes == ("a", "b")
    assert any("Dropped 2 class folders" in n and "'empty'" in n and "'text_only'" in n for n in index.notes)
    assert any("Ignored 1 image" in n for n in index.notes)


def test_20000_files_index_in_chunks_with_progress_and_can_be_cancelled(tmp_path):
    for c in range(4):
        d = tmp_path / f"class{c}"
        d.mkdir()
        for i in range(5000):
            (d / f"{i:05d}.png").touch()  # indexing never opens a file
    index, _ = run_to_completion(index_folder_job, tmp_path)
    assert index.num_images == 20000 and index.per_class_counts == (5000,) * 4
    gen = index_folder_job(JobContext(), tmp_path, progress_every=1000)
    counts = [p for p in gen if isinstance(p, Progress) and "entries" in p.message]
    assert len(counts) >= 20  # a report every 1,000 entries: the worker can switch jobs and cancel there
    ctx = JobContext()
    gen = index_folder_job(ctx, tmp_path, progress_every=1000)
    while "entries" not in next(gen).message:
        pass
    ctx.cancel_event.set()
    with pytest.raises(JobCancelled):
        for _ in gen:
            pass


def test_too_many_files_are_refused(tmp_path):
    for c in "ab":
        for i in range(6):
            (tmp_path / c).mkdir(exist_ok=True)
            (tmp_path / c / f"{i}.png").touch()
    with pytest.raises(FolderError, match="more than 10 images"):
        _index(tmp_path, max_files=10)


def _png_claiming(path, width, height):
    """A PNG whose header claims width x height pixels (a decompression bomb's header), with a valid CRC."""
    _img(path, colour=0, size=(4, 4), mode="L")
    data = bytearray(path.read_bytes())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def test_any_mode_and_size_decodes_to_rgb_at_the_model_size(tmp_path):
    cases = {
        "grey.png": Image.new("L", (30, 10), 77),
        "grey_alpha.png": Image.new("LA", (10, 30), (0, 0)),  # fully transparent -> white
        "palette.gif": Image.new("P", (7, 9), 3),
        "rgba.png": Image.new("RGBA", (64, 48), (255, 0, 0, 255)),
        "cmyk.jpg": Image.new("CMYK", (40, 40), (0, 255, 255, 0)),
        "big.jpg": Image.new("RGB", (1500, 900), (0, 0, 250)),
    }
    for name, im in cases.items():
        im.save(tmp_path / name)
    Image.fromarray(np.full((12, 12), 128 * 257, np.uint16)).save(tmp_path / "sixteen.png")  # 16-bit grey
    Image.fromarray(np.full((12, 12), 0.5, np.float32)).save(tmp_path / "float.tiff")
    out = {p.name: load_image(p, (24, 32)) for p in tmp_path.iterdir()}
    assert all(a.shape == (24, 32, 3) and a.dtype == np.uint8 for a in out.values())
    assert (out["grey.png"] == 77).all()
    assert (out["grey_alpha.png"] == 255).all()
    assert (out["sixteen.png"] == 128).all()  # scaled, not clipped
    assert (out["float.tiff"] == 128).all()
    assert out["rgba.png"][0, 0].tolist() == [255, 0, 0]
    assert out["cmyk.jpg"][5, 5, 0] > 200 and out["cmyk.jpg"][5, 5, 1] < 60
    assert out["big.jpg"][5, 5, 2] > 200
    assert load_image(tmp_path / "grey.png", 8).shape == (8, 8, 3)


def test_unreadable_files_are_refused_clearly_and_counted_once(tmp_path):
    good = [_img(tmp_path / f"good{i}.png", colour=(i * 40, 0, 0)) for i in range(3)]
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    trunc = tmp_path / "truncated.png"
    trunc.write_bytes(_img(tmp_path / "t.png", size=(64, 64)).read_bytes()[:60])
    _png_claiming(tmp_path / "bomb.png", 30000, 30000)
    bad = [tmp_path / n for n in ("empty.png", "text.jpg", "truncated.png", "bomb.png", "gone.png")]
    for p in bad:
        with pytest.raises(ImageLoadError, match=p.name):
            load_image(p, 16)
    cache = DecodeCache((16, 16))
    items = [(str(p), i) for i, p in enumerate(good + bad)]
    images, labels = cache.batch(items)
    assert images.shape == (3, 16, 16, 3) and labels.tolist() == [0, 1, 2]
    cache.batch(items)  # seen again: still counted once
    assert cache.unreadable == len(bad)
    assert images[1, 0, 0].tolist() == [40, 0, 0]


def test_split_is_stratified_deterministic_and_complete(tmp_path):
    for name, n in (("one", 1), ("two", 2), ("five", 5), ("fifty", 50)):
        for i in range(n):
            (tmp_path / name).mkdir(exist_ok=True)
            (tmp_path / name / f"{i}.png").touch()
    index = _index(tmp_path)
    s = split(index, 0.2, seed=3)
    held = {c: sum(1 for _, k in s.held_out if index.classes[k] == c) for c in index.classes}
    assert held == {"one": 0, "two": 1, "five": 1, "fifty": 10}
    assert sorted(s.train + s.held_out) == sorted(index.files) and not set(s.train) & set(s.held_out)
    assert split(index, 0.2, seed=3) == s
    assert split(index, 0.2, seed=4).held_out != s.held_out
    with pytest.raises(UserFacingError):
        split(index, 1.5)
