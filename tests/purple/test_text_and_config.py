"""safe_text, the message catalogs, config loading and the CLI entry point."""

from __future__ import annotations

import pytest

from purple import cli
from purple.config import ChatOptions, ConfigError, data_dir, load_config
from purple.i18n import Catalog, load_messages
from purple.safe_text import has_replacement_char, neutralise, one_line, plain

HOSTILE = "[bold red]x[/] [@click=app.quit]klik[/] \x1b]52;c;ZWNobyBoYWNr\x07 \x1b[2J\x9b31m koniec"


def test_neutralise_removes_escapes_keeps_text():
    clean = neutralise(HOSTILE)
    assert "\x1b" not in clean and "\x07" not in clean and "\x9b" not in clean
    assert "52;c" not in clean  # the OSC 52 payload goes with its sequence
    assert "[bold red]x[/]" in clean and "koniec" in clean
    assert neutralise("a\r\nb\tc\x00") == "a\nb\tc"


def test_plain_is_literal_text():
    text = plain("[bold red]x[/]")
    assert text.plain == "[bold red]x[/]" and not text.spans


def test_one_line_and_replacement_char():
    assert one_line("a\n  b " + "c" * 100, 10) == "a b ccccc…"
    assert has_replacement_char("zły \ufffd") and not has_replacement_char("dobry")


def test_catalogs_have_the_same_keys_and_placeholders():
    pl, en = load_messages("pl"), load_messages("en")
    assert set(pl) == set(en)
    import string
    fields = lambda s: {f for _, f, _, _ in string.Formatter().parse(s) if f}
    assert {k: fields(v) for k, v in pl.items()} == {k: fields(v) for k, v in en.items()}


def test_catalog_lookup_and_fallback():
    assert Catalog("en")("chat.stopped") == "stopped"
    assert Catalog("pl")("chat.stopped") == "zatrzymano"
    assert Catalog("en")("no.such.key") == "no.such.key"
    with pytest.raises(ValueError):
        Catalog("de")


def test_config_file_env_and_overrides(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text('lang = "en"\nmodel = "m1"\n[keys]\nregenerate = "f6"\n'
                    '[defaults]\ntemperature = 0.3\n', encoding="utf-8")
    monkeypatch.setenv("OLLAMA_HOST", "example:1234")
    config = load_config(path, model="m2")
    assert (config.lang, config.model, config.host) == ("en", "m2", "example:1234")
    assert config.keys == {"regenerate": "f6"}
    assert config.defaults.ollama_options() == {"temperature": 0.3}
    monkeypatch.setenv("PURPLE_DATA_DIR", str(tmp_path / "data"))
    assert data_dir(config) == tmp_path / "data"


def test_config_errors_are_one_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("lang = 'fr'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="lang"):
        load_config(path)
    path.write_text("lang = \n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(path)


def test_chat_options_validate_ranges():
    assert ChatOptions(keep_alive="5m", seed=1).ollama_options() == {"seed": 1}
    with pytest.raises(ValueError):
        ChatOptions(top_p=2)


def test_cli_dispatches_batch_and_ask_lazily(monkeypatch):
    import sys
    import types
    calls = []
    for name in ("batch", "ask"):
        module = types.ModuleType(f"purple.{name}")
        module.main = lambda argv, n=name: calls.append((n, argv)) or 0
        monkeypatch.setitem(sys.modules, f"purple.{name}", module)
    assert cli.main(["batch", "in.jsonl"]) == 0
    assert cli.main(["ask", "--model", "m", "pytanie"]) == 0
    assert calls == [("batch", ["in.jsonl"]), ("ask", ["--model", "m", "pytanie"])]


def test_cli_reports_config_error(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "c.toml"
    bad.write_text("theme = 3\n", encoding="utf-8")
    monkeypatch.setenv("PURPLE_CONFIG", str(bad))
    assert cli.main(["--lang", "en"]) == 2
    assert capsys.readouterr().err.startswith("config error:")
