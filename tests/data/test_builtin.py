"""Built-in datasets: IDX and CIFAR parsers, local copies, the cache, downloads and the missing-data error."""
import gzip
import hashlib
import importlib
import io
import pickle
import struct
import tarfile

import numpy as np
import pytest

from conftest import SHARED_DATA
from visionpath.data.builtin import (DATASETS, BuiltinDataset, SourceFile, dataset_cache_dir, load_builtin,
                                     locate_files, read_cifar_archive, read_idx)
from visionpath.errors import VisionpathError


def idx_bytes(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape) + array.tobytes()


def test_read_idx_gzip_and_raw(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "raw").write_bytes(idx_bytes(images))
    (tmp_path / "packed.gz").write_bytes(gzip.compress(idx_bytes(images)))
    assert np.array_equal(read_idx(tmp_path / "raw"), images)
    assert np.array_equal(read_idx(tmp_path / "packed.gz"), images)


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path):
    (tmp_path / "short").write_bytes(idx_bytes(np.zeros((5, 4), np.uint8))[:-3])
    (tmp_path / "foreign").write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(VisionpathError, match="truncated"):
        read_idx(tmp_path / "short")
    with pytest.raises(VisionpathError, match="not an IDX file"):
        read_idx(tmp_path / "foreign")


def make_cifar_archive(path, n_per_batch=4):
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[name] = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                         b"labels": list(rng.integers(0, 10, n_per_batch))}
    batches["batches.meta"] = {b"label_names": [f"c{i}".encode() for i in range(10)]}
    with tarfile.open(path, "w:gz") as tar:
        for name, content in batches.items():
            blob = pickle.dumps(content)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return batches


def test_read_cifar_archive(tmp_path):
    batches = make_cifar_archive(tmp_path / "c.tar.gz")
    xtr, ytr, xte, yte, names = read_cifar_archive(tmp_path / "c.tar.gz", [f"data_batch_{i}" for i in range(1, 6)],
                                                   "test_batch", b"labels", "batches.meta", b"label_names")
    assert xtr.shape == (20, 32, 32, 3) and xte.shape == (4, 32, 32, 3)
    assert names == [f"c{i}" for i in range(10)]
    # CIFAR rows are 1024 red values, then green, then blue: pixel (0, 0) is (row[0], row[1024], row[2048]).
    row = batches["data_batch_1"][b"data"][0]
    assert tuple(xtr[0, 0, 0]) == (row[0], row[1024], row[2048])
    assert list(yte) == list(batches["test_batch"][b"labels"])


def fake_dataset(tmp_path, payload: bytes) -> BuiltinDataset:
    md5 = hashlib.md5(payload).hexdigest()
    return BuiltinDataset("fake", "test", ("http://127.0.0.1:9/",), (SourceFile("data.idx.gz", md5),),
                          lambda files: files, (0.5,), (0.5,))


def test_local_copy_in_data_dir_is_found_and_verified(tmp_path):
    payload = gzip.compress(idx_bytes(np.zeros((2, 2), np.uint8)))
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "data.idx.gz").write_bytes(payload)
    assert locate_files(fake_dataset(tmp_path, payload), tmp_path)["data.idx.gz"] == tmp_path / "fake" / "data.idx.gz"


def test_missing_data_offline_names_the_files_and_where_to_put_them(tmp_path):
    (tmp_path / "data.idx.gz").write_bytes(b"wrong bytes")
    with pytest.raises(VisionpathError) as e:
        locate_files(fake_dataset(tmp_path, b"right bytes"), tmp_path)
    message = str(e.value)
    assert "data.idx.gz" in message and str(dataset_cache_dir("fake")) in message and "--data-dir" in message
    assert "did not match their checksums" in message


def test_download_goes_to_the_cache(file_server, tmp_path):
    payload = b"some published bytes"
    file_server.files["/data.idx.gz"] = payload
    spec = fake_dataset(tmp_path, payload)
    spec = BuiltinDataset(spec.name, spec.description, (file_server.url,), spec.files, spec.read, spec.mean, spec.std)
    located = locate_files(spec)
    assert located["data.idx.gz"] == dataset_cache_dir("fake") / "data.idx.gz"
    assert located["data.idx.gz"].read_bytes() == payload


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(VisionpathError, match="mnist, fashion-mnist, cifar10, cifar100"):
        load_builtin("imagenet")


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="needs ../shared/data/mnist")
def test_real_mnist_recompressed_copy_verifies_by_content():
    xtr, ytr, xte, yte, classes = load_builtin("mnist", SHARED_DATA)
    assert xtr.shape == (60000, 28, 28, 1) and xte.shape == (10000, 28, 28, 1)
    assert np.bincount(ytr).tolist()[:2] == [5923, 6742] and classes == [str(d) for d in range(10)]


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "fashion-mnist").is_dir(), reason="needs ../shared/data/fashion-mnist")
def test_real_fashion_mnist():
    xtr, ytr, xte, yte, classes = load_builtin("fashion-mnist", SHARED_DATA)
    assert xtr.shape == (60000, 28, 28, 1) and classes[9] == "Ankle boot"
    assert DATASETS["fashion-mnist"].system_dirs == ("/usr/share/datasets/fashion-mnist",)


