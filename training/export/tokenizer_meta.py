"""The SentencePiece vocabulary as GGUF tokenizer metadata (tokenizer.ggml.*).

Pieces, scores and piece types come straight from the model proto: SentencePiece's Python
API cannot tell a user-defined piece (our ChatML markers) from a normal one, and llama.cpp
needs the difference (user-defined pieces are matched whole in text). The proto is read with
a 30-line wire-format reader instead of pulling in protobuf for three fields.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from training.errors import ExportError

# SentencePiece's ModelProto.SentencePiece.Type; GGUF's token types use the same numbers.
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
TYPE_NAMES = {NORMAL: "normal", UNKNOWN: "unknown", CONTROL: "control", USER_DEFINED: "user-defined",
              UNUSED: "unused", BYTE: "byte"}


@dataclass
class Vocab:
    tokens: list[str]
    scores: list[float]
    types: list[int]
    add_dummy_prefix: bool
    remove_extra_whitespaces: bool
    normalizer: str
    bos_id: int
    eos_id: int
    unk_id: int
    pad_id: int
    im_start_id: int | None
    im_end_id: int | None

    def __len__(self) -> int:
        return len(self.tokens)


def _fields(buf: bytes):
    """(field number, wire type, value) of one protobuf message; LEN values are bytes."""
    pos, end = 0, len(buf)

    def varint():
        nonlocal pos
        shift = result = 0
        while True:
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7

    while pos < end:
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, wire, varint()
        elif wire == 1:
            yield number, wire, buf[pos : pos + 8]
            pos += 8
        elif wire == 2:
            n = varint()
            yield number, wire, buf[pos : pos + n]
            pos += n
        elif wire == 5:
            yield number, wire, buf[pos : pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def read_vocab(tokenizer_dir: Path | str) -> Vocab:
    path = Path(tokenizer_dir)
    path = path / "tokenizer.model" if path.is_dir() else path
    try:
        data = path.read_bytes()
        tokens, scores, types = [], [], []
        normalizer = {"name": "", "add_dummy_prefix": True, "remove_extra_whitespaces": True}
        for number, wire, value in _fields(data):
            if number == 1 and wire == 2:  # pieces
                piece, score, kind = "", 0.0, NORMAL
                for n, w, v in _fields(value):
                    if n == 1:
                        piece = v.decode("utf-8")
                    elif n == 2 and w == 5:
                        score = struct.unpack("<f", v)[0]
                    elif n == 3:
                        kind = v
                tokens.append(piece)
                scores.append(score)
                types.append(kind)
            elif number == 3 and wire == 2:  # normalizer_spec
                for n, _w, v in _fields(value):
                    if n == 1:
                        normalizer["name"] = v.decode("utf-8")
                    elif n == 3:
                        normalizer["add_dummy_prefix"] = bool(v)
                    elif n == 4:
                        normalizer["remove_extra_whitespaces"] = bool(v)
    except (OSError, ValueError, IndexError, UnicodeDecodeError) as err:
        raise ExportError(f"{path} is not a readable SentencePiece model ({err}): re-run `polski tokenizer train`") from None
    if not tokens:
        raise ExportError(f"{path} holds no pieces: re-run `polski tokenizer train`")

    def find(piece: str, kinds: tuple[int, ...]) -> int | None:
        return next((i for i, (t, k) in enumerate(zip(tokens, types)) if t == piece and k in kinds), None)

    unk = types.index(UNKNOWN) if UNKNOWN in types else None
    bos, eos, pad = find("<s>", (CONTROL,)), find("</s>", (CONTROL,)), find("<pad>", (CONTROL,))
    if None in (unk, bos, eos):
        raise ExportError(f"{path} lacks <unk>, <s> or </s>: re-train it with `polski tokenizer train`")
    return Vocab(
        tokens=tokens, scores=scores, types=types,
        add_dummy_prefix=normalizer["add_dummy_prefix"],
        remove_extra_whitespaces=normalizer["remove_extra_whitespaces"],
        normalizer=normalizer["name"],
        bos_id=bos, eos_id=eos, unk_id=unk, pad_id=pad if pad is not None else eos,
        im_start_id=find("<|im_start|>", (USER_DEFINED, CONTROL)),
        im_end_id=find("<|im_end|>", (USER_DEFINED, CONTROL)),
    )


def check_llamacpp_compatible(vocab: Vocab) -> None:
    """llama.cpp's SentencePiece tokenizer neither normalizes nor folds whitespace: refuse a model that does."""
    if vocab.normalizer not in ("identity", ""):
        raise ExportError(
            f"the tokenizer normalizes text ({vocab.normalizer}), which llama.cpp does not: "
            "re-train it with normalization_rule_name=identity (`polski tokenizer train` does)"
        )
    if vocab.remove_extra_whitespaces:
        raise ExportError(
            "the tokenizer folds runs of spaces (remove_extra_whitespaces=true), which llama.cpp does not: "
            "re-train it with remove_extra_whitespaces=false (`polski tokenizer train` does)"
        )
