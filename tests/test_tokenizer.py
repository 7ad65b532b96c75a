"""The Polish tokenizer: fixed special ids, lossless round trip, deterministic training, clear errors."""
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.polish_text import TEXT_FILE, build_tiny_tokenizer, polish_paragraphs
from training.config import TokenizerConfig
from training.errors import DataError
from training.tokenizer import SPECIAL, Tokenizer, train_tokenizer


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return Tokenizer.load(build_tiny_tokenizer(tmp_path_factory.mktemp("tok")))


def test_special_ids_are_fixed(tok):
    assert (tok.unk_id, tok.bos_id, tok.eos_id, tok.pad_id, tok.im_start_id, tok.im_end_id) == (0, 1, 2, 3, 4, 5)
    assert tok.vocab_size == 512
    assert [tok.piece(i) for i in range(6)] == ["<unk>", "<s>", "</s>", "<pad>", "<|im_start|>", "<|im_end|>"]


def test_meta_describes_the_model(tok):
    meta = json.loads((tok.path / "tokenizer.json").read_text())
    assert meta["sha256"] == tok.sha256
    assert meta["vocab_size"] == 512
    assert meta["special"] == SPECIAL
    assert meta["add_dummy_prefix"] is False
    assert (tok.path / "tokenizer.vocab").read_text().splitlines()[4].startswith("<|im_start|>\t")


def test_encode_adds_no_bos_and_keeps_leading_space(tok):
    ids = tok.encode(" Ala")
    assert tok.bos_id not in ids
    assert tok.decode(ids) == " Ala"
    assert tok.encode("Ala")[0] != ids[0]  # no dummy prefix: " Ala" and "Ala" differ


def test_chat_markers_become_single_special_tokens(tok):
    ids = tok.encode("<|im_start|>user\nCześć<|im_end|>")
    assert ids[0] == tok.im_start_id and ids[-1] == tok.im_end_id
    assert ids.count(tok.im_start_id) == 1


def test_digits_are_split(tok):
    pieces = [tok.piece(i) for i in tok.encode("2499")]
    assert pieces == ["2", "4", "9", "9"]


def test_newlines_are_pieces_not_bytes(tok):
    pieces = [tok.piece(i) for i in tok.encode("Koniec.\n\nPoczątek")]
    assert "\n" in "".join(pieces) and not any(p.startswith("<0x0A") for p in pieces)


def test_unseen_characters_fall_back_to_bytes(tok):
    ids = tok.encode("漢")
    assert tok.unk_id not in ids
    assert [tok.piece(i) for i in ids] == ["<0xE6>", "<0xBC>", "<0xA2>"]


# U+2581 is SentencePiece's own space marker and decodes to " "; text never needs it (the corpus stage maps it).
polish_alphabet = st.sampled_from(list("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ" + string.ascii_letters + string.digits + " \t\n.,;:!?–„”\"'()"))
any_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\u2581"), max_size=60)
emoji = st.sampled_from(["😀", "🇵🇱", "👍🏽", "🧑‍💻"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(polish_alphabet, emoji, any_text), max_size=30).map("".join))
def test_round_trip_is_lossless(tok, text):
    assert tok.decode(tok.encode(text)) == text


def test_round_trip_on_prose_with_odd_whitespace(tok):
    for paragraph in polish_paragraphs()[:20]:
        text = "  " + paragraph.replace(" ", "   ", 3) + "\t\n\n"
        assert tok.decode(tok.encode(text)) == text


def test_training_is_deterministic(tmp_path):
    config = TokenizerConfig(vocab_size=400, threads=1, sample_sentences=60)
    a = train_tokenizer(TEXT_FILE, tmp_path / "a", config)
    b = train_tokenizer(TEXT_FILE, tmp_path / "b", config)
    assert (a / "tokenizer.model").read_bytes() == (b / "tokenizer.model").read_bytes()
    other_seed = train_tokenizer(TEXT_FILE, tmp_path / "c", config.model_copy(update={"seed": 7}))
    assert (a / "tokenizer.vocab").read_text() != (other_seed / "tokenizer.vocab").read_text()


def test_too_large_vocab_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="smaller --vocab-size"):
        train_tokenizer(None, tmp_path / "t", TokenizerConfig(vocab_size=5000, threads=1), texts=["Ala ma kota.\n"])


