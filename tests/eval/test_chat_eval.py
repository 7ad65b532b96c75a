"""`polski eval --chat`: the per-reply checks on hand-written replies, the prompt file's errors, and real runs on
the shipped GGUF (llama.cpp), an Ollama model (real `ollama serve`) and a tiny PyTorch checkpoint."""
import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, missing_part
from training.cli import main
from training.errors import DataError
from training.evals.chat import evaluate_chat, load_prompts, render_chatml, score_reply, summarize, with_system

CAPITAL = {"id": "stolica", "category": "facts", "messages": [{"role": "user", "content": "Jaka jest stolica Polski?"}],
           "stems": ["stolic", "warszaw", "miast"], "answers": ["warszaw"]}
ADVICE = {"id": "sen", "category": "advice", "messages": [{"role": "user", "content": "Jak mogę lepiej spać w nocy?"}],
          "stems": ["sen", "sp", "łóżk", "wieczor"]}
PROMPTS = [
    CAPITAL,
    ADVICE,
    {"id": "wisla", "category": "facts", "messages": [
        {"role": "user", "content": "Cześć!"}, {"role": "assistant", "content": "Cześć! W czym mogę pomóc?"},
        {"role": "user", "content": "Jaka jest najdłuższa rzeka w Polsce?"}], "stems": ["rzek", "wisł"], "answers": ["wisł"]},
]
SHIPPED_GGUF = ROOT / "modelfiles" / "polski-mini" / "polski-mini.gguf"
RATES = ("usable", "on_topic", "fact_accuracy", "loops", "polish", "ended", "echo", "length_ok")


def write_prompts(path: Path, records=PROMPTS) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


# ------------------------------------------------------------ score_reply on hand-written replies

def test_a_polish_on_topic_correct_answer_is_usable():
    s = score_reply(CAPITAL, "Stolicą Polski jest Warszawa, największe miasto w kraju.", ended=True)
    assert s == {"polish": True, "ended": True, "no_loop": True, "length_ok": True, "not_echo": True, "usable": True,
                 "on_topic": True, "correct": True, "words": 8}


def test_an_incorrect_fact_is_usable_and_on_topic_but_not_correct():
    s = score_reply(CAPITAL, "Stolicą Polski jest Kraków, dawne miasto królów.", ended=True)
    assert s["usable"] and s["on_topic"] and s["correct"] is False


def test_an_english_reply_is_not_polish():
    s = score_reply(CAPITAL, "The capital of Poland is Warsaw, the largest city in the country.", ended=True)
    assert s["polish"] is False and s["usable"] is False
    assert s["correct"] is False  # "warsaw" does not start with "warszaw"


def test_a_looping_reply():
    s = score_reply(ADVICE, "Idź spać wcześnie. Idź spać wcześnie. Idź spać wcześnie, a potem odpocznij.", ended=True)
    assert s["no_loop"] is False and s["usable"] is False and s["on_topic"] is True
    twice = score_reply(ADVICE, "Idź spać wcześnie. Idź spać wcześnie, a rano wypij wodę i wyjdź na spacer.", ended=True)
    assert twice["no_loop"] is True  # a 3-gram twice is not a loop


def test_a_one_word_reply_is_too_short():
    s = score_reply(CAPITAL, "Warszawa.", ended=True)
    assert s["length_ok"] is False and s["usable"] is False and s["words"] == 1
    assert s["not_echo"] is True and s["correct"] is True  # too short, not an echo: one reason is enough


def test_an_echo_of_the_prompt():
    s = score_reply(CAPITAL, "Jaka jest stolica Polski? Jaka jest stolica?", ended=True)
    assert s["not_echo"] is False and s["usable"] is False
    assert score_reply(ADVICE, "Jak mogę lepiej spać w nocy? Wyłącz telefon godzinę przed snem.", True)["not_echo"] is True


def test_a_reply_cut_at_the_token_limit_did_not_end():
    s = score_reply(ADVICE, "Warto kłaść się spać o stałej porze, wietrzyć sypialnię i unikać kawy", ended=False)
    assert s["ended"] is False and s["usable"] is False
    assert s["polish"] and s["no_loop"] and s["length_ok"] and s["not_echo"] and s["on_topic"]
    assert s["correct"] is None  # no "answers": not a fact


