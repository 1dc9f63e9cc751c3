"""Small files at paths someone else chose: regular files only, never a blocking open, never past the limit."""

from __future__ import annotations

import os

import pytest

from okta_security.files import FileRefused, read_small_file


def test_a_regular_file_behind_a_symlink_is_read(tmp_path):
    (tmp_path / "target").write_bytes(b"content")
    (tmp_path / "link").symlink_to(tmp_path / "target")  # as a Kubernetes mount lays it out
    st, data = read_small_file(str(tmp_path / "link"), 7)
    assert data == b"content"
    assert st.st_ino == os.stat(tmp_path / "target").st_ino


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: os.mkfifo(p), "a FIFO (named pipe)"),  # opening it to read would wait for a writer
        (lambda p: p.symlink_to("/dev/zero"), "a character device"),  # reading it would never end
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: p.write_bytes(b"x" * 101), "101 bytes, more than the 100 allowed"),
    ],
    ids=["fifo", "dev-zero", "directory", "too-large"],
)
def test_anything_but_a_small_regular_file_is_refused_at_once(tmp_path, make, words):
    path = tmp_path / "file"
    make(path)
    with pytest.raises(FileRefused) as refused:
        read_small_file(str(path), 100)
    assert words in refused.value.strerror
    assert refused.value.stat.st_ino == os.stat(path).st_ino
