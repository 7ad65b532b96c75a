"""Chat fine-tuning data: ChatML rendering, the loss mask, packing."""
import numpy as np
import pytest

from training.sft import IGNORE, encode_conversation, pack_rows, to_messages


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from tests.polish_text import build_tiny_tokenizer
    from training.tokenizer import Tokenizer

    return Tokenizer.load(build_tiny_tokenizer(tmp_path_factory.mktemp("tok")))


def test_only_the_reply_and_its_end_marker_are_learned(tokenizer):
    messages = [{"role": "user", "content": "Jak się masz?"}, {"role": "assistant", "content": "Dobrze, dziękuję."}]
    ids, targets = encode_conversation(tokenizer, messages, system="Jesteś pomocny.")
    text = tokenizer.decode(ids)
    assert text == ("<|im_start|>system\nJesteś pomocny.<|im_end|>\n<|im_start|>user\nJak się masz?<|im_end|>\n"
                    "<|im_start|>assistant\nDobrze, dziękuję.<|im_end|>\n")
    assert ids[0] == tokenizer.bos_id
    learned = [t for t in targets if t != IGNORE]
    assert tokenizer.decode(learned) == "Dobrze, dziękuję.<|im_end|>"
    assert learned[-1] == tokenizer.im_end_id


def test_instruction_records_become_a_user_turn():
    msgs = to_messages({"instruction": "Popraw tekst.", "input": "ala ma kota", "output": "Ala ma kota."})
    assert msgs == [{"role": "user", "content": "Popraw tekst.\n\nala ma kota"}, {"role": "assistant", "content": "Ala ma kota."}]


def test_packing_never_splits_an_example():
    examples = [([1, 10, 11], [10, 11, IGNORE]), ([1, 20, 21, 22], [IGNORE, 21, 22, IGNORE]), ([1, 30], [30, IGNORE])]
    x, y = pack_rows(examples, row_len=5, pad_id=3)
    assert x.tolist() == [[1, 10, 11, 3, 3], [1, 20, 21, 22, 3], [1, 30, 3, 3, 3]]
    assert y[0].tolist() == [10, 11, IGNORE, IGNORE, IGNORE]
    assert np.all(y[x == 3] == IGNORE)
