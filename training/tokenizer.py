"""The Polish tokenizer: SentencePiece BPE with byte fallback and fixed special ids.

The trainer settings are chosen so that llama.cpp's SentencePiece tokenizer (GGUF model
"llama", add_space_prefix=false) reproduces our ids exactly: no normalization (the corpus
stage already did NFC), no dummy prefix, whitespace kept as is, digits split.
"""
from __future__ import annotations

import hashlib
import io
import json
import random
from pathlib import Path
from typing import Iterable, Iterator

from training.atomic import atomic_dir
from training.config import TokenizerConfig
from training.errors import DataError
from training.layout import TOKENIZER_META_FILE, TOKENIZER_MODEL_FILE

SPECIAL = {"unk": 0, "bos": 1, "eos": 2, "pad": 3, "im_start": 4, "im_end": 5}
CHAT_SYMBOLS = ["<|im_start|>", "<|im_end|>"]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Tokenizer:
    """A trained TOKENIZER_DIR: `encode` adds no BOS/EOS; chat markers in text become their special ids."""

    def __init__(self, path: Path, sp, sha256: str):
        self.path = path
        self.sp = sp
        self.sha256 = sha256
        self.vocab_size = sp.get_piece_size()
        self.unk_id, self.bos_id, self.eos_id, self.pad_id = sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()
        self.im_start_id = sp.piece_to_id(CHAT_SYMBOLS[0])
        self.im_end_id = sp.piece_to_id(CHAT_SYMBOLS[1])

    @classmethod
    def load(cls, path: Path | str) -> "Tokenizer":
        import sentencepiece as spm

        path = Path(path)
        model = path / TOKENIZER_MODEL_FILE if path.is_dir() else path
        if not model.is_file():
            raise DataError(f"no {TOKENIZER_MODEL_FILE} in {path}: train one with `polski tokenizer train --corpus DIR --out {path}`")
        sp = spm.SentencePieceProcessor()
        try:
            sp.load(str(model))
        except (OSError, RuntimeError) as err:
            raise DataError(f"{model} is not a SentencePiece model ({err}): re-run `polski tokenizer train`") from None
        tok = cls(model.parent, sp, sha256_file(model))
        ids = {"unk": tok.unk_id, "bos": tok.bos_id, "eos": tok.eos_id, "pad": tok.pad_id,
               "im_start": tok.im_start_id, "im_end": tok.im_end_id}
        if ids != SPECIAL:
            raise DataError(f"{model} has special ids {ids}, expected {SPECIAL}: re-train it with `polski tokenizer train`")
        return tok

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text, out_type=int)

    def encode_batch(self, texts: list[str], threads: int = 1) -> list[list[int]]:
        return self.sp.encode(texts, out_type=int, num_threads=threads)

    def decode(self, ids: Iterable[int]) -> str:
        return self.sp.decode([int(i) for i in ids])

    def piece(self, token_id: int) -> str:
        return self.sp.id_to_piece(int(token_id))

    @property
    def meta(self) -> dict:
        meta_path = self.path / TOKENIZER_META_FILE
        return json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}


# ---------------------------------------------------------------- training


