"""read_image on real files of every format, good and bad; bad ones skipped by the datasets."""

from __future__ import annotations

import pickle
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGLSLossless

from bad_archive import write_dicom
from monai_debclust.data.dataset import GuardedDataset, LoadArchiveImaged, load_cohort, skip_collate
from monai_debclust.data.readers import ImageReadError, image_format, read_image

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)


def write_nifti(path: Path, volume: np.ndarray) -> Path:
    nib.save(nib.Nifti1Image(volume, np.eye(4)), path)
    return path


# ------------------------------------------------------------------------------ 2-D formats


def test_png_rgb_is_channel_first_not_swapped(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "a.png")
    image = read_image(tmp_path / "a.png")
    assert image.dtype == np.float32 and image.shape == (3, 20, 30)
    np.testing.assert_allclose(image, RGB.transpose(2, 0, 1) / 255.0, atol=1e-7)


def test_png_greyscale_keeps_one_channel(tmp_path):
    Image.fromarray(RGB[..., 0]).save(tmp_path / "a.png")
    image = read_image(tmp_path / "a.png")
    assert image.shape == (1, 20, 30)
    assert image[0, 3, 7] == pytest.approx(RGB[3, 7, 0] / 255.0)


def test_rgba_png_drops_alpha(tmp_path):
    rgba = np.dstack([RGB, np.full((20, 30), 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_allclose(read_image(tmp_path / "a.png"), RGB.transpose(2, 0, 1) / 255.0, atol=1e-7)


def test_palette_png_becomes_rgb(tmp_path):
    palette_image = Image.fromarray(RGB).quantize(colors=16)
    palette_image.save(tmp_path / "a.png")
    expected = np.asarray(palette_image.convert("RGB")).transpose(2, 0, 1) / 255.0
    image = read_image(tmp_path / "a.png")
    assert image.shape == (3, 20, 30)
    np.testing.assert_allclose(image, expected, atol=1e-7)


def test_jpeg_and_bmp_decode_to_the_source_pixels(tmp_path):
    x, y = np.meshgrid(np.linspace(0, 255, 30), np.linspace(0, 255, 20))
    smooth = np.dstack([x, y, np.full((20, 30), 128.0)]).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "a.jpg", quality=95)
    Image.fromarray(RGB).save(tmp_path / "a.bmp")
    expected = smooth.transpose(2, 0, 1) / 255.0
    assert np.abs(read_image(tmp_path / "a.jpg") - expected).mean() < 0.02
    np.testing.assert_allclose(read_image(tmp_path / "a.bmp"), RGB.transpose(2, 0, 1) / 255.0, atol=1e-7)


def test_16bit_tiff_is_min_max_scaled(tmp_path):
    values = np.linspace(1000, 5000, 20 * 30).reshape(20, 30).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "a.tif")
    image = read_image(tmp_path / "a.tif")
    assert image.shape == (1, 20, 30)
    assert image.min() == 0.0 and image.max() == 1.0
    assert image[0, 10, 0] == pytest.approx((float(values[10, 0]) - 1000) / 4000, abs=1e-6)


@pytest.mark.parametrize("name", ["A.PNG", "b.JpG", "c.Tiff", "d.NII.GZ"])
def test_extensions_match_case_insensitively(tmp_path, name):
    path = tmp_path / name
    if "nii" in name.lower():
        write_nifti(tmp_path / "v.nii.gz", RNG.random((4, 5, 3)).astype(np.float32)).rename(path)
    else:
        Image.fromarray(RGB).save(path, format=Image.registered_extensions()[Path(name.lower()).suffix])
    assert image_format(path) is not None
    assert read_image(path).ndim == 3


# ------------------------------------------------------------------------------------ DICOM


def test_dicom_rescale_then_window_maps_known_pixels(tmp_path):
    # CT-like: HU = stored - 1024; window 40 / 400 (LINEAR) spans HU -160 .. 240
    stored = np.array([[864, 1064, 2000]], dtype=np.uint16)
    path = write_dicom(tmp_path / "ct.dcm", stored, bits_stored=12,
                       RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=400)
    image = read_image(path)
    assert image.shape == (1, 1, 3)
    np.testing.assert_allclose(image[0, 0], [0.0, (40 - 39.5) / 399 + 0.5, 1.0], atol=1e-6)


def test_dicom_rescale_slope_and_intercept_are_applied_before_the_window(tmp_path):
    stored = np.array([[100, 200]], dtype=np.uint16)
    path = write_dicom(tmp_path / "a.dcm", stored, RescaleSlope=2, RescaleIntercept=-100,
                       WindowCenter=200, WindowWidth=200, VOILUTFunction="LINEAR_EXACT")
    # values 100 and 300 in a window 100 .. 300
    np.testing.assert_allclose(read_image(path)[0, 0], [0.0, 1.0], atol=1e-6)


@pytest.mark.parametrize(
    ("function", "center", "width", "expected"),
    [
        ("LINEAR_EXACT", 100, 50, [0.0, 0.5, 0.9, 1.0]),
        ("SIGMOID", 100, 50, [1 / (1 + np.exp(4.0)), 0.5, 1 / (1 + np.exp(-1.6)), 1 / (1 + np.exp(-8.0))]),
        ("LINEAR", 100, 1, [0.0, 1.0, 1.0, 1.0]),  # width 1: a threshold at the centre - 0.5
    ],
)
def test_dicom_window_functions(tmp_path, function, center, width, expected):
    stored = np.array([[50, 100, 120, 200]], dtype=np.uint16)
    path = write_dicom(tmp_path / "w.dcm", stored, WindowCenter=center, WindowWidth=width, VOILUTFunction=function)
    np.testing.assert_allclose(read_image(path)[0, 0], expected, atol=1e-6)


def test_dicom_first_of_several_windows_is_used(tmp_path):
    stored = np.array([[0, 100]], dtype=np.uint16)
    path = write_dicom(tmp_path / "w.dcm", stored, WindowCenter=[50, 1000], WindowWidth=[100, 10],
                       VOILUTFunction="LINEAR_EXACT")
    np.testing.assert_allclose(read_image(path)[0, 0], [0.0, 1.0], atol=1e-6)


def test_dicom_voi_lut_sequence_is_scaled_by_its_output_range(tmp_path):
    item = Dataset()
    item.add_new("LUTDescriptor", "US", [4, 10, 16])  # 4 entries mapping stored 10..13, declared 16 bits
    item.add_new("LUTData", "US", [0, 1000, 3000, 4000])
    stored = np.array([[5, 11, 12, 99]], dtype=np.uint16)
    path = write_dicom(tmp_path / "lut.dcm", stored, VOILUTSequence=[item])
    np.testing.assert_allclose(read_image(path)[0, 0], [0.0, 0.25, 0.75, 1.0], atol=1e-6)


def test_dicom_without_window_is_min_max_scaled(tmp_path):
    stored = np.array([[10, 20, 30]], dtype=np.uint16)
    np.testing.assert_allclose(read_image(write_dicom(tmp_path / "a.dcm", stored))[0, 0], [0.0, 0.5, 1.0])


def test_dicom_monochrome1_is_inverted_after_windowing(tmp_path):
    stored = np.array([[864, 1064, 2000]], dtype=np.uint16)
    window = dict(RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=400)
    mono2 = read_image(write_dicom(tmp_path / "m2.dcm", stored, "MONOCHROME2", 12, **window))
    mono1 = read_image(write_dicom(tmp_path / "m1.dcm", stored, "MONOCHROME1", 12, **window))
    np.testing.assert_allclose(mono1, 1.0 - mono2, atol=1e-6)
    assert mono1[0, 0, 0] == pytest.approx(1.0)


def test_multiframe_dicom_gives_middle_frame_or_volume(tmp_path):
    frames = np.stack([np.full((4, 5), 10 * f, np.uint16) for f in range(5)])
    path = write_dicom(tmp_path / "mf.dcm", frames)
    middle = read_image(path)
    volume = read_image(path, nifti_mode="volume")
    assert middle.shape == (1, 4, 5) and np.all(middle == 0.5)
    assert volume.shape == (1, 5, 4, 5)
    np.testing.assert_allclose(volume[0, :, 0, 0], [0.0, 0.25, 0.5, 0.75, 1.0])


def test_rgb_dicom_is_channel_first(tmp_path):
    path = write_dicom(tmp_path / "rgb.dcm", RGB, "RGB")
    np.testing.assert_allclose(read_image(path), RGB.transpose(2, 0, 1) / 255.0, atol=1e-7)


@pytest.mark.parametrize("name", ["IM000001", "1.2.840.113619.2.55.3"])
def test_dicom_without_extension_is_sniffed_by_its_preamble(tmp_path, name):
    path = write_dicom(tmp_path / "a.dcm", np.array([[0, 9]], dtype=np.uint16)).rename(tmp_path / name)
    (tmp_path / "notes").write_text("not an image")
    assert image_format(path) == "DICOM" and image_format(tmp_path / "notes") is None
    assert image_format(tmp_path / "absent") is None
    np.testing.assert_allclose(read_image(path)[0, 0], [0.0, 1.0])


# ------------------------------------------------------------------------------------ NIfTI


@pytest.mark.parametrize("name", ["v.nii", "v.nii.gz"])
def test_nifti_slice_and_volume_modes(tmp_path, name):
    volume = RNG.random((6, 7, 5)).astype(np.float32)
    path = write_nifti(tmp_path / name, volume)
    as_volume = read_image(path, nifti_mode="volume")
    as_slice = read_image(path)
    assert as_volume.shape == (1, 5, 6, 7)  # (C, D, H, W), D = the last NIfTI axis
    assert as_slice.shape == (1, 6, 7)
    np.testing.assert_array_equal(as_slice, as_volume[:, 2])
    # order preserved: the brightest voxel of the middle slice stays the brightest
    assert np.unravel_index(as_slice[0].argmax(), (6, 7)) == np.unravel_index(volume[:, :, 2].argmax(), (6, 7))


def test_nifti_normalisation_ignores_outliers(tmp_path):
    volume = np.tile(np.linspace(0, 100, 1000, dtype=np.float32).reshape(10, 10, 10), 1)
    volume[0, 0, 0] = 1e6  # one hot voxel must not squash everything else to 0
    image = read_image(write_nifti(tmp_path / "v.nii", volume), nifti_mode="volume")
    assert image.max() == 1.0
    assert 0.4 < np.median(image) < 0.6


@pytest.mark.parametrize(("shape", "expected"), [((6, 7), (1, 1, 6, 7)), ((6, 7, 5, 2), (1, 5, 6, 7))])
def test_2d_and_4d_nifti_become_one_volume(tmp_path, shape, expected):
    data = RNG.random(shape).astype(np.float32)
    if data.ndim == 4:
        data[..., 1] = 0  # a 4-D file contributes its first volume, not this blank second one
    image = read_image(write_nifti(tmp_path / "v.nii", data), nifti_mode="volume")
    assert image.shape == expected and image.std() > 0.1


def test_nifti_without_voxels_is_a_read_error(tmp_path):
    path = write_nifti(tmp_path / "v.nii", np.zeros((5, 5, 0), np.float32))
    with pytest.raises(ImageReadError, match=r"NIfTI has no voxels: shape \(5, 5, 0\)"):
        read_image(path)


def test_unknown_nifti_mode_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="nifti_mode"):
        read_image(tmp_path / "x.png", nifti_mode="middle")


