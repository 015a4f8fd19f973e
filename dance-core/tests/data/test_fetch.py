from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from pathlib import Path

import pytest

from dance.core.data.fetch import fetch_dataset, file_status, locate_file
from dance.core.errors import ChecksumMismatchError, DataFileMissingError
from dance.core.specs import DataFile, DatasetSpec

CONTENT = b"real bytes of a dataset file\n" * 100
SHA = hashlib.sha256(CONTENT).hexdigest()


def spec_with(**file_fields) -> DatasetSpec:
    file = DataFile(path="demo/file.bin", **file_fields)
    return DatasetSpec(name="demo", summary="s", target="x.y:z", tasks=("clustering",), files=(file,))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("DANCE_CACHE_DIR", str(folder))
    monkeypatch.delenv("DANCE_DATA_DIR", raising=False)
    return folder


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):
        body, truncate = self.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if truncate else body)
        if truncate:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.routes
    httpd.shutdown()


def test_found_in_data_dir_by_relative_path(tmp_path, cache, monkeypatch):
    (tmp_path / "data" / "demo").mkdir(parents=True)
    (tmp_path / "data" / "demo" / "file.bin").write_bytes(CONTENT)
    monkeypatch.setenv("DANCE_DATA_DIR", f"{tmp_path / 'nothing'}:{tmp_path / 'data'}")
    spec = spec_with(sha256=SHA)
    assert locate_file(spec, spec.files[0]) == tmp_path / "data" / "demo" / "file.bin"
    assert file_status(spec)[0][1] == "DANCE_DATA_DIR"


def test_wrong_checksum_is_an_error_naming_both_hashes(tmp_path, cache, monkeypatch):
    (tmp_path / "file.bin").write_bytes(CONTENT + b"tampered")
    monkeypatch.setenv("DANCE_DATA_DIR", str(tmp_path))
    spec = spec_with(sha256=SHA)
    with pytest.raises(ChecksumMismatchError, match=f"expected {SHA}"):
        locate_file(spec, spec.files[0])


def test_offline_error_names_the_file_and_how_to_provide_it(cache):
    spec = spec_with(sha256=SHA, url="http://127.0.0.1:9/file.bin")
    with pytest.raises(DataFileMissingError) as info:
        fetch_dataset(spec)
    message = str(info.value)
    assert "demo/file.bin" in message and str(cache) in message and "DANCE_DATA_DIR" in message and "downloading" in message


def test_download_is_verified_and_cached(server, cache):
    base, routes = server
    routes["/good.bin"] = (CONTENT, False)
    spec = spec_with(sha256=SHA, url=f"{base}/good.bin")
    path = locate_file(spec, spec.files[0])
    assert path == cache / "demo" / "file.bin" and path.read_bytes() == CONTENT
    routes.clear()  # the second lookup must not download again
    assert locate_file(spec, spec.files[0]) == path


@pytest.mark.parametrize("truncate", [False, True])
def test_failed_download_leaves_no_file_behind(server, cache, truncate):
    base, routes = server
    routes["/bad.bin"] = (CONTENT + (b"" if truncate else b"different"), truncate)
    spec = spec_with(sha256=SHA, url=f"{base}/bad.bin")
    with pytest.raises((ChecksumMismatchError, DataFileMissingError)):
        locate_file(spec, spec.files[0])
    leftovers = [p for p in cache.rglob("*") if p.is_file() and p.name != "verified-sha256.json"]
    assert leftovers == []


def test_unpublished_hash_is_pinned_at_first_use(tmp_path, cache, monkeypatch):
    target = tmp_path / "demo" / "file.bin"
    target.parent.mkdir()
    target.write_bytes(CONTENT)
    monkeypatch.setenv("DANCE_DATA_DIR", str(tmp_path))
    spec = spec_with()
    assert locate_file(spec, spec.files[0]) == target
    target.write_bytes(CONTENT + b"changed later")
    with pytest.raises(ChecksumMismatchError, match="pinned at first use"):
        locate_file(spec, spec.files[0])


def test_embedded_file_in_a_package(tmp_path, cache, monkeypatch):
    package = tmp_path / "embedding_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "file.bin").write_bytes(CONTENT)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = spec_with(sha256=SHA, package="embedding_pkg")
    assert Path(locate_file(spec, spec.files[0])).read_bytes() == CONTENT
    assert spec.embedded and file_status(spec)[0][1] == "embedded"
