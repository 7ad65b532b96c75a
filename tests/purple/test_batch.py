"""`purple batch` in-process against the fault-injecting fake server: retries, errors, order, resume."""
from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest

from purple.batch import main
from tests.purple.fake_ollama import FakeOllama, reply_for

FIELDS = {"id", "model", "response", "done_reason", "prompt_eval_count", "eval_count", "ttft_s", "total_s",
          "tokens_per_s", "options", "error", "attempts"}


def write_prompts(path, n, fmt="jsonl"):
    prompts = [f"pytanie numer {i}" for i in range(n)]
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"id": f"r{i}", "prompt": p}) + "\n" for i, p in enumerate(prompts)))
    else:
        path.write_text("".join(p + "\n" for p in prompts))
    return prompts


def read_out(path):
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def run_batch(fake, inp, *extra):
    return main([str(inp), "--model", "fake", "--host", fake.url, "--backoff", "0.001", "--quiet", *extra])


def assert_exactly_once(records, prompts, ids):
    counts = Counter(r["id"] for r in records)
    assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}
    for r in records:
        assert r["error"] is None, r
        assert r["response"] == reply_for(r["prompt"])
    assert sorted(r["prompt"] for r in records) == sorted(prompts)


def test_every_record_once_in_input_order_with_full_fields(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join([
        json.dumps({"id": "a", "prompt": "pierwsze", "options": {"temperature": 0.1}}),
        "",
        json.dumps({"id": 7, "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "drugie"}]}),
        json.dumps({"id": "c", "prompt": "trzecie", "system": "Bądź miły."}),
    ]) + "\n")
    sent: dict[str, list[dict]] = {}  # what the server got, by the last user message

    def record(body, attempt):
        sent[body["messages"][-1]["content"]] = body["messages"]

    with FakeOllama(token_delay=0.005, fault=record) as fake:
        assert run_batch(fake, inp, "--option", "num_predict=32", "--seed", "5", "--system", "Domyślny.") == 0
    out = read_out(tmp_path / "in.out.jsonl")
    assert [r["id"] for r in out] == ["a", 7, "c"]
    for r in out:
        assert FIELDS <= set(r) and r["error"] is None and r["attempts"] == 1 and r["model"] == "fake"
        assert r["eval_count"] > 0 and r["tokens_per_s"] > 0 and 0 <= r["ttft_s"] <= r["total_s"]
    assert out[0]["prompt"] == "pierwsze" and out[0]["response"] == reply_for("pierwsze")
    assert out[0]["options"] == {"num_predict": 32, "seed": 5, "temperature": 0.1}
    assert out[1]["messages"][1]["content"] == "drugie" and "prompt" not in out[1]
    # a record whose messages begin with a system message keeps it: --system is not sent, and "system" says so
    assert sent["drugie"][0] == {"role": "system", "content": "s"} and len(sent["drugie"]) == 2
    assert out[1]["system"] == "s" and out[1]["messages"][0]["content"] == "s"
    assert sent["pierwsze"][0] == {"role": "system", "content": "Domyślny."}
    assert sent["trzecie"][0] == {"role": "system", "content": "Bądź miły."}
    assert out[2]["system"] == "Bądź miły." and out[0]["system"] == "Domyślny."


def test_intermittent_faults_are_retried_and_nothing_is_lost_or_doubled(tmp_path):
    inp = tmp_path / "in.jsonl"
    prompts = write_prompts(inp, 60)
    fault = FakeOllama.random_faults(0.35, seed=3, kinds=("429", "500", "502", "503", "cut", "error"))
    with FakeOllama(token_delay=0.002, fault=fault) as fake:
        assert run_batch(fake, inp, "--retries", "12", "--concurrency", "6") == 0
        assert fake.max_active <= 6
        assert sum(fake.attempts.values()) > 60  # faults did happen
    out = read_out(tmp_path / "in.out.jsonl")
    assert_exactly_once(out, prompts, [f"r{i}" for i in range(60)])
    assert [r["id"] for r in out] == [f"r{i}" for i in range(60)]
    assert max(r["attempts"] for r in out) > 1


def test_record_errors_are_written_and_the_run_goes_on(tmp_path):
    inp = tmp_path / "in.txt"
    write_prompts(inp, 6, fmt="text")

    def fault(body, attempt):
        prompt = body["messages"][-1]["content"]
        return {"pytanie numer 1": "malformed", "pytanie numer 3": "503"}.get(prompt)

    with FakeOllama(fault=fault) as fake:
        assert run_batch(fake, inp, "--retries", "2") == 1
        assert fake.attempts["pytanie numer 1"] == 1 and fake.attempts["pytanie numer 3"] == 3
    out = {r["id"]: r for r in read_out(tmp_path / "in.out.jsonl")}
    assert sorted(out) == [1, 2, 3, 4, 5, 6]  # text input: ids are line numbers
    assert "malformed" in out[2]["error"] and out[2]["attempts"] == 1 and out[2]["response"] is None
    assert "503" in out[4]["error"] and out[4]["attempts"] == 3
    assert all(out[i]["error"] is None for i in (1, 3, 5, 6))


def test_unordered_writes_in_completion_order_ordered_waits(tmp_path):
    inp = tmp_path / "in.jsonl"
    write_prompts(inp, 5)
    slow_first = lambda body, attempt: "slow" if body["messages"][-1]["content"] == "pytanie numer 0" else None  # noqa: E731
    with FakeOllama(fault=slow_first, slow_delay=0.6) as fake:
        assert run_batch(fake, inp, "-o", str(tmp_path / "u.jsonl"), "--unordered") == 0
        assert run_batch(fake, inp, "-o", str(tmp_path / "o.jsonl")) == 0
    assert [r["id"] for r in read_out(tmp_path / "u.jsonl")][-1] == "r0"
    assert [r["id"] for r in read_out(tmp_path / "o.jsonl")] == [f"r{i}" for i in range(5)]


def test_resume_skips_finished_ids_and_drops_a_torn_line(tmp_path, capsys):
    inp = tmp_path / "in.jsonl"
    prompts = write_prompts(inp, 8)
    out_path = tmp_path / "in.out.jsonl"
    with FakeOllama() as fake:
        assert run_batch(fake, inp) == 0
        full = read_out(out_path)
        # as if killed: 3 records written, the 4th torn halfway
        torn = json.dumps(full[3], ensure_ascii=False)
        out_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in full[:3]) + torn[:40])
        fake.attempts.clear()
        assert main([str(inp), "--model", "fake", "--host", fake.url, "--resume"]) == 0
        assert sorted(fake.attempts) == sorted(prompts[3:])
        assert "3 of 8 records already done" in capsys.readouterr().err
        fake.attempts.clear()
        assert run_batch(fake, inp) == 0  # a re-run of a finished batch asks nothing
        assert not fake.attempts
    out = read_out(out_path)
    assert_exactly_once(out, prompts, [f"r{i}" for i in range(8)])
    assert [r["id"] for r in out] == [f"r{i}" for i in range(8)]


