"""scripts/gpu/pick_chat.py: the shipping rule picks on chat-dev and the dev guards only."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = [{"id": "p1", "category": "fakt", "messages": [{"role": "user", "content": "Jaka rzeka płynie przez Kraków?"}],
            "stems": ["wisł", "rzek"], "answers": ["wisł"]},
           {"id": "p2", "category": "small_talk", "messages": [{"role": "user", "content": "Jak minął ci dzień?"}],
            "stems": ["dzień", "dobrze"]}]
GOOD = {"p1": "Przez Kraków płynie Wisła, najdłuższa rzeka w Polsce.", "p2": "Dziękuję, mój dzień minął dobrze i spokojnie."}
BAD = {"p1": "Odra", "p2": "dzień dzień dzień dzień dzień dzień dzień dzień dzień"}


def candidate(out: Path, name: str, replies: dict, val_bpb: float, pairs: float) -> None:
    rows = [{"id": i, "category": "x", "seed": 1, "prompt": "", "reply": r, "ended": True} for i, r in replies.items()]
    (out / f"replies-{name}.json").write_text(json.dumps({"replies": rows}), encoding="utf-8")
    (out / f"eval-{name}").mkdir()
    result = {"bpb": {"bins:val": {"bpb": val_bpb}}, "minimal_pairs": {"ud.jsonl": {"pairs": 100, "correct": round(pairs * 100)}}}
    (out / f"eval-{name}" / "eval.json").write_text(json.dumps(result), encoding="utf-8")


def pick(tmp_path: Path, *names: str) -> str:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in PROMPTS), encoding="utf-8")
    done = subprocess.run([sys.executable, ROOT / "scripts/gpu/pick_chat.py", prompts, tmp_path, *names,
                           "--no-language-check"], capture_output=True, text=True, check=True)
    assert (tmp_path / "ranking.md").is_file()
    return done.stdout.strip().splitlines()[-1]


def test_the_most_usable_candidate_within_the_guards_is_picked(tmp_path):
    candidate(tmp_path, "weak", BAD, 0.960, 0.97)
    candidate(tmp_path, "strong", GOOD, 0.970, 0.97)
    assert pick(tmp_path, "weak", "strong") == "strong"
    ranking = json.loads((tmp_path / "ranking.json").read_text())
    assert ranking["rows"]["strong"]["chat_dev"]["usable"] == 1.0
    assert ranking["rows"]["weak"]["chat_dev"]["usable"] == 0.0


def test_a_candidate_over_the_validation_guard_is_never_picked(tmp_path):
    candidate(tmp_path, "chatty", GOOD, 0.990, 0.97)  # the best chat, but plain text got worse than 0.975 BPB
    candidate(tmp_path, "plain", BAD, 0.960, 0.97)
    assert pick(tmp_path, "chatty", "plain") == "plain"
