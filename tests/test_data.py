"""Token bins: layout per docs/architecture.md, determinism, and tokenizer checks."""
import json

import numpy as np
import pytest

from tests.polish_text import (
    build_tiny_bins,
    build_tiny_tokenizer,
    polish_paragraphs,
    write_polish_jsonl,
)
from training.config import CorpusConfig
from training.data import TokenBins, check_tokenizer, tokenize_corpus, tokenize_texts
from training.errors import DataError
from training.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def tok(work):
    return Tokenizer.load(build_tiny_tokenizer(work))


@pytest.fixture(scope="module")
def bins(work, tok):
    return build_tiny_bins(work, tok.path)


def test_each_document_is_bos_text_eos(bins, tok):
    train = TokenBins(bins, "train")
    paragraphs = [p for i, p in enumerate(polish_paragraphs()) if i % 10]
    assert train.num_docs == len(train.doc_starts) == len(paragraphs)
    assert train.tokens.dtype == np.uint16 and len(train.tokens) == train.num_tokens
    for i in (0, 7, len(paragraphs) - 1):
        doc = train.document(i)
        assert doc[0] == tok.bos_id and doc[-1] == tok.eos_id
        assert tok.decode(doc[1:-1]) == paragraphs[i]


def test_manifest_counts_bytes_for_bits_per_byte(bins, tok):
    val = TokenBins(bins, "val")
    expected = [p for i, p in enumerate(polish_paragraphs()) if i % 10 == 0]
    assert val.bytes == sum(len(p.encode("utf-8")) for p in expected)
    assert val.manifest["tokenizer_sha256"] == tok.sha256
    assert val.manifest["vocab_size"] == 512
    assert set(val.manifest["splits"]) == {"train", "val"}


