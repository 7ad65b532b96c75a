"""A tiny model trained in the suite, exported, registered in a real `ollama serve`, and asked in Polish."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from training.errors import ExportError, ServerError
from training.export.export_model import export_model
from training.export.modelfile import read_modelfile, write_modelfile
from training.export.source import load_source
from training.export.templates import CHATML_GO
from training.register import aregister_model, register_model

pytestmark = pytest.mark.ollama


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    """The trained tiny model as F32 GGUF with a generated Modelfile beside it."""
    root = tmp_path_factory.mktemp("ollama-export")
    gguf = export_model(trained_run, root / "models" / "polski-tiny.gguf", dtype="f32").path
    modelfile = write_modelfile(root / "Modelfile", gguf, load_source(trained_run).config)
    return gguf, modelfile


@pytest.fixture(scope="module")
def registered(ollama_server, exported):
    _gguf, modelfile = exported
    events = []
    reg = register_model("polski-tiny-test", modelfile=modelfile, host=ollama_server.url,
                         progress=lambda stage, done, total: events.append(stage))
    return reg, events


def test_register_uploads_then_is_idempotent(registered, ollama_server, exported):
    reg, events = registered
    assert reg.uploaded and reg.statuses[-1] == "success"
    assert "hash" in events and "upload" in events
    again = register_model("polski-tiny-test", gguf=exported[0], modelfile=exported[1], host=ollama_server.url)
    assert not again.uploaded and again.digest == reg.digest and again.statuses[-1] == "success"


def test_show_has_our_template_and_parameters(registered, ollama_server):
    info = httpx.post(f"{ollama_server.url}/api/show", json={"model": "polski-tiny-test"}, timeout=60).json()
    assert info["template"] == CHATML_GO
    assert info["system"].startswith("Jesteś")
    assert "Apache-2.0" in info["license"]  # LICENSE travels through /api/create too
    params = dict(line.split(None, 1) for line in info["parameters"].splitlines())
    assert params["stop"] == '"<|im_end|>"' and float(params["temperature"]) == 0.7
    assert info["details"]["format"] == "gguf" and info["model_info"]["general.architecture"] == "llama"


def test_chat_answers_like_our_model(registered, ollama_server, trained_run):
    """/api/chat (Modelfile template + system prompt) greedily answers exactly what PyTorch answers."""
    import torch

    from training.export.templates import render_chatml
    from training.tokenizer import Tokenizer

    user = "Opowiedz bajkę o smoku."
    body = {"model": "polski-tiny-test", "stream": False, "messages": [{"role": "user", "content": user}],
            "options": {"num_predict": 16, "temperature": 0, "top_k": 1, "repeat_penalty": 1.0}}
    reply = httpx.post(f"{ollama_server.url}/api/chat", json=body, timeout=120).json()
    assert reply["done"] is True and reply["message"]["role"] == "assistant"
    tok = Tokenizer.load(load_source(trained_run).tokenizer_dir)
    system = read_modelfile_system(ollama_server)
    ids = [tok.bos_id] + tok.encode(render_chatml([{"role": "system", "content": system}, {"role": "user", "content": user}]))
    out = load_source(trained_run).torch_model().generate(torch.tensor([ids]), 16, temperature=0.0)[0, len(ids):].tolist()
    stops = {tok.eos_id, tok.im_end_id}
    cut = next((i for i, t in enumerate(out) if t in stops), len(out))
    assert reply["eval_count"] == min(cut + 1, 16)
    assert reply["message"]["content"] == tok.decode(out[:cut])


def test_prompt_token_count_and_greedy_text_match_ours(registered, ollama_server, trained_run):
    import torch

    from training.tokenizer import Tokenizer

    tok = Tokenizer.load(load_source(trained_run).tokenizer_dir)
    prompt = "Zażółć gęślą jaźń, a w 2024 roku   było  ciepło.\nDawno, dawno temu"
    body = {"model": "polski-tiny-test", "prompt": prompt, "raw": True, "stream": False,
            "options": {"num_predict": 12, "temperature": 0, "repeat_penalty": 1.0, "top_k": 1}}
    reply = httpx.post(f"{ollama_server.url}/api/generate", json=body, timeout=120).json()
    ids = [tok.bos_id] + tok.encode(prompt)
    assert reply["prompt_eval_count"] == len(ids)
    model = load_source(trained_run).torch_model()
    ours = model.generate(torch.tensor([ids]), 12, temperature=0.0)[0, len(ids):].tolist()
    assert reply["response"] == tok.decode(ours)


def test_chat_prompt_counts_system_once(registered, ollama_server, trained_run):
    from training.export.templates import render_chatml
    from training.tokenizer import Tokenizer

    tok = Tokenizer.load(load_source(trained_run).tokenizer_dir)
    body = {"model": "polski-tiny-test", "stream": False, "messages": [{"role": "user", "content": "Cześć!"}],
            "options": {"num_predict": 1}}
    reply = httpx.post(f"{ollama_server.url}/api/chat", json=body, timeout=120).json()
    system = read_modelfile_system(ollama_server)
    text = render_chatml([{"role": "system", "content": system}, {"role": "user", "content": "Cześć!"}])
    assert reply["prompt_eval_count"] == 1 + len(tok.encode(text))


def read_modelfile_system(server) -> str:
    return httpx.post(f"{server.url}/api/show", json={"model": "polski-tiny-test"}, timeout=60).json()["system"]


CLI_OPTIONS = {"num_predict": 24, "temperature": 0, "top_k": 1, "repeat_penalty": 1}


@pytest.fixture(scope="module")
def cli_model(exported, ollama_server):
    """The same GGUF created with `ollama create -f` from a Modelfile beside it, plus a num_predict bound
    (a tiny model may never say <|im_end|>) and greedy decoding, so what `ollama run` prints is known."""
    _gguf, modelfile = exported
    bounded = modelfile.with_name("Modelfile.cli")
    greedy = "".join(f"PARAMETER {k} {v}\n" for k, v in CLI_OPTIONS.items())
    bounded.write_text(modelfile.read_text() + greedy)
    assert read_modelfile(bounded).from_.startswith("./")  # relative FROM, resolved against the Modelfile's folder
    done = ollama_server.cli("create", "polski-tiny-cli", "-f", str(bounded), timeout=300)
    assert done.returncode == 0, done.stderr
    return "polski-tiny-cli"


def test_ollama_create_cli_from_modelfile(cli_model, ollama_server):
    shown = ollama_server.cli("show", cli_model, "--template")
    assert shown.returncode == 0 and shown.stdout.strip() == CHATML_GO.strip()


def test_ollama_run_prints_the_greedy_answer(cli_model, ollama_server):
    prompt = "Napisz zdanie o Wiśle."
    done = ollama_server.cli("run", cli_model, prompt, timeout=180)
    assert done.returncode == 0, done.stderr
    body = {"model": cli_model, "stream": False, "messages": [{"role": "user", "content": prompt}], "options": CLI_OPTIONS}
    reply = httpx.post(f"{ollama_server.url}/api/chat", json=body, timeout=120).json()["message"]["content"]
    assert any(ch.isalpha() for ch in reply)
    assert done.stdout.strip() == reply.strip()


def test_server_down_is_one_clear_error(exported):
    from training.ollama_server import free_port

    with pytest.raises(ServerError, match="--start-server"):
        register_model("x", gguf=exported[0], host=f"http://127.0.0.1:{free_port()}")


def test_missing_gguf_never_reaches_server(tmp_path, ollama_server):
    (tmp_path / "Modelfile").write_text("FROM llama3\n")  # a model name, which `ollama create` would pull
    with pytest.raises(ExportError, match="does not exist"):
        asyncio.run(aregister_model("x", modelfile=tmp_path / "Modelfile", host=ollama_server.url))


def test_wrong_digest_is_refused_by_server(exported, ollama_server):
    from training.ollama_client import OllamaClient, OllamaError

    async def push():
        async with OllamaClient(ollama_server.url) as client:
            await client.push_blob(exported[0], "sha256:" + "0" * 64)

    with pytest.raises(OllamaError, match="digest mismatch"):
        asyncio.run(push())