def make_jpeg_zip(path, classes, counts=(3, 2), size=8, extra=()):
    from PIL import Image
    import zipfile
    with zipfile.ZipFile(path, "w") as archive:
        for split, n in zip(("train", "test"), counts):
            for label, name in enumerate(classes):
                for i in range(n):
                    blob = io.BytesIO()
                    Image.fromarray(np.full((size, size, 3), 20 * label, np.uint8)).save(blob, "JPEG", quality=95)
                    archive.writestr(f"{split}/{name}/{i:04d}.jpg", blob.getvalue())
        for name in extra:
            archive.writestr(name, b"junk")


def jpeg_zip_dataset():
    return BuiltinDataset("fakecifar", "test", (), (SourceFile("fake.tar.gz", "0" * 32),), lambda files: None,
                          (0.5,) * 3, (0.5,) * 3, jpeg_zip="fake-jpg.zip", classes=("zebra", "ant", "cat"),
                          split_sizes=(9, 6))


def test_jpeg_zip_gives_canonical_labels_and_is_cached(tmp_path, monkeypatch):
    builtin = importlib.import_module("visionpath.data.builtin")
    spec = jpeg_zip_dataset()
    monkeypatch.setitem(builtin.DATASETS, "fakecifar", spec)
    make_jpeg_zip(tmp_path / "fake-jpg.zip", spec.classes, extra=("__MACOSX/train/._x.jpg", "train/.DS_Store"))
    xtr, ytr, xte, yte, classes = load_builtin("fakecifar", tmp_path)
    assert classes == ["zebra", "ant", "cat"]  # the canonical order, not the sorted folder names
    assert xtr.shape == (9, 8, 8, 3) and xte.shape == (6, 8, 8, 3)
    # label k was drawn with grey level 20k: labels follow the canonical class order
    assert all(abs(int(x.mean()) - 20 * int(y)) <= 2 for x, y in zip(xtr, ytr))
    monkeypatch.setattr(builtin, "read_jpeg_zip", lambda *a: pytest.fail("decoded twice"))
    again = load_builtin("fakecifar", tmp_path)
    assert np.array_equal(again[0], xtr) and again[4] == classes


def test_jpeg_zip_with_the_wrong_layout_says_what_it_found(tmp_path, monkeypatch):
    builtin = importlib.import_module("visionpath.data.builtin")
    monkeypatch.setitem(builtin.DATASETS, "fakecifar", jpeg_zip_dataset())
    make_jpeg_zip(tmp_path / "fake-jpg.zip", ("zebra", "ant"))
    with pytest.raises(VisionpathError, match="does not hold the expected train split .* found 6 in ant, zebra"):
        load_builtin("fakecifar", tmp_path)


def test_jpeg_zip_members_that_are_not_pictures_or_too_large_are_one_sentence(tmp_path, monkeypatch):
    import zipfile
    builtin = importlib.import_module("visionpath.data.builtin")
    monkeypatch.setitem(builtin.DATASETS, "fakecifar", jpeg_zip_dataset())
    make_jpeg_zip(tmp_path / "good.zip", ("zebra", "ant", "cat"))
    for content, sentence in ((b"not a jpeg", "0001.jpg is not a readable picture"),
                              (bytes(2 << 20), "0001.jpg unpacks to 2,097,152 bytes")):
        with zipfile.ZipFile(tmp_path / "good.zip") as good, \
                zipfile.ZipFile(tmp_path / "fake-jpg.zip", "w", zipfile.ZIP_DEFLATED) as bad:
            for name in good.namelist():
                bad.writestr(name, content if name == "train/ant/0001.jpg" else good.read(name))
        with pytest.raises(VisionpathError, match=sentence):
            load_builtin("fakecifar", tmp_path)
    assert not list((builtin.dataset_cache_dir("fakecifar")).glob("*"))  # nothing half-made was cached


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "cifar10-jpg.zip").is_file(), reason="needs ../shared/data/cifar10-jpg.zip")
def test_real_cifar10_jpeg_zip_layout():
    import zipfile
    names = zipfile.ZipFile(SHARED_DATA / "cifar10-jpg.zip").namelist()
    assert sorted({n.split("/")[1] for n in names if n.count("/") == 2}) == sorted(DATASETS["cifar10"].classes)
    assert sum(n.startswith("train/") and n.endswith(".jpg") for n in names) == DATASETS["cifar10"].split_sizes[0]
