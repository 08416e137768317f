"""Every kind of bad input is skipped with its reason, unusual valid images are read, and bugs are not hidden."""

from __future__ import annotations

import errno
import os
import pickle
import time

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from bad_archive import BAD_CASES, BOMB_SIDE, UNUSUAL_CASES, make_bad_archive, write_dicom
from PIL import Image

from monai_debclust.data import ImageArchive, load_cohort, load_image, scan_archive
from monai_debclust.data import dataset as dataset_module
from monai_debclust.data import readers as readers_module
from monai_debclust.data.readers import MAX_IMAGE_PIXELS, read_image
from monai_debclust.data.skips import VANISHED, ImageReadError, TooManySkippedError, check_skipped, reason_category


def _written(tmp_path, case):
    path = tmp_path / case.name
    case.write(path)
    return path


@pytest.mark.parametrize("description", sorted(BAD_CASES))
def test_each_bad_input_is_a_read_error_with_its_reason(tmp_path, description):
    case = BAD_CASES[description]
    path = _written(tmp_path, case)
    if case.expected == VANISHED:
        path.unlink()
    started = time.perf_counter()
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert time.perf_counter() - started < 5.0  # nothing hangs or decodes 400 megapixels
    assert case.expected in info.value.reason and not info.value.transient
    category = reason_category(info.value.reason)  # short and stable: no file name, size or count
    assert info.value.reason.startswith(category) and path.name not in category
    assert not any(character.isdigit() for character in category)


@pytest.mark.parametrize("description", sorted(UNUSUAL_CASES))
def test_each_unusual_image_is_read_with_its_shape(tmp_path, description):
    case = UNUSUAL_CASES[description]
    image = read_image(_written(tmp_path, case))
    assert image.shape == case.shape and image.dtype == np.float32
    assert 0.0 <= image.min() <= image.max() <= 1.0


def test_16bit_png_is_min_max_scaled(tmp_path):
    path = _written(tmp_path, UNUSUAL_CASES["16-bit PNG"])
    np.testing.assert_allclose(read_image(path)[0], np.arange(600).reshape(20, 30) / 599.0, atol=1e-6)


@pytest.mark.parametrize("description", ["palette PNG", "CMYK JPEG", "RGBA PNG"])
def test_colour_modes_are_read_as_pillows_rgb(tmp_path, description):
    path = _written(tmp_path, UNUSUAL_CASES[description])
    expected = np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(read_image(path), expected, atol=1e-7)


def test_greyscale_image_in_an_rgb_bundle_repeats_its_channel(tmp_path):
    image = load_image(_written(tmp_path, UNUSUAL_CASES["greyscale image in an RGB bundle"]), 16, channels=3)
    assert image.shape == (3, 16, 16) and torch.equal(image[0], image[1]) and torch.equal(image[0], image[2])


def test_one_pixel_image_resizes_to_a_uniform_image(tmp_path):
    path = _written(tmp_path, UNUSUAL_CASES["1 x 1 image"])
    pixel = np.asarray(Image.open(path).convert("RGB"))[0, 0] / 255.0
    image = load_image(path, 8, channels=3)
    assert image.shape == (3, 8, 8)
    np.testing.assert_allclose(image.numpy(), np.broadcast_to(pixel[:, None, None], (3, 8, 8)), atol=1e-6)


def test_decompression_bomb_is_refused_from_its_header_without_decoding(tmp_path, monkeypatch):
    path = _written(tmp_path, BAD_CASES["20,000 x 20,000 image"])
    assert path.stat().st_size < 1_000_000 and BOMB_SIDE**2 > MAX_IMAGE_PIXELS

    def no_decoding(self, *args):
        raise AssertionError("the pixels of a decompression bomb were decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow's own guard off: ours refuses it
    with pytest.raises(ImageReadError, match=f"decompression bomb: {BOMB_SIDE} x {BOMB_SIDE} is more than the limit"):
        read_image(path)


def test_folder_named_like_an_image_is_not_listed_but_its_images_are(tmp_path):
    (tmp_path / "x.png").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "x.png" / "inside.png")
    assert scan_archive(tmp_path) == ["x.png/inside.png"]
    with pytest.raises(ImageReadError, match="a folder, not a file"):
        read_image(tmp_path / "x.png")