def test_too_small_vocab_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="larger --vocab-size"):
        train_tokenizer(TEXT_FILE, tmp_path / "t", TokenizerConfig(vocab_size=270, threads=1))


def test_missing_training_input_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        train_tokenizer(tmp_path / "brak.txt", tmp_path / "t")


def test_loading_a_missing_tokenizer_names_the_fix(tmp_path):
    with pytest.raises(DataError, match="polski tokenizer train"):
        Tokenizer.load(tmp_path)


def byte_level_files(tmp_path):
    """A byte-level BPE without merges, as a .tiktoken rank file and as GPT-2 vocab.json + merges.txt."""
    import base64

    (tmp_path / "bytes.tiktoken").write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    extra = [b for b in range(256) if b not in printable]
    mapping = {b: chr(b) for b in printable} | {b: chr(256 + i) for i, b in enumerate(extra)}  # GPT-2 bytes_to_unicode
    (tmp_path / "gpt").mkdir()
    (tmp_path / "gpt" / "vocab.json").write_text(json.dumps({mapping[b]: b for b in range(256)}))
    (tmp_path / "gpt" / "merges.txt").write_text("#version: 0.2\n")
    return tmp_path / "bytes.tiktoken", tmp_path / "gpt"


def test_report_compares_formats(tok, tmp_path, capsys):
    from training.cli import main

    tiktoken_file, gpt_dir = byte_level_files(tmp_path)
    text = tmp_path / "tekst.jsonl"
    text.write_text("".join(json.dumps({"text": p}, ensure_ascii=False) + "\n" for p in polish_paragraphs()[:10]))
    out_json = tmp_path / "report.json"
    rc = main(["tokenizer", "report", "--tokenizer", str(tok.path), "--text", str(text),
               "--compare", str(tiktoken_file), str(gpt_dir), "--json", str(out_json)])
    assert rc == 0
    rows = {r["tokenizer"]: r for r in json.loads(out_json.read_text())["results"]}
    chars = rows["bytes"]["chars"]
    utf8 = sum(len(p.encode()) for p in polish_paragraphs()[:10])
    assert rows["bytes"]["tokens"] == rows["gpt"]["tokens"] == utf8  # no merges: one token a byte
    assert rows["bytes"]["chars_per_token"] == pytest.approx(chars / utf8)
    ours = rows[tok.path.name]
    assert ours["tokens_per_word"] < rows["bytes"]["tokens_per_word"]
    assert 0 <= ours["byte_fallback_rate"] < 0.05 and rows["bytes"]["byte_fallback_rate"] is None
    assert "tokens/word" in capsys.readouterr().out


def test_train_cli_writes_a_loadable_tokenizer(tmp_path, capsys):
    from training.cli import main

    rc = main(["tokenizer", "train", "--corpus", str(TEXT_FILE), "--out", str(tmp_path / "t"), "--vocab-size", "400", "--threads", "1"])
    assert rc == 0 and Tokenizer.load(tmp_path / "t").vocab_size == 400
    assert "400 pieces" in capsys.readouterr().out


def test_pieces_span_words_cli_trains_word_pair_pieces(tmp_path):
    """--pieces-span-words reaches SentencePiece: some pieces hold a space inside ("▁się▁nie"), and the round trip holds."""
    from training.cli import main

    args = ["tokenizer", "train", "--corpus", str(TEXT_FILE), "--vocab-size", "2048", "--threads", "1"]
    assert main([*args, "--out", str(tmp_path / "span"), "--pieces-span-words"]) == 0
    assert main([*args, "--out", str(tmp_path / "plain")]) == 0

    def inner_space_pieces(name):
        tok = Tokenizer.load(tmp_path / name)
        return tok, [p for p in (tok.sp.id_to_piece(i) for i in range(tok.vocab_size)) if "▁" in p.strip("▁")]

    span, spanning = inner_space_pieces("span")
    _, plain_spanning = inner_space_pieces("plain")
    assert len(spanning) >= 20 and plain_spanning == []
    text = "Nie wiem, czy się nie mylę:  żółw\tźrebię 2024 🙂"
    assert span.decode(span.encode(text)) == text
    assert json.loads((tmp_path / "span" / "tokenizer.json").read_text())["training"]["split_by_whitespace"] is False