def test_too_long_and_empty_replies():
    assert score_reply(ADVICE, " ".join(["spokojny sen wieczorem"] * 2 + ["słowo"] * 120), True)["length_ok"] is False
    empty = score_reply(ADVICE, "", True)
    assert empty["polish"] is False and empty["words"] == 0 and empty["on_topic"] is False


def test_the_prompt_is_the_modelfile_template_after_the_default_system_prompt():
    from training.config import OllamaConfig

    system = OllamaConfig().system
    text = render_chatml(with_system(CAPITAL["messages"], system))
    assert text == (f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nJaka jest stolica Polski?<|im_end|>\n"
                    "<|im_start|>assistant\n")
    own = [{"role": "system", "content": "Mów krótko."}, *CAPITAL["messages"]]
    assert with_system(own, system)[0]["content"] == "Mów krótko."
    modelfile = (ROOT / "modelfiles" / "polski-mini" / "Modelfile").read_text(encoding="utf-8")
    assert system in modelfile


# ------------------------------------------------------------ prompt files

@pytest.mark.parametrize("line, says", [
    ("{not json", "is not JSON"),
    (json.dumps({**CAPITAL, "stems": []}), '"stems"'),
    (json.dumps({**CAPITAL, "stems": ["Warszaw"]}), "lowercase"),
    (json.dumps({**CAPITAL, "messages": [{"role": "assistant", "content": "x"}]}), "last message"),
    (json.dumps({k: v for k, v in CAPITAL.items() if k != "category"}), '"category"'),
    (json.dumps({**CAPITAL, "answers": "warszaw"}), '"answers"'),
])
def test_load_prompts_names_the_bad_line_and_the_fix(tmp_path, line, says):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(ADVICE, ensure_ascii=False) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_prompts(path)
    msg = str(err.value)
    assert f"{path}:2" in msg and says in msg and "\n" not in msg


def test_load_prompts_reads_records_and_refuses_duplicates(tmp_path):
    assert [r["id"] for r in load_prompts(write_prompts(tmp_path / "p.jsonl"))] == ["stolica", "sen", "wisla"]
    with pytest.raises(DataError, match="twice"):
        load_prompts(write_prompts(tmp_path / "d.jsonl", [CAPITAL, CAPITAL]))
    with pytest.raises(DataError, match="no prompts"):
        load_prompts(write_prompts(tmp_path / "e.jsonl", []))


# ------------------------------------------------------------ evaluate_chat with a scripted generator

class Scripted:
    name = "scripted"

    def __init__(self, replies):
        self.replies, self.calls = replies, []

    def reply(self, messages, *, seed, temperature, top_p, max_tokens):
        self.calls.append((messages, seed))
        return self.replies[(messages[-1]["content"], seed)]


def test_evaluate_chat_rates_per_category_and_examples():
    gen = Scripted({
        ("Jaka jest stolica Polski?", 1): ("Stolicą Polski jest Warszawa, piękne miasto.", True),
        ("Jaka jest stolica Polski?", 2): ("Stolicą Polski jest Kraków, piękne miasto.", True),
        ("Jak mogę lepiej spać w nocy?", 1): ("Kładź się spać o stałej porze i wietrz pokój.", True),
        ("Jak mogę lepiej spać w nocy?", 2): ("Idź spać. Idź spać. Idź spać. Idź spać.", False),
    })
    r = evaluate_chat(gen, PROMPTS[:2], seeds=(1, 2))
    assert gen.calls[0][0][0]["role"] == "system" and [c[1] for c in gen.calls] == [1, 2, 1, 2]
    assert (r["usable"], r["on_topic"], r["fact_accuracy"], r["fact_replies"]) == (0.75, 1.0, 0.5, 2)
    assert (r["loops"], r["ended"], r["echo"]) == (0.25, 0.75, 0.0)
    assert r["per_category"] == {"advice": {"replies": 2, "usable": 0.5, "on_topic": 1.0},
                                 "facts": {"replies": 2, "usable": 1.0, "on_topic": 1.0}}
    assert len(r["replies"]) == 4 and [e["id"] for e in r["examples"]] == ["stolica", "sen"]
    assert all(e["seed"] == 1 for e in r["examples"])


# ------------------------------------------------------------ real runs through the CLI