def test_symlinked_folders_are_followed_once_and_a_loop_ends(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(outside / "linked.png")
    root = tmp_path / "archive"
    (root / "a").mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "a" / "own.png")
    (root / "a" / "up").symlink_to("..")  # root/a/up/a/up/... forever without the guard
    (root / "a" / "itself").symlink_to(".")
    (root / "more").symlink_to(outside)
    assert scan_archive(root) == ["a/own.png", "more/linked.png"]


def test_named_pipe_with_an_image_name_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.dcm")
    with pytest.raises(ImageReadError, match="not a regular file"):
        read_image(tmp_path / "pipe.dcm")
    os.mkfifo(tmp_path / "1.2.840.1")  # an extension-less name is sniffed for DICOM: it must not open the pipe
    assert scan_archive(tmp_path) == ["pipe.dcm"]


def test_dicom_without_required_pixel_elements_names_them(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", np.zeros((4, 4), np.uint16))
    ds = pydicom.dcmread(path)
    del ds.Rows, ds.BitsAllocated
    ds.save_as(path)
    with pytest.raises(ImageReadError, match="DICOM lacks required elements: Rows, BitsAllocated"):
        read_image(path)


@pytest.mark.parametrize("code", [errno.EIO, errno.ETIMEDOUT, errno.ESTALE, errno.EAGAIN])
def test_transient_storage_errors_are_marked_and_survive_pickling(tmp_path, monkeypatch, code):
    path = _written(tmp_path, UNUSUAL_CASES["RGBA PNG"])

    def failing_storage(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(Image, "open", failing_storage)
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert info.value.transient and info.value.reason.startswith("temporary I/O error: ")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.path, copy.reason, copy.transient) == (info.value.path, info.value.reason, True)


@pytest.mark.parametrize("bug", [TypeError("wrong argument"), MemoryError(), AttributeError("no attribute"),
                                 KeyError("key"), NameError("name"), OSError(errno.EMFILE, "Too many open files")])
@pytest.mark.parametrize("target", ["_read_pil", "_read_dicom", "_read_nifti"])
def test_bugs_and_exhausted_resources_propagate_from_the_readers(tmp_path, monkeypatch, bug, target):
    paths = {"_read_pil": UNUSUAL_CASES["RGBA PNG"], "_read_dicom": BAD_CASES["DICOM without pixel data"],
             "_read_nifti": BAD_CASES["truncated NIfTI"]}
    path = _written(tmp_path, paths[target])

    def buggy(*args, **kwargs):
        raise bug

    monkeypatch.setattr(readers_module, target, buggy)
    with pytest.raises(type(bug)) as info:
        read_image(path)
    assert info.value is bug


def test_a_bug_in_calling_a_decoder_is_not_a_skip(tmp_path, monkeypatch):
    path = _written(tmp_path, UNUSUAL_CASES["RGBA PNG"])

    def buggy_open(*args, **kwargs):
        raise TypeError("open() got an unexpected keyword argument")

    monkeypatch.setattr(Image, "open", buggy_open)
    with pytest.raises(TypeError):
        read_image(path)


def test_load_cohort_fails_on_a_bug_instead_of_skipping(tmp_path, monkeypatch):
    path = _written(tmp_path, UNUSUAL_CASES["RGBA PNG"])

    def out_of_memory(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(dataset_module, "read_image", out_of_memory)
    with pytest.raises(RuntimeError) as info:  # MONAI's wrapping of the failed transform, never a skip
        load_cohort([{"id": "a", "path": str(path)}], image_size=8, progress=False)
    assert isinstance(info.value.__cause__, MemoryError)


# ------------------------------------------------------------------- the "everything wrong" archive


@pytest.mark.parametrize("layout", ["folder", "flat"])
def test_everything_wrong_archive_skips_exactly_the_bad_files(tmp_path, monkeypatch, layout):
    bad = make_bad_archive(tmp_path / "archive", layout=layout, good_per_class=4)
    with bad.vanish_after_listing(monkeypatch):
        archive = ImageArchive(bad.root, layout="folder" if layout == "folder" else None)
    assert [item["id"] for item in archive.items] == sorted(bad.expected)
    assert not set(bad.not_listed) & {item["id"] for item in archive.items}
    assert not (bad.root / bad.vanishing).exists()

    samples, skipped = load_cohort(archive.items, image_size=16, progress=False)
    assert [s["id"] for s in samples] == bad.readable_ids
    assert all(s["image"].shape == (3, 16, 16) for s in samples)
    assert [image_id for image_id, _ in skipped] == bad.skipped_ids
    for image_id, reason in skipped:
        assert bad.expected[image_id] in reason, (image_id, reason)
    if layout == "folder":
        assert {s["label"] for s in samples} == {0, 1}

    with pytest.raises(TooManySkippedError, match=rf"{len(skipped)} of {len(archive.items)} files"):
        check_skipped(skipped, len(archive.items), 0.25, bad.root / "skipped.csv")
    check_skipped(skipped, len(archive.items), 0.5)


# ------------------------------------------------------------- the guard wraps only the decoders

#: A project function that each reader calls after decoding, and a file that reaches it.
CONVERTERS = {
    "_pil_pixels_to_array": UNUSUAL_CASES["RGBA PNG"],
    "dicom_grey": None,  # a readable greyscale DICOM, written below
    "_volume_output": None,  # a readable NIfTI, written below
}


def _readable_for(tmp_path, converter):
    if converter == "dicom_grey":
        return write_dicom(tmp_path / "ct.dcm", np.arange(12, dtype=np.uint16).reshape(3, 4),
                           WindowCenter=6, WindowWidth=8)
    if converter == "_volume_output":
        path = tmp_path / "v.nii.gz"
        nib.save(nib.Nifti1Image(np.random.default_rng(0).random((4, 5, 3)).astype(np.float32), np.eye(4)), path)
        return path
    return _written(tmp_path, CONVERTERS[converter])


@pytest.mark.parametrize("error", [ValueError("bad arithmetic"), RuntimeError("bad state")], ids=["ValueError",
                                                                                             "RuntimeError"])
@pytest.mark.parametrize("converter", sorted(CONVERTERS))
def test_a_bug_in_the_projects_conversion_fails_the_run_instead_of_skipping(tmp_path, monkeypatch, converter, error):
    path = _readable_for(tmp_path, converter)
    assert read_image(path).dtype == np.float32  # the file itself is fine

    def buggy(*args, **kwargs):
        raise error

    monkeypatch.setattr(readers_module, converter, buggy)
    with pytest.raises(type(error)) as info:
        read_image(path)
    assert info.value is error and not isinstance(info.value, ImageReadError)
    with pytest.raises(RuntimeError) as info:  # the run: MONAI wraps the failed transform, never a skip
        load_cohort([{"id": path.name, "path": str(path)}], image_size=8, progress=False)
    assert info.value is error or info.value.__cause__ is error


@pytest.mark.parametrize("description", ["truncated PNG", "truncated NIfTI"])
def test_a_corrupt_file_is_still_skipped_with_its_reason_by_the_run(tmp_path, description):
    case = BAD_CASES[description]
    path = _written(tmp_path, case)
    samples, skipped = load_cohort([{"id": path.name, "path": str(path)}], image_size=8, progress=False)
    assert samples == [] and len(skipped) == 1 and case.expected in skipped[0][1]


@pytest.mark.parametrize(("function", "width", "reason"), [("GAMMA", 100, "unsupported VOI LUT Function 'GAMMA'"),
                                                           ("LINEAR", 0.5, "window width 0.5 is out of range")])
def test_a_dicom_window_the_reader_cannot_use_is_its_own_read_error(tmp_path, function, width, reason):
    path = write_dicom(tmp_path / "w.dcm", np.array([[0, 9]], dtype=np.uint16), WindowCenter=4, WindowWidth=width,
                       VOILUTFunction=function)
    with pytest.raises(ImageReadError, match=reason) as info:
        read_image(path)
    assert info.value.reason.startswith("invalid DICOM intensity transform: ")