# ------------------------------------------------------------------------------- bad files


def _truncated(source: Path, keep: float = 0.5) -> bytes:
    data = source.read_bytes()
    return data[: int(len(data) * keep)]


def _bad_truncated_jpeg(tmp_path: Path) -> bytes:
    # large enough for Pillow to parse the header and fail only while decoding the scan
    Image.fromarray(RNG.integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(tmp_path / "src.jpg")
    return _truncated(tmp_path / "src.jpg")


def _bad_truncated_dicom(tmp_path: Path) -> bytes:
    return _truncated(write_dicom(tmp_path / "src.dcm", RNG.integers(0, 4096, (32, 32), dtype=np.uint16)), 0.8)


def _bad_pixel_less_dicom(tmp_path: Path) -> bytes:
    return write_dicom(tmp_path / "src.dcm", None).read_bytes()


def _bad_compressed_dicom(tmp_path: Path) -> bytes:
    path = write_dicom(tmp_path / "src.dcm", np.zeros((8, 8), np.uint16))
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = JPEGLSLossless  # no JPEG-LS decoder is installed
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xf7" + bytes(60)])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path.read_bytes()


def _bad_truncated_nifti(tmp_path: Path) -> bytes:
    return _truncated(write_nifti(tmp_path / "src.nii", RNG.random((8, 8, 8)).astype(np.float32)), 0.7)


def _bad_plain_nifti_named_gz(tmp_path: Path) -> bytes:
    return write_nifti(tmp_path / "src.nii", RNG.random((4, 4, 4)).astype(np.float32)).read_bytes()


#: (file name, bytes maker, fragment of the reason)
BAD_FILES = {
    "empty": ("empty.png", lambda tmp: b"", "empty file"),
    "random bytes": ("noise.jpg", lambda tmp: np.random.default_rng(1).bytes(700), "not a JPEG image"),
    "truncated jpeg": ("cut.jpg", _bad_truncated_jpeg, "truncated or corrupt JPEG"),
    "random dicom": ("noise.dcm", lambda tmp: np.random.default_rng(2).bytes(700), "not a DICOM file"),
    "truncated dicom": ("cut.dcm", _bad_truncated_dicom, "truncated or corrupt DICOM pixel data"),
    "pixel-less dicom": ("report.dcm", _bad_pixel_less_dicom, "DICOM has no pixel data"),
    "compressed dicom": ("jls.dcm", _bad_compressed_dicom, "needs a decoder plugin: pip install pylibjpeg"),
    "truncated nifti": ("cut.nii", _bad_truncated_nifti, "truncated or corrupt NIfTI"),
    "not gzip": ("plain.nii.gz", _bad_plain_nifti_named_gz, "not a gzip file"),
}


@pytest.fixture(params=sorted(BAD_FILES))
def bad_file(request, tmp_path) -> tuple[Path, str]:
    name, make, reason = BAD_FILES[request.param]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    path = tmp_path / name
    path.write_bytes(make(scratch))
    return path, reason


def test_read_image_raises_with_a_short_reason(bad_file):
    path, reason = bad_file
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert reason in info.value.reason
    assert info.value.path == str(path)
    assert "\n" not in info.value.reason and len(info.value.reason) <= 200


def _items(tmp_path: Path, bad: Path) -> list[dict]:
    Image.fromarray(RGB).save(tmp_path / "good.png")
    good = tmp_path / "good.png"
    return [{"id": bad.name, "path": str(bad), "label": 0}, {"id": good.name, "path": str(good), "label": 1}]


def test_guarded_dataset_and_skip_collate_report_the_bad_file(tmp_path, bad_file):
    path, reason = bad_file
    dataset = GuardedDataset(_items(tmp_path, path), LoadArchiveImaged(image_size=8))
    batch = skip_collate([dataset[0], dataset[1]])
    assert batch["id"] == ["good.png"] and tuple(batch["image"].shape) == (1, 3, 8, 8)
    [(skipped_id, skipped_reason)] = batch["skipped"]
    assert skipped_id == path.name and reason in skipped_reason


def test_load_cohort_skips_the_bad_file(tmp_path, bad_file):
    path, reason = bad_file
    samples, skipped = load_cohort(_items(tmp_path, path), image_size=8, progress=False)
    assert [s["id"] for s in samples] == ["good.png"] and samples[0]["label"] == 1
    assert len(skipped) == 1 and skipped[0][0] == path.name and reason in skipped[0][1]


def test_missing_file_and_unsupported_type_raise(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageReadError, match="file vanished since the archive was listed"):
        read_image(tmp_path / "absent.png")
    with pytest.raises(ImageReadError, match="not an image file type"):
        read_image(tmp_path / "notes.txt")


def test_image_read_error_survives_pickling():
    error = pickle.loads(pickle.dumps(ImageReadError("a/b.png", "empty file")))
    assert (error.path, error.reason, str(error)) == ("a/b.png", "empty file", "a/b.png: empty file")
