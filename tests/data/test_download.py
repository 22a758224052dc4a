"""The download code against a local HTTP server on 127.0.0.1: good file, corrupted file, interrupted transfer."""
import hashlib

import pytest

from visionpath.data.download import DownloadError, download

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB
MD5 = hashlib.md5(PAYLOAD).hexdigest()


def test_good_file_is_downloaded_and_verified(file_server, tmp_path):
    file_server.files["/data.bin"] = PAYLOAD
    dest = download(file_server.url + "data.bin", tmp_path / "data.bin", MD5)
    assert dest.read_bytes() == PAYLOAD
    assert list(tmp_path.iterdir()) == [dest]  # no temporary file left behind


def test_cached_file_is_not_downloaded_again(file_server, tmp_path):
    file_server.files["/data.bin"] = PAYLOAD
    download(file_server.url + "data.bin", tmp_path / "data.bin", MD5)
    download(file_server.url + "data.bin", tmp_path / "data.bin", MD5)
    assert file_server.requests == ["/data.bin"]


def test_corrupted_file_is_a_checksum_error_and_leaves_nothing(file_server, tmp_path):
    file_server.files["/data.bin"] = PAYLOAD[:-1] + b"x"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(file_server.url + "data.bin", tmp_path / "data.bin", MD5, retries=2)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_transfer_is_retried(file_server, tmp_path):
    file_server.files["/data.bin"] = PAYLOAD
    file_server.truncate["/data.bin"] = 1000
    file_server.truncate_times["/data.bin"] = 1  # the first try is cut off, the second completes
    dest = download(file_server.url + "data.bin", tmp_path / "data.bin", MD5, retries=3)
    assert dest.read_bytes() == PAYLOAD
    assert file_server.requests == ["/data.bin", "/data.bin"]


def test_transfer_cut_off_every_time_fails_cleanly(file_server, tmp_path):
    file_server.files["/data.bin"] = PAYLOAD
    file_server.truncate["/data.bin"] = 1000
    file_server.truncate_times["/data.bin"] = 99
    with pytest.raises(DownloadError, match="cut off"):
        download(file_server.url + "data.bin", tmp_path / "data.bin", MD5, retries=2)
    assert list(tmp_path.iterdir()) == []


def test_a_broken_file_in_the_cache_is_replaced(file_server, tmp_path):
    file_server.files["/data.bin"] = PAYLOAD
    (tmp_path / "data.bin").write_bytes(b"half a file")
    assert download(file_server.url + "data.bin", tmp_path / "data.bin", MD5).read_bytes() == PAYLOAD


def test_second_mirror_is_used_when_the_first_has_no_file(file_server, tmp_path):
    file_server.files["/mirror2/data.bin"] = PAYLOAD
    urls = [file_server.url + "mirror1/data.bin", file_server.url + "mirror2/data.bin"]
    assert download(urls, tmp_path / "data.bin", MD5).read_bytes() == PAYLOAD
    assert file_server.requests == ["/mirror1/data.bin", "/mirror2/data.bin"]  # a 404 is not retried


def test_offline_refuses_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONPATH_OFFLINE", "1")
    with pytest.raises(DownloadError, match="VISIONPATH_OFFLINE"):
        download("http://127.0.0.1:9/x", tmp_path / "x", MD5)