def test_retry_failed_reruns_only_the_failures(tmp_path):
    inp = tmp_path / "in.jsonl"
    prompts = write_prompts(inp, 4)
    with FakeOllama(fault=lambda body, attempt: "500" if body["messages"][-1]["content"].endswith("2") else None) as fake:
        assert run_batch(fake, inp, "--retries", "0") == 1
    with FakeOllama() as fake:
        assert run_batch(fake, inp) == 1  # plain re-run keeps the failure, exit still non-zero
        assert not fake.attempts
        assert run_batch(fake, inp, "--retry-failed") == 0
        assert list(fake.attempts) == ["pytanie numer 2"]
    assert_exactly_once(read_out(tmp_path / "in.out.jsonl"), prompts, [f"r{i}" for i in range(4)])


def test_skip_invalid_records_bad_lines_otherwise_the_line_is_named(tmp_path, capsys):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": 1, "prompt": "dobre"}\n{"id": 2, "prompt": \n{"id": 3}\n{"id": 4, "prompt": "też"}\n')
    with FakeOllama() as fake:
        assert run_batch(fake, inp) == 2
        err = capsys.readouterr().err
        assert "line 2: not valid JSON" in err and "--skip-invalid" in err and err.count("\n") == 1
        assert not (tmp_path / "in.out.jsonl").exists() or read_out(tmp_path / "in.out.jsonl") == []
        assert run_batch(fake, inp, "--skip-invalid") == 1
    out = {r["id"]: r for r in read_out(tmp_path / "in.out.jsonl")}
    assert sorted(out, key=str) == [1, 3, 4, "line-2"]
    assert "line 3" in out[3]["error"] and out[3]["attempts"] == 0
    assert out[1]["error"] is None and out[4]["response"] == reply_for("też")


def test_template_fills_fields_and_csv_output_is_formula_safe(tmp_path):
    inp = tmp_path / "in.csv"
    inp.write_text('id,word,prompt\nx1,kot,=HYPERLINK("http://zło")\nx2,pies,+1\n', encoding="utf-8")
    tpl = tmp_path / "t.txt"
    tpl.write_text("Odmień słowo {{ word }} ({{id}})")
    with FakeOllama() as fake:
        assert run_batch(fake, inp, "-o", str(tmp_path / "a.csv")) == 0
        assert run_batch(fake, inp, "-o", str(tmp_path / "b.jsonl"), "--template", str(tpl)) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "a.csv").read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == ["x1", "x2"]
    assert rows[0]["prompt"] == "'=HYPERLINK(\"http://zło\")" and rows[1]["prompt"] == "'+1"
    assert rows[0]["response"] == reply_for('=HYPERLINK("http://zło")')
    assert [r["prompt"] for r in read_out(tmp_path / "b.jsonl")] == ["Odmień słowo kot (x1)", "Odmień słowo pies (x2)"]


def test_stdin_to_stdout(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("jeden\n\ndwa\n".encode())))
    with FakeOllama() as fake:
        assert run_batch(fake, "-", "-o", "-") == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["response"]) for r in out] == [(1, reply_for("jeden")), (3, reply_for("dwa"))]


@pytest.mark.parametrize("args, message", [
    (["--model", "nie-ma"], "'nie-ma' not found"),
    (["--host", "127.0.0.1:9"], "OLLAMA_HOST"),
    (["--option", "bez-rownasie"], "KEY=VALUE"),
])
def test_setup_errors_are_one_line_exit_2(tmp_path, capsys, args, message):
    inp = tmp_path / "in.txt"
    write_prompts(inp, 2, fmt="text")
    with FakeOllama() as fake:
        argv = [str(inp), "--model", "fake", "--host", fake.url, "--quiet", *args]
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_output_of_another_model_is_refused(tmp_path, capsys):
    inp = tmp_path / "in.txt"
    write_prompts(inp, 2, fmt="text")
    with FakeOllama(models=("fake", "inny")) as fake:
        assert run_batch(fake, inp) == 0
        assert main([str(inp), "--model", "inny", "--host", fake.url, "--quiet"]) == 2
    assert "holds results of model 'fake'" in capsys.readouterr().err