def test_same_input_gives_identical_bins_for_any_worker_count(work, tok):
    splits = {"train": polish_paragraphs()[:40], "val": polish_paragraphs()[40:45]}
    a = tokenize_texts(splits, tok.path, work / "a", workers=1)
    b = tokenize_texts(splits, tok.path, work / "b", workers=2)
    for name in ("train.bin", "val.bin", "train.idx.npy", "manifest.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_tokenize_corpus_reads_a_corpus_dir(work, tok):
    from training.corpus.build import build_corpus

    corpus = build_corpus([write_polish_jsonl(work / "src" / "polski.jsonl")], work / "corpus",
                          CorpusConfig(min_chars=20, val_fraction=0.1), workers=1, progress=False)
    out = tokenize_corpus(corpus, tok.path, work / "corpus-bins", workers=2)
    manifest = json.loads((out / "manifest.json").read_text())
    corpus_manifest = json.loads((corpus / "manifest.json").read_text())
    for split in ("train", "val"):
        assert manifest["splits"][split]["docs"] == corpus_manifest["splits"][split]["docs"]
        assert manifest["splits"][split]["bytes"] == corpus_manifest["splits"][split]["bytes"]
    assert manifest["splits"]["val"]["docs"] > 0


def test_check_tokenizer_rejects_other_tokenizer(work, bins, tok):
    check_tokenizer(bins, tok)  # the matching one passes
    other = Tokenizer.load(build_tiny_tokenizer(work / "other", vocab_size=480))
    with pytest.raises(DataError, match=rf"made with tokenizer {tok.sha256[:8]}, but the run uses {other.sha256[:8]}.*polski data tokenize"):
        check_tokenizer(bins, other)


def test_check_tokenizer_rejects_model_vocab_mismatch(bins, tok):
    with pytest.raises(DataError, match="model.vocab_size is 1024"):
        check_tokenizer(bins, tok, model_vocab_size=1024)


def test_missing_bins_name_the_command(tmp_path):
    with pytest.raises(DataError, match="polski data tokenize"):
        TokenBins(tmp_path, "train")


def test_truncated_bin_file_is_detected(work, tok):
    out = tokenize_texts({"train": ["Ala ma kota."], "val": ["Kot ma Alę."]}, tok.path, work / "cut")
    data = (out / "train.bin").read_bytes()
    (out / "train.bin").write_bytes(data[:-2])
    with pytest.raises(DataError, match="re-run `polski data tokenize`"):
        TokenBins(out, "train")


def test_data_tokenize_cli(work, tok, capsys):
    from training.cli import main
    from training.corpus.build import build_corpus

    corpus = build_corpus([write_polish_jsonl(work / "cli-src" / "p.jsonl")], work / "cli-corpus",
                          CorpusConfig(min_chars=20, val_fraction=0.2), workers=1, progress=False)
    rc = main(["data", "tokenize", "--corpus", str(corpus), "--tokenizer", str(tok.path), "--out", str(work / "cli-bins")])
    assert rc == 0
    assert TokenBins(work / "cli-bins", "val").num_docs > 0
    assert f"tokenizer {tok.sha256[:8]}" in capsys.readouterr().out


@pytest.fixture(scope="module")
def two_source_bins(work, tok):
    """Bins of a corpus built from two source files: old-style and contemporary paragraphs."""
    from training.corpus.build import build_corpus

    paragraphs = polish_paragraphs()
    src = work / "two-sources"
    src.mkdir()
    for name, part in (("stare", paragraphs[::2]), ("nowe", paragraphs[1::2])):
        (src / f"{name}.jsonl").write_text("".join(json.dumps({"text": p}, ensure_ascii=False) + "\n" for p in part),
                                           encoding="utf-8")
    corpus = build_corpus([src], work / "two-sources-corpus", CorpusConfig(min_chars=20, val_fraction=0.1),
                          workers=1, progress=False)
    return TokenBins(tokenize_corpus(corpus, tok.path, work / "two-sources-bins", workers=1), "train")


def test_bins_record_each_documents_source(two_source_bins, tok):
    names = two_source_bins.source_names
    assert sorted(n.rsplit("/", 1)[-1] for n in names) == ["nowe.jsonl", "stare.jsonl"]
    nowe = {p for p in polish_paragraphs()[1::2]}
    sources = two_source_bins.doc_sources
    assert len(sources) == two_source_bins.num_docs
    for i in range(two_source_bins.num_docs):
        text = tok.decode(two_source_bins.document(i)[1:-1])
        assert names[sources[i]].endswith("nowe.jsonl") == (text in nowe)


def test_source_weights_repeat_and_drop_documents(two_source_bins):
    from training.loader import weighted_stream

    bins = two_source_bins
    is_new = np.array([bins.source_names[s].endswith("nowe.jsonl") for s in bins.doc_sources])
    new_docs = [bins.document(i) for i in np.flatnonzero(is_new)]
    stream, passes = weighted_stream(bins, {"*nowe*": 2.0, "*stare*": 0.0}, seed=1)
    assert passes == 1 and np.array_equal(stream, np.concatenate(new_docs + new_docs))
    assert weighted_stream(bins, {}, seed=1) == (bins.tokens, 1)


def test_a_fractional_weight_spreads_every_document_over_passes(two_source_bins):
    """0.5 shows each document in one pass of two (none is dropped); 1.5 once in one pass and twice in the other."""
    from training.loader import weighted_stream

    bins = two_source_bins
    docs = [bins.document(i).tobytes() for i in range(bins.num_docs)]
    is_new = [bins.source_names[s].endswith("nowe.jsonl") for s in bins.doc_sources]
    stream, passes = weighted_stream(bins, {"*stare*": 0.5, "*nowe*": 1.5}, seed=1)
    assert passes == 2
    assert len(stream) == sum(len(d) // 2 * (3 if new else 1) for d, new in zip(docs, is_new))
    text = stream.tobytes()
    for d, new in zip(docs, is_new):
        assert text.count(d) >= (3 if new else 1)  # every document is there, as often as its weight says
    again, _ = weighted_stream(bins, {"*stare*": 0.5, "*nowe*": 1.5}, seed=1)
    other, _ = weighted_stream(bins, {"*stare*": 0.5, "*nowe*": 1.5}, seed=2)
    assert np.array_equal(stream, again) and not np.array_equal(stream, other)


def test_phased_batches_switch_sources_and_restart_the_second_at_its_start():
    from training.loader import Phased

    class Numbered:
        def __init__(self, tag):
            self.tag = tag

        def batch(self, index):
            return self.tag, index

    phased = Phased(Numbered("first"), Numbered("then"), switch=3)
    assert [phased.batch(i) for i in range(5)] == [("first", 0), ("first", 1), ("first", 2), ("then", 0), ("then", 1)]


def test_source_weights_errors_name_the_fix(two_source_bins, bins):
    from training.loader import weighted_stream

    with pytest.raises(DataError, match=r"'\*gazety\*' matches no source.*nowe\.jsonl"):
        weighted_stream(two_source_bins, {"*gazety*": 2.0}, seed=1)
    with pytest.raises(DataError, match=r"matches '\*nowe\*' and '\*\.jsonl' with different weights"):
        weighted_stream(two_source_bins, {"*nowe*": 1.0, "*.jsonl": 2.0}, seed=1)
    with pytest.raises(DataError, match="leave no training documents"):
        weighted_stream(two_source_bins, {"*.jsonl": 0.0}, seed=1)
    with pytest.raises(DataError, match=r"^train\.decay_source_weights: '\*gazety\*' matches no source"):
        weighted_stream(two_source_bins, {"*gazety*": 2.0}, seed=1, key="train.decay_source_weights")
    old = TokenBins(bins, "train")
    (old.dir / "train.src.npy").unlink()
    with pytest.raises(DataError, match="re-run `polski data tokenize`"):
        weighted_stream(TokenBins(bins, "train"), {"*": 1.0}, seed=1)
