"""Repository-level contracts: CI runs the README's test command, configs load."""
import re
from pathlib import Path

import pytest

from training.config import load_config, parse_config
from training.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [line.strip() for block in blocks[:2] for line in block.strip().splitlines()]


def test_ci_runs_the_readme_test_command_verbatim():
    setup_cmd, test_cmd = readme_commands()[:2]
    ci_lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert test_cmd in ci_lines
    assert setup_cmd.startswith("bash scripts/setup.sh")


@pytest.mark.parametrize("name", ["polski-tiny", "polski-mini", "polski-1b3"])
def test_shipped_configs_load(name):
    config = load_config(name)
    assert config.model.vocab_size == config.tokenizer.vocab_size


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks" / "configs").glob("*.toml")), ids=lambda p: p.stem)
def test_benchmark_configs_load_and_fit_their_budget(path):
    """The variant configs the GPU scripts take (a stale key would fail only on the GPU machine)."""
    from training.model import GPT

    config = load_config(str(path))
    assert config.model.vocab_size == config.tokenizer.vocab_size
    if config.model.name == "polski-mini":
        assert GPT(config.model).num_params() <= 40_000_000


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match=r"model\.n_layer: unknown key"):
        parse_config({"model": {"n_layer": 2, "n_layers": 2, "d_model": 8, "n_heads": 2, "ffn_hidden": 8, "context_length": 8}})


def test_bad_value_names_the_key():
    with pytest.raises(ConfigError, match=r"model\.d_model"):
        parse_config({"model": {"n_layers": 2, "d_model": -8, "n_heads": 2, "ffn_hidden": 8, "context_length": 8}})


def test_heads_must_divide_width():
    with pytest.raises(ConfigError, match="divisible by n_heads"):
        parse_config({"model": {"n_layers": 2, "d_model": 10, "n_heads": 4, "ffn_hidden": 8, "context_length": 8}, "tokenizer": {"vocab_size": 32000}})


def test_extends_overrides_the_base_config_key_by_key(tmp_path):
    (tmp_path / "base.toml").write_text('[model]\nn_layers = 2\nd_model = 8\nn_heads = 2\nffn_hidden = 8\ncontext_length = 8\n'
                                        '[optim]\nlr = 1e-3\nweight_decay = 0.1\n')
    (tmp_path / "child.toml").write_text('extends = "base.toml"\n[optim]\nweight_decay = 0.8\n')
    config = load_config(tmp_path / "child.toml")
    assert (config.optim.weight_decay, config.optim.lr, config.model.n_layers) == (0.8, 1e-3, 2)
    assert load_config(tmp_path / "child.toml", {"optim": {"lr": 5e-4}}).optim.lr == 5e-4


def test_extends_cycle_is_an_error_naming_it(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ConfigError, match="leads back to itself"):
        load_config(tmp_path / "a.toml")


def test_model_card_names_the_committed_gguf():
    """The card's figures belong to one GGUF; its sha256 in the card must be the committed file's."""
    import hashlib

    card_dir = ROOT / "modelfiles" / "polski-mini"
    found = re.search(r"sha256 `([0-9a-f]{8})…([0-9a-f]{4})`", (card_dir / "README.md").read_text())
    assert found, "the model card lost its `sha256 `xxxxxxxx…yyyy`` line"
    digest = hashlib.sha256((card_dir / "polski-mini.gguf").read_bytes()).hexdigest()
    assert (digest[:8], digest[-4:]) == found.groups()


def test_the_docs_point_at_files_that_exist():
    """Markdown links, and result files named in the docs (not as a command's --out), exist in the tree."""
    docs = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "modelfiles/polski-mini/README.md",
            *sorted((ROOT / "docs").glob("*.md"))]
    missing = []
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if not re.match(r"[a-z]+://|#", target) and not (doc.parent / target.split("#")[0]).exists():
                missing.append(f"{doc.relative_to(ROOT)}: {target}")
        for path in re.findall(r"(?<!--out )(?<![\w/.-])(benchmarks/(?:results|configs)/[\w./-]+\.(?:md|png|json|toml))", text):
            if not (ROOT / path).exists():
                missing.append(f"{doc.relative_to(ROOT)}: {path}")
    assert not missing, missing
