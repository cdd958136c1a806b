"""The GGUF header reader on real files, whole, cut short, and written wrong on purpose.

Each bad file here is one a user can meet (an interrupted copy, a hand-edited or hostile header); each must be
one NotGguf line, never a Python error, and never a file that imports fine and breaks `list` afterwards.
"""

from __future__ import annotations

import re
import struct

import pytest

from deskseek.models import gguf
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.fixtures import gguf_writers
from tests.fixtures.app_stores import tiny_models  # noqa: F401  (session fixture)

UINT32, STRING, ARRAY, UINT64 = 4, 8, 9, 10


def text(value: str) -> bytes:
    data = value.encode()
    return struct.pack("<Q", len(data)) + data


def kv(key: str, kind: int, payload: bytes) -> bytes:
    return text(key) + struct.pack("<I", kind) + payload


def arch(name: str = "llama") -> bytes:
    return kv("general.architecture", STRING, text(name))


def tensor_info(name: str, shape: tuple[int, ...], ggml_type: int = 0, offset: int = 0) -> bytes:
    return text(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape) + \
        struct.pack("<IQ", ggml_type, offset)


def write(path, kvs: list[bytes], tensors: list[bytes] = (), data_size: int = 0, *, alignment: int = 32):
    """A GGUF v3 file: header, KV pairs, tensor infos, padding to `alignment`, then `data_size` bytes of data."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs) + b"".join(tensors)
    padded = head + b"\0" * (-len(head) % alignment)
    path.write_bytes(padded + b"\1" * data_size)
    return path


def test_facts_from_real_headers(tiny_models):  # noqa: F811
    r1, plain, bare = (gguf.read(p) for p in (tiny_models.r1, tiny_models.plain, tiny_models.bare))
    assert r1.architecture == "llama" and r1.quant == "F16" and r1.parameters > 100_000
    assert (r1.thinks, plain.thinks, bare.thinks) == (True, False, None)
    assert gguf.read_set(tiny_models.split).parameters == r1.parameters


def test_a_gguf_truncated_to_60_mb_is_refused_before_llama_cpp_sees_it(starter_path, tmp_path):  # noqa: F811
    assert gguf.read(starter_path).parameters > 100_000_000  # the whole file reads
    cut = gguf_writers.truncated(starter_path, tmp_path / "cut.gguf", 60_000_000)
    with pytest.raises(gguf.NotGguf) as caught:
        gguf.read(cut)
    assert re.fullmatch(rf"{re.escape(str(cut))}: truncated: tensor data ends at 98362\d\d\d bytes, file has 60000000 "
                        r"\(the file is incomplete or damaged\)", str(caught.value))


def test_one_byte_short_is_truncated(tiny_models, tmp_path):  # noqa: F811
    size = tiny_models.r1.stat().st_size
    cut = gguf_writers.truncated(tiny_models.r1, tmp_path / "cut.gguf", size - 1)
    with pytest.raises(gguf.NotGguf, match=f"truncated: tensor data ends at {size} bytes, file has {size - 1}"):
        gguf.read(cut)


def test_the_data_section_starts_at_general_alignment(tmp_path):
    tensors = [tensor_info("w", (4,))]  # 4 f32: 16 bytes at offset 0
    fits = write(tmp_path / "a.gguf", [arch(), kv("general.alignment", UINT32, struct.pack("<I", 256))],
                 tensors, 16, alignment=256)
    assert gguf.read(fits).tensors[0].nbytes == 16
    # The same bytes padded only to 32: with 256 declared, the data would start later and run past the end.
    short = write(tmp_path / "b.gguf", [arch(), kv("general.alignment", UINT32, struct.pack("<I", 256))],
                  tensors, 16, alignment=32)
    with pytest.raises(gguf.NotGguf, match="truncated: tensor data ends at 272 bytes"):
        gguf.read(short)


def test_a_tensor_whose_offset_is_past_the_end_is_truncated(tmp_path):
    path = write(tmp_path / "x.gguf", [arch()], [tensor_info("w", (4,), offset=1 << 40)], 16)
    with pytest.raises(gguf.NotGguf, match=r"truncated: tensor data ends at \d+ bytes"):
        gguf.read(path)


@pytest.mark.parametrize(
    "kvs, message",
    [
        ([arch(), kv("tokenizer.ggml.tokens", ARRAY, struct.pack("<IQ", STRING, 2**62))],
         r"malformed GGUF header \(an array of 4611686018427387904 items\)"),
        ([arch(), kv("x", ARRAY, struct.pack("<IQ", UINT32, 2**62))], r"an array of 4611686018427387904 items"),
        ([arch(), kv("x", ARRAY, struct.pack("<IQ", UINT64, 2**30))], r"truncated GGUF header"),
        ([kv("general.architecture", UINT32, struct.pack("<I", 7))],
         r"malformed GGUF header \(general.architecture is 7, not a string\)"),
        ([arch("[red]llama[/]")], r"general.architecture '\[red\]llama\[/\]' is not an architecture name"),
        ([arch(), kv("tokenizer.chat_template", UINT32, struct.pack("<I", 1))], r"tokenizer.chat_template is 1, not a"),
        ([arch(), kv("llama.block_count", STRING, text("many"))], r"llama.block_count is 'many', not a count"),
        ([arch(), kv("general.alignment", UINT32, struct.pack("<I", 0))], r"general.alignment 0 is not a power of two"),
        ([arch(), kv("general.alignment", UINT32, struct.pack("<I", 48))], r"general.alignment 48 is not a power"),
        ([arch(), text("x") + struct.pack("<IQ", STRING, 2**40)], r"malformed GGUF header \(string of 1099511627776 bytes\)"),
        ([arch(), kv("x", 99, b"")], r"unknown value type 99"),
        ([arch(), kv("x", ARRAY, struct.pack("<IQ", 77, 1))], r"unknown value type 77"),
        ([arch(), kv("x", ARRAY, struct.pack("<IQ", ARRAY, 1) * 5 + struct.pack("<IQ", UINT32, 0))],
         r"arrays nested too deep"),
    ],
)
def test_malformed_headers_are_one_line(tmp_path, kvs, message):
    path = write(tmp_path / "bad.gguf", kvs, data_size=64)
    with pytest.raises(gguf.NotGguf, match=message) as caught:
        gguf.read(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_absurd_counts_are_malformed_and_counts_the_file_cannot_hold_truncated(tmp_path):
    path = tmp_path / "bad.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1 << 21) + arch())
    with pytest.raises(gguf.NotGguf, match=r"malformed GGUF header \(2097152 metadata entries and 0 tensors\)"):
        gguf.read(path)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1000, 1 << 19) + arch())
    with pytest.raises(gguf.NotGguf, match="truncated GGUF header"):
        gguf.read(path)


def test_a_long_vocabulary_is_stepped_over_even_across_chunks(tmp_path):
    words = [f"w{i}" for i in range(100)]
    words[50] = "x" * (3 << 20)  # one string longer than the reader's 1 MB chunk
    vocab = kv("tokenizer.ggml.tokens", ARRAY, struct.pack("<IQ", STRING, len(words)) + b"".join(map(text, words)))
    path = write(tmp_path / "v.gguf", [arch(), vocab, kv("llama.block_count", UINT32, struct.pack("<I", 3))])
    info = gguf.read(path)
    assert info.metadata["tokenizer.ggml.tokens"] == 100 and info.arch_value("block_count") == 3
    cut = gguf_writers.truncated(path, tmp_path / "cut.gguf", 2 << 20)  # inside the long string
    with pytest.raises(gguf.NotGguf, match="truncated GGUF header"):
        gguf.read(cut)


def test_file_type_names_the_quantization_and_ignores_the_guessed_bit(tmp_path):
    for value, quant in ((15, "Q4_K_M"), (15 | 1024, "Q4_K_M"), (7, "Q8_0"), (999, None)):
        path = write(tmp_path / "q.gguf", [arch(), kv("general.file_type", UINT32, struct.pack("<I", value))])
        assert gguf.read(path).quant == quant


def test_the_think_rule_is_the_templates_own_words():
    assert gguf.is_reasoning_template("...<｜Assistant｜><think>\\n") is True
    assert gguf.is_reasoning_template("{{ content.split('</think>')[-1] }}") is True
    assert gguf.is_reasoning_template("<|im_start|>assistant") is False


def test_numbers_per_layer_are_read_whole_and_long_arrays_kept_as_their_length(tmp_path):
    heads = list(range(80))  # one per layer of an 80-layer model: the planner needs every one
    per_layer = kv("llama.attention.head_count_kv", ARRAY, struct.pack("<IQ", UINT32, 80) +
                   b"".join(struct.pack("<I", h) for h in heads))
    scores = kv("tokenizer.ggml.scores", ARRAY, struct.pack("<IQ", 6, 5000) + b"\0" * 4 * 5000)
    info = gguf.read(write(tmp_path / "m.gguf", [arch(), per_layer, scores]))
    assert info.metadata["llama.attention.head_count_kv"] == heads
    assert info.metadata["tokenizer.ggml.scores"] == 5000