def _split_long(line: str, limit: int) -> Iterator[str]:
    """Cuts a paragraph longer than `limit` UTF-8 bytes at sentence ends (SentencePiece drops long lines)."""
    while len(line.encode("utf-8")) > limit:
        window = line[: limit // 4]  # worst case 4 bytes a character
        cut = max(window.rfind(". "), window.rfind("? "), window.rfind("! "))
        cut = cut + 2 if cut > 0 else (window.rfind(" ") + 1 or len(window))
        yield line[:cut]
        line = line[cut:]
    if line:
        yield line


def _iter_texts(sources) -> Iterator[str]:
    """Texts from a CORPUS_DIR (its train split) or .txt/.jsonl(.xz/.gz/.zst) files; one path or a list."""
    from training.corpus.readers import iter_corpus_texts, iter_file_texts

    for item in sources if isinstance(sources, (list, tuple)) else [sources]:
        path = Path(item)
        if path.is_dir():
            yield from iter_corpus_texts(path, "train")
        elif path.is_file():
            yield from iter_file_texts(path)
        else:
            raise DataError(f"tokenizer training input {path} does not exist: give a corpus dir from `polski corpus build` or text files")


def training_units(text: str) -> Iterator[str]:
    """A document as SentencePiece training "sentences": paragraphs that keep their line breaks and the
    blank line after them, so newlines become real pieces (`.\n`, `\n`) instead of byte fallback."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    for i, paragraph in enumerate(paragraphs):
        yield paragraph + "\n\n" if i < len(paragraphs) - 1 else paragraph


def sample_units(texts: Iterable[str], config: TokenizerConfig) -> list[str]:
    """A seeded reservoir sample of paragraphs, bounded by `sample_sentences` (same input -> same sample)."""
    rng = random.Random(config.seed)
    reservoir: list[str] = []
    seen = 0
    for text in texts:
        for paragraph in training_units(text):
            for unit in _split_long(paragraph, config.max_sentence_length):
                seen += 1
                if len(reservoir) < config.sample_sentences:
                    reservoir.append(unit)
                else:
                    j = rng.randrange(seen)
                    if j < config.sample_sentences:
                        reservoir[j] = unit
    if not reservoir:
        raise DataError("no text to train the tokenizer on: the corpus is empty (check `polski corpus build` output)")
    return reservoir


def trainer_settings(config: TokenizerConfig) -> dict:
    return dict(
        model_type="bpe",
        vocab_size=config.vocab_size,
        character_coverage=config.character_coverage,
        byte_fallback=True,
        split_digits=True,
        normalization_rule_name="identity",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True,
        split_by_whitespace=not config.pieces_span_words,
        max_sentence_length=config.max_sentence_length,
        unk_id=SPECIAL["unk"], bos_id=SPECIAL["bos"], eos_id=SPECIAL["eos"], pad_id=SPECIAL["pad"],
        unk_piece="<unk>", bos_piece="<s>", eos_piece="</s>", pad_piece="<pad>",
        user_defined_symbols=CHAT_SYMBOLS,
        input_sentence_size=0,  # we already sampled, deterministically (sentencepiece has no seed flag)
        shuffle_input_sentence=False,
        hard_vocab_limit=True,
    )


def train_model_bytes(units: list[str], settings: dict, threads: int, quiet: bool = True) -> bytes:
    """A SentencePiece model proto trained on `units` with `settings` (see trainer_settings).

    Training from an iterator into memory keeps temp paths out of the model proto,
    so the same sample and settings give a byte-identical tokenizer.model."""
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(units), model_writer=model, num_threads=threads,
                                   minloglevel=2 if quiet else 0, **settings)
    return model.getvalue()


def train_tokenizer(sources, out_dir: Path | str, config: TokenizerConfig | None = None, quiet: bool = True,
                    texts: Iterable[str] | None = None) -> Path:
    """Trains a TOKENIZER_DIR from a CORPUS_DIR or text files (`sources`), or from strings (`texts`, sources None)."""
    import os

    import sentencepiece as spm

    config = config or TokenizerConfig()
    out_dir = Path(out_dir)
    units = sample_units(texts if sources is None else _iter_texts(sources), config)
    settings = trainer_settings(config)
    threads = config.threads or os.cpu_count() or 1
    try:
        model_bytes = train_model_bytes(units, settings, threads, quiet)
    except RuntimeError as err:
        if "smaller than required_chars" in str(err):
            fix = "use a larger --vocab-size (256 byte pieces and every frequent character need a slot)"
        else:
            fix = "use more text or a smaller --vocab-size"
        raise DataError(f"SentencePiece could not train a {config.vocab_size}-piece vocab on {len(units)} paragraphs: {fix}") from None
    with atomic_dir(out_dir) as tmp:
        (tmp / TOKENIZER_MODEL_FILE).write_bytes(model_bytes)
        sp = spm.SentencePieceProcessor(model_proto=model_bytes)
        vocab = "".join(f"{sp.id_to_piece(i)}\t{sp.get_score(i):g}\n" for i in range(sp.get_piece_size()))
        (tmp / "tokenizer.vocab").write_text(vocab, encoding="utf-8")
        meta = {
            "vocab_size": config.vocab_size,
            "sha256": sha256_file(tmp / TOKENIZER_MODEL_FILE),
            "special": SPECIAL,
            "add_dummy_prefix": False,
            "model_type": "bpe",
            "byte_fallback": True,
            "normalization": "identity (text is NFC from the corpus stage)",
            "sample_paragraphs": len(units),
            "training": {**config.model_dump(), **{k: v for k, v in settings.items() if k != "user_defined_symbols"}},
            "sentencepiece_version": spm.__version__,
        }
        (tmp / TOKENIZER_META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out_dir


# ---------------------------------------------------------------- report: how finely a tokenizer cuts Polish

CL100K_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
R50K_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""


class AnyTokenizer:
    """A comparison tokenizer behind one interface: `name`, `vocab_size`, `encode(text)`, `byte_pieces` (ids or None).

    `word_prefix` is what precedes a word inside running text: " " for most, "" for SentencePiece
    models with a dummy prefix (they add the space marker themselves).
    """

    def __init__(self, name: str, vocab_size: int, encode, byte_pieces: set[int] | None, word_prefix: str = " "):
        self.name, self.vocab_size, self.encode, self.byte_pieces = name, vocab_size, encode, byte_pieces
        self.word_prefix = word_prefix


def load_any_tokenizer(path: Path | str) -> AnyTokenizer:
    """SentencePiece dir/.model, GPT-2 vocab.json|encoder.json + merges.txt|vocab.bpe, HF tokenizer.json, or .tiktoken."""
    path = Path(path)
    if path.is_dir():
        for candidate in (TOKENIZER_MODEL_FILE, "tokenizer.json", "vocab.json", "encoder.json"):
            if (path / candidate).is_file():
                return load_any_tokenizer(path / candidate)
        models = sorted(path.glob("*.model")) + sorted(path.glob("*.tiktoken"))
        if models:
            return load_any_tokenizer(models[0])
        raise DataError(f"no tokenizer file in {path}: give a .model, tokenizer.json, vocab.json/encoder.json or .tiktoken file")
    if not path.is_file():
        raise DataError(f"tokenizer {path} does not exist")
    name = path.parent.name if path.name in (TOKENIZER_MODEL_FILE, "tokenizer.json", "vocab.json", "encoder.json") else path.stem
    if path.suffix == ".model":
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=str(path))
        pieces = {i for i in range(sp.get_piece_size()) if sp.is_byte(i)}
        dummy_prefix = sp.encode("a", out_type=str)[0].startswith("\u2581")
        return AnyTokenizer(name, sp.get_piece_size(), lambda t: sp.encode(t), pieces, "" if dummy_prefix else " ")
    if path.suffix == ".tiktoken":
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe

        pattern = R50K_PATTERN if path.stem.startswith(("r50k", "p50k")) else CL100K_PATTERN
        enc = tiktoken.Encoding(path.stem, pat_str=pattern, mergeable_ranks=load_tiktoken_bpe(str(path)), special_tokens={})
        return AnyTokenizer(name, enc.n_vocab, lambda t: enc.encode_ordinary(t), None)
    if path.name == "tokenizer.json":
        from tokenizers import Tokenizer as HFTokenizer

        hf = HFTokenizer.from_file(str(path))
        return AnyTokenizer(name, hf.get_vocab_size(), lambda t: hf.encode(t, add_special_tokens=False).ids, None)
    if path.suffix == ".json":  # GPT-2 style vocab + merges beside it
        from tokenizers import ByteLevelBPETokenizer

        merges = next((path.parent / m for m in ("merges.txt", "vocab.bpe") if (path.parent / m).is_file()), None)
        if merges is None:
            raise DataError(f"{path} needs merges.txt or vocab.bpe beside it")
        bpe = ByteLevelBPETokenizer(str(path), str(merges))
        return AnyTokenizer(name, bpe.get_vocab_size(), lambda t: bpe.encode(t).ids, None)
    raise DataError(f"unknown tokenizer format {path.name}: give a .model, tokenizer.json, vocab.json/encoder.json or .tiktoken file")


def fertility(tok: AnyTokenizer, texts: list[str]) -> dict:
    """Tokens per whitespace word, chars per token, share of words cut into 3+ pieces, byte-fallback rate."""
    from collections import Counter

    ids = [i for text in texts for i in tok.encode(text)]
    words = Counter(w for text in texts for w in text.split())
    n_words = sum(words.values())
    # a word as it appears in running text: after a space
    split3 = sum(n for w, n in words.items() if len(tok.encode(tok.word_prefix + w)) >= 3)
    chars = sum(len(t) for t in texts)
    return {
        "tokenizer": tok.name,
        "vocab_size": tok.vocab_size,
        "tokens": len(ids),
        "words": n_words,
        "chars": chars,
        "tokens_per_word": len(ids) / max(n_words, 1),
        "chars_per_token": chars / max(len(ids), 1),
        "words_3plus_pieces": split3 / max(n_words, 1),
        "byte_fallback_rate": None if tok.byte_pieces is None else sum(i in tok.byte_pieces for i in ids) / max(len(ids), 1),
    }


def read_texts(path: Path | str, max_chars: int = 5_000_000) -> list[str]:
    """Texts of a .txt/.jsonl file, or the val split of a CORPUS_DIR, up to `max_chars` in all."""
    from training.corpus.readers import iter_corpus_texts, iter_file_texts

    path = Path(path)
    source = iter_corpus_texts(path, "val") if path.is_dir() else iter_file_texts(path)
    texts, total = [], 0
    for text in source:
        texts.append(text[: max_chars - total])
        total += len(texts[-1])
        if total >= max_chars:
            break
    if not texts:
        raise DataError(f"no text in {path}")
    return texts


def markdown_table(rows: list[dict]) -> str:
    lines = ["| tokenizer | vocab | tokens/word | chars/token | words in 3+ pieces | byte fallback |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        fallback = "-" if r["byte_fallback_rate"] is None else f"{r['byte_fallback_rate']:.3%}"
        lines.append(f"| {r['tokenizer']} | {r['vocab_size']:,} | {r['tokens_per_word']:.3f} | {r['chars_per_token']:.2f} "
                     f"| {r['words_3plus_pieces']:.1%} | {fallback} |")
    return "\n".join(lines) + "\n"
