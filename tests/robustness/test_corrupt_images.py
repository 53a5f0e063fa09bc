"""Corrupt images end training and evaluation the same one-line way (the record and the file
named), whatever reads them: zero bytes, a truncated JPEG, text named .jpg, a decompression bomb."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from pefomed.data.record import VQARecord
from pefomed.train import Budget, TrainConfig
from pefomed.train.loop import train

from .conftest import assert_one_line, assert_refused, cli, write_dataset


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 30, 200)).save(buf, format="JPEG")
    return buf.getvalue()


def _bomb() -> bytes:
    """A PNG whose header claims 30000 x 30000 pixels (PIL's bomb limit is ~179M)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


CORRUPT = {
    "zero.jpg": b"",
    "truncated.jpg": _jpeg()[:200],
    "text.jpg": b"this is not an image\n",
    "bomb.png": _bomb(),
}


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_training_on_a_corrupt_image_is_one_line(tiny_adapted, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(CORRUPT[name])
    record = VQARecord(id="bad-1", question="is there a mass?", answer="yes", answer_type="closed",
                       image=path)
    with pytest.raises(Exception) as info:
        train(tiny_adapted, [record], TrainConfig(batch_size=1, device="cpu"), Budget(max_steps=1),
              progress=False)
    assert_one_line(info.value, "bad-1", name, "unreadable")


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_cli_train_on_a_corrupt_image_is_one_line_and_writes_nothing(tmp_path, name):
    data = write_dataset(tmp_path / "ds", {"ok.png": None, name: CORRUPT[name]}, n=2)
    out = tmp_path / "run"
    result = cli("train", "--model", "tiny-llava", "--dataset", data, "--adapter", "lora",
                 "--device", "cpu", "--train-split", "train", "--eval-split", "train",
                 "--max-steps", "1", "--batch-size", "2", "--out", out)
    assert_refused(result, name, "unreadable")
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_a_good_image_still_loads(tmp_path):
    path = tmp_path / "ok.jpg"
    path.write_bytes(_jpeg())
    record = VQARecord(id="ok", question="q?", answer="yes", answer_type="closed", image=path)
    assert record.load_image().size == (64, 64)