def check_chat_result(result: dict, records: list[dict], n_replies: int) -> list[str]:
    """Rates in [0, 1] that are exactly what score_reply gives on the recorded replies; returns the replies."""
    chat = result["chat"]
    assert len(chat["replies"]) == n_replies
    for name in RATES:
        assert chat[name] is None or 0.0 <= chat[name] <= 1.0, (name, chat[name])
    assert chat["usable"] is not None and chat["fact_accuracy"] is not None
    by_id = {r["id"]: r for r in records}
    for rep in chat["replies"]:
        assert rep["scores"] == score_reply(by_id[rep["id"]], rep["reply"], rep["scores"]["ended"]), rep
    again = summarize(chat["replies"])
    assert {k: chat[k] for k in again} == again
    return [r["reply"] for r in chat["replies"]]


def run_cli(target: str, prompts: Path, out: Path, *extra: str) -> dict:
    assert main(["eval", target, "--chat", str(prompts), "--out", str(out), *extra]) == 0
    md = (out / "eval.md").read_text(encoding="utf-8")
    assert "## Chat:" in md and "| category | replies | usable | on topic |" in md
    return json.loads((out / "eval.json").read_text(encoding="utf-8"))


@pytest.mark.llamacpp
@pytest.mark.slow
def test_chat_eval_of_the_shipped_gguf(tmp_path):
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing_part("llama-cpp-python is not installed")
    prompts = write_prompts(tmp_path / "prompts.jsonl")
    first = run_cli(str(SHIPPED_GGUF), prompts, tmp_path / "a", "--chat-seeds", "1")
    assert first["model"]["backend"] == "gguf" and first["chat"]["seeds"] == [1]
    replies = check_chat_result(first, PROMPTS, 3)
    assert any(replies)
    second = run_cli(str(SHIPPED_GGUF), prompts, tmp_path / "b", "--chat-seeds", "1")
    assert [r["reply"] for r in second["chat"]["replies"]] == replies


@pytest.mark.ollama
@pytest.mark.slow
def test_chat_eval_of_an_ollama_model(ollama_server, tmp_path):
    from training.register import register_model

    name = "polski-mini-chat-eval"
    register_model(name, modelfile=ROOT / "modelfiles" / "polski-mini" / "Modelfile", host=ollama_server.url)
    prompts = write_prompts(tmp_path / "prompts.jsonl")
    target = f"ollama:{name}"
    first = run_cli(target, prompts, tmp_path / "a", "--chat-seeds", "1", "--ollama-host", ollama_server.url)
    assert first["model"] == {"backend": "ollama", "source": target, "host": ollama_server.url}
    replies = check_chat_result(first, PROMPTS, 3)
    assert any(replies)
    second = run_cli(target, prompts, tmp_path / "b", "--chat-seeds", "1", "--ollama-host", ollama_server.url)
    assert [r["reply"] for r in second["chat"]["replies"]] == replies


@pytest.fixture(scope="module")
def random_tiny_run(tmp_path_factory) -> Path:
    """polski-tiny with random weights in a RUN_DIR (seconds; the trained `tiny_run` takes minutes on a busy CPU)."""
    import torch

    from tests.export.conftest import make_run, tiny_config
    from tests.polish_text import build_tiny_tokenizer
    from training.model import GPT

    root = tmp_path_factory.mktemp("chat-run")
    torch.manual_seed(0)
    config = tiny_config()
    return make_run(root / "run", build_tiny_tokenizer(root), GPT(config.model), config)


def test_chat_eval_of_a_torch_checkpoint(random_tiny_run, tmp_path):
    prompts = write_prompts(tmp_path / "prompts.jsonl")
    extra = ("--chat-seeds", "1", "2", "--chat-max-tokens", "16")
    first = run_cli(str(random_tiny_run), prompts, tmp_path / "a", *extra)
    assert first["model"]["backend"] == "torch" and first["chat"]["max_tokens"] == 16
    assert first["bpb"] == {} and first["minimal_pairs"] == {}  # --chat alone runs nothing else
    replies = check_chat_result(first, PROMPTS, 6)
    second = run_cli(str(random_tiny_run), prompts, tmp_path / "b", *extra)
    assert [r["reply"] for r in second["chat"]["replies"]] == replies


@pytest.mark.parametrize("extra, says", [([], "give --chat"), (["--chat", "p.jsonl", "--samples"], "not --samples")])
def test_an_ollama_target_takes_only_chat(extra, says, capsys):
    assert main(["eval", "ollama:polski-mini", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and "Ollama model" in err and "\n" not in err
