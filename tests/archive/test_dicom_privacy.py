"""DICOM columns: keyed hashes of the patient, study and series; no raw identifier in any output file or message."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import pydicom
import torch
from bad_archive import write_dicom

from monai_debclust.archive import ArchiveClusterer
from monai_debclust.curation import CurateArchiveImaged, dicom_columns, load_secret
from monai_debclust.data import ImageArchive
from monai_debclust.networks import DebClustNet

from .helpers import NETWORK_ARGS

IDENTIFIERS = {"PatientID": "MRN-4711-0815", "PatientName": "Doe^Jane", "PatientBirthDate": "19610203",
               "StudyInstanceUID": "1.2.826.0.1.3680043.9.7133.1", "SeriesInstanceUID": "1.2.826.0.1.3680043.9.7133.2",
               "StudyDate": "20190314", "AccessionNumber": "ACC998877"}


def _raw_values() -> list[str]:
    return [*IDENTIFIERS.values(), "MRN-0000-0001"]


def _archive(root: Path) -> Path:
    root.mkdir()
    rng = np.random.default_rng(0)
    for n in range(3):
        elements = dict(IDENTIFIERS, Laterality="L" if n else "R", SeriesInstanceUID=IDENTIFIERS["SeriesInstanceUID"]
                        + str(n))
        write_dicom(root / f"scan_{n}.dcm", rng.integers(0, 4096, (48, 48), dtype=np.uint16), bits_stored=12,
                    WindowCenter=2048, WindowWidth=4096, **elements)
    write_dicom(root / "other.dcm", rng.integers(0, 4096, (48, 48), dtype=np.uint16), bits_stored=12,
                PatientID="MRN-0000-0001", StudyDate="2019")  # an invalid date: no year column
    data = (root / "scan_0.dcm").read_bytes()
    (root / "cut.dcm").write_bytes(data[: len(data) // 3])  # the header parses, the pixels are cut short
    return root


def test_raw_identifiers_appear_in_no_output_file_or_message(tmp_path, capfd, caplog):
    archive = _archive(tmp_path / "archive")
    output = tmp_path / "run"
    torch.manual_seed(0)
    transform = CurateArchiveImaged(image_size=32, dicom_secret=tmp_path / "secret")
    with caplog.at_level(logging.DEBUG):
        ArchiveClusterer(ImageArchive(archive, layout="none"), DebClustNet(**NETWORK_ARGS).eval(), transform, output,
                         batch_size=2, num_workers=0, progress=False).run()
    with open(output / "assignments.csv", newline="") as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == ["other.dcm", "scan_0.dcm", "scan_1.dcm", "scan_2.dcm"]
    scans = [rows[f"scan_{n}.dcm"] for n in range(3)]
    assert len({row["patient"] for row in scans}) == 1 and len(scans[0]["patient"]) == 16
    assert rows["other.dcm"]["patient"] not in ("", scans[0]["patient"])
    assert len({row["series"] for row in scans}) == 3 and len({row["study"] for row in scans}) == 1
    assert [row["laterality"] for row in scans] == ["R", "L", "L"] and scans[0]["modality"] == "OT"
    assert scans[0]["study_year"] == "2019" and rows["other.dcm"]["study_year"] == ""
    assert (output / "thumbnails" / "0.jpg").is_file()

    output_files = [path for path in output.rglob("*") if path.is_file()]
    assert len(output_files) > 10
    texts = capfd.readouterr()
    messages = [texts.out, texts.err, caplog.text]
    for raw in _raw_values():
        encodings = [raw.encode(), raw.encode("utf-32-le"), raw.encode("utf-16-le")]  # NumPy stores str as UTF-32
        leaks = [path.name for path in output_files if any(e in path.read_bytes() for e in encodings)]
        assert leaks == [], f"{raw} written to {leaks}"
        assert not any(raw in message for message in messages)
    assert not any((tmp_path / "secret").read_bytes() in path.read_bytes() for path in output_files)


def test_keyed_hash_is_stable_per_key_and_differs_between_keys(tmp_path):
    ds = pydicom.Dataset()
    ds.PatientID, ds.Modality = "MRN-4711-0815", "CT"
    key = load_secret(tmp_path / "a")
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o600
    assert load_secret(tmp_path / "a") == key
    first, again = dicom_columns(ds, key), dicom_columns(ds, load_secret(tmp_path / "a"))
    other = dicom_columns(ds, load_secret(tmp_path / "b"))
    assert first["patient"] == again["patient"] != other["patient"]
    assert first["study"] == "" and first["modality"] == "CT"
