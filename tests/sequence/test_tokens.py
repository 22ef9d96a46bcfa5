"""Token files: round trip, and one-line errors naming file, line and problem."""

import numpy as np
import pytest
import torch

from gmrl.sequence.tokens import TokenFileError, read_token_file, write_token_file


def test_round_trip_of_a_tensor_batch(tmp_path) -> None:
    tokens = torch.randint(0, 5000, (7, 20), generator=torch.Generator().manual_seed(0))
    path = write_token_file(tokens.tolist(), tmp_path / "samples.txt")
    assert path.read_text().count("\n") == 7
    assert np.array_equal(read_token_file(path, vocab_size=5000), tokens.numpy())


@pytest.mark.parametrize(("text", "message"), [
    ("1 2 x\n", r"s\.txt:1: token 'x' is not an integer id"),
    ("1 2\n1 9\n", r"s\.txt:2: id 9 outside 0\.\.4 \(five ids\)"),
    ("1 2\n1\n", r"s\.txt:2: 1 ids where earlier lines have 2"),
    ("\n", "holds no sequences"),
])
def test_bad_content_is_one_line(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "s.txt"
    path.write_text(text)
    with pytest.raises(TokenFileError, match=message) as info:
        read_token_file(path, vocab_size=5, legend="(five ids)")
    assert "\n" not in str(info.value)


def test_gzip_files_round_trip_and_a_truncated_one_is_one_line(tmp_path) -> None:
    tokens = torch.randint(0, 5000, (50, 20), generator=torch.Generator().manual_seed(1))
    path = write_token_file(tokens.tolist(), tmp_path / "samples.txt.gz")
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert np.array_equal(read_token_file(path), tokens.numpy())
    again = write_token_file(tokens.tolist(), tmp_path / "again.txt.gz")
    assert again.read_bytes() == path.read_bytes()  # no timestamp inside
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(TokenFileError, match="cannot read token file") as info:
        read_token_file(path)
    assert "\n" not in str(info.value)
