"""Pilot tests of the dialogs: server down, missing model, models, search, settings,
chat management, help, command palette, and hostile strings."""

from __future__ import annotations

import io
import json

from rich.console import Console

from textual.widgets import Input, OptionList, Static

from purple.app import PurpleApp
from purple.config import Config
from purple.screens.actions import ACTION_IDS
from purple.screens.help import HelpScreen
from purple.screens.missing_model import MissingModelScreen
from purple.screens.models import ModelsScreen
from purple.screens.search import SearchScreen
from purple.screens.server_down import ServerDownScreen
from purple.screens.settings import SettingsScreen
from purple.store import Store
from purple.widgets.message_view import MessageView
from purple.widgets.prompt_input import PromptInput

from .fakes import FakeClient
from .helpers import make_app, type_and_send, wait_until

HOSTILE = "[bold red]zły[/] [@click=app.quit]klik[/] \x1b]52;c;ZWNobyBoYWNr\x07"


def as_text(renderable) -> str:
    if hasattr(renderable, "plain"):
        return renderable.plain
    renderable = getattr(renderable, "_renderable", renderable)  # textual's RichVisual
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def texts(screen) -> str:
    return "\n".join(as_text(w.render()) for w in screen.query(Static))


async def test_server_down_screen_names_host_retries_and_keeps_text(tmp_path):
    client = FakeClient(down=True)
    app = make_app(tmp_path, client, retry_seconds=0.1)
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ServerDownScreen), what="screen")
        shown = texts(app.screen)
        assert "OLLAMA_HOST" in shown and client.host in shown and "ollama serve" in shown
        app.chat_screen.query_one(PromptInput).text = "mój tekst"
        await wait_until(pilot, lambda: "próba 3" in texts(app.screen), what="retries")
        client.down = False
        await pilot.click("#retry")
        await wait_until(pilot, lambda: not isinstance(app.screen, ServerDownScreen), what="up")
        assert app.screen.query_one(PromptInput).text == "mój tekst"


async def test_send_while_server_down_gives_the_text_back(tmp_path):
    client = FakeClient()
    app = make_app(tmp_path, client, retry_seconds=30)
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.pause()
        client.down = True
        await type_and_send(pilot, "nie zgub mnie")
        await wait_until(pilot, lambda: isinstance(app.screen, ServerDownScreen))
        chat = app.chat_screen
        assert chat.query_one(PromptInput).text == "nie zgub mnie"
        assert app.store.active_path(chat.chat_id) == []


async def test_missing_model_offers_registration(tmp_path):
    client = FakeClient(models=["inny:latest"])
    registered = []

    async def register(progress):
        progress("kopiowanie")
        registered.append(True)
        client.models.append("polski-mini:latest")
        return "polski-mini"

    app = PurpleApp(Config(), store=Store(tmp_path / "db"), client=client, register=register)
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MissingModelScreen))
        shown = texts(app.screen)
        assert "polski-mini" in shown and "modelfiles/polski-mini/Modelfile" in shown
        await pilot.click("#register")
        await wait_until(pilot, lambda: not isinstance(app.screen, MissingModelScreen))
        assert registered and app.config.model == "polski-mini"
        await type_and_send(pilot, "hej")
        await wait_until(pilot, lambda: client.requests and not app.screen.streaming)


async def test_missing_model_choose_another_uses_the_picker(tmp_path):
    client = FakeClient(models=["inny:latest", "trzeci:latest"])
    app = make_app(tmp_path, client)
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MissingModelScreen))
        await pilot.click("#choose")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen)
                         and app.screen.query_one(OptionList).option_count == 2)
        await wait_until(pilot, lambda: "Q8_0" in texts(app.screen), what="details")
        assert "1024" in texts(app.screen)  # context length from /api/show
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.screen is app.chat_screen)
        assert app.config.model == "trzeci:latest"


async def test_search_opens_the_hit(tmp_path):
    store = Store(tmp_path / "db")
    first = store.create_chat("Zwierzęta")
    store.add_message(first, None, "user", "Gdzie mieszka żółw błotny?")
    store.create_chat("Inna")
    app = make_app(tmp_path, FakeClient(), store=store)
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await pilot.press(*"zolw blotny", "enter")
        await wait_until(pilot, lambda: app.screen.hits, what="hits")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.chat_screen)
        assert app.screen.chat_id == first


async def test_settings_are_saved_with_the_chat(tmp_path):
    store = Store(tmp_path / "db")
    chat = store.create_chat("t", "polski-mini")
    app = make_app(tmp_path, FakeClient(), store=store)
    async with app.run_test(size=(110, 50)) as pilot:
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        app.screen.query_one("#param-temperature", Input).value = "0,7"
        app.screen.query_one("#param-num_ctx", Input).value = "abc"
        app.screen.query_one("#save").press()
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)  # invalid value: stays open
        assert "num_ctx" in str(app.screen.query_one("#settings-error").render())
        app.screen.query_one("#param-num_ctx", Input).value = "2048"
        app.screen.query_one("#param-keep_alive", Input).value = "10m"
        app.screen.query_one("#save").press()
        await wait_until(pilot, lambda: app.screen is app.chat_screen)
        assert store.get_chat(chat).options == {"temperature": 0.7, "num_ctx": 2048,
                                                "keep_alive": "10m"}


async def test_rename_delete_undo_export_import(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = Store(tmp_path / "db")
    chat = store.create_chat("stara nazwa")
    store.add_message(chat, None, "user", "treść")
    app = make_app(tmp_path, FakeClient(), store=store)
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: app.screen.query("#prompt-value"))
        app.screen.query_one(Input).value = "nowa nazwa"
        await pilot.press("enter")
        await wait_until(pilot, lambda: store.get_chat(chat).title == "nowa nazwa")
        await pilot.press("f8")
        await wait_until(pilot, lambda: store.list_chats() == [])
        assert app.screen.chat_id is None
        await pilot.press("f12")
        await wait_until(pilot, lambda: app.screen.chat_id == chat)
        app.screen.action_export_json()
        await wait_until(pilot, lambda: app.screen.query("#prompt-value"))
        await pilot.press("enter")
        exported = tmp_path / f"purple-chat-{chat}.json"
        await wait_until(pilot, lambda: exported.exists())
        assert json.loads(exported.read_text())["chat"]["title"] == "nowa nazwa"
        assert exported.stat().st_mode & 0o777 == 0o600  # as private as the database it came from
        app.screen.action_import_json()
        await wait_until(pilot, lambda: app.screen.query("#prompt-value"))
        app.screen.query_one(Input).value = str(exported)
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(store.list_chats()) == 2)
        assert app.screen.chat_id != chat


async def test_palette_lists_every_action_and_runs_it(tmp_path):
    app = make_app(tmp_path, FakeClient(), lang="en")
    async with app.run_test(size=(110, 40)) as pilot:
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {app.t(f"actions.{a}") for a in ACTION_IDS} <= titles
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Help and keys")
        command.callback()
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_help_shows_remapped_keys(tmp_path):
    app = make_app(tmp_path, FakeClient([["x"], ["y"]]), keys={"regenerate": "f6"})
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        shown = texts(app.screen)
        assert "f6" in shown and "ctrl+r" not in shown
        await pilot.press("escape")
        await type_and_send(pilot, "q")
        await wait_until(pilot, lambda: len(app.screen.query(MessageView)) == 2
                         and not app.screen.streaming)
        app.screen.query_one(PromptInput).blur()
        await pilot.press("f6")
        await wait_until(pilot, lambda: len(app.client.requests) == 2, what="remapped regenerate")


async def test_hostile_strings_in_output_and_titles_are_literal(tmp_path):
    store = Store(tmp_path / "db")
    store.create_chat(HOSTILE)
    client = FakeClient([[HOSTILE]])
    app = make_app(tmp_path, client, store=store)
    async with app.run_test(size=(110, 40)) as pilot:
        await type_and_send(pilot, HOSTILE)
        await wait_until(pilot, lambda: len(app.screen.query(MessageView)) == 2
                         and not app.screen.streaming)
        assert app.is_running
        reply, question = app.screen.query(MessageView)[1], app.screen.query(MessageView)[0]
        for view in (reply, question):
            assert "[bold red]zły[/]" in view.content and "\x1b" not in view.content
        assert "[@click=app.quit]" in str(question.query_one(".message-body").render())
        title = str(app.screen.query_one("#chat-title").render())
        assert "[bold red]zły[/]" in title and "\x1b" not in title
        option = app.screen.query_one("#chat-list").get_option_at_index(0)
        assert "[@click=app.quit]" in str(option.prompt)
        await pilot.click("#chat-title")
        await pilot.click(reply)
        assert app.is_running


async def test_sidebar_lists_every_chat_newest_first_and_highlights_an_old_one(tmp_path):
    store = Store(tmp_path / "db")
    ids = [store.create_chat(f"rozmowa {i}", "polski-mini") for i in range(400)]
    store.db.execute("UPDATE chats SET updated = id")
    app = PurpleApp(Config(), store=store, client=FakeClient(), chat_id=ids[5])
    async with app.run_test(size=(110, 40)) as pilot:
        chat_list = app.screen.query_one("#chat-list")
        await wait_until(pilot, lambda: chat_list.option_count == 400, what="all chats listed")
        listed = [int(chat_list.get_option_at_index(i).id) for i in range(400)]
        assert listed == ids[::-1]
        assert chat_list.highlighted == listed.index(ids[5])


async def test_malformed_imports_and_an_unwritable_export_give_one_line_and_change_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = Store(tmp_path / "db")
    chat = store.create_chat("rozmowa")
    store.add_message(chat, None, "user", "treść")
    before = list(store.db.iterdump())
    bad = {"lista.json": "[]", "chat-lista.json": json.dumps({"format": "purple-chat", "version": 1, "chat": []}),
           "zepsuty.json": "{", "zly-rodzic.json": json.dumps({"format": "purple-chat", "version": 1, "chat": {},
                                                              "messages": [{"id": 1, "role": "user"},
                                                                           {"id": 2, "parent_id": 5, "role": "user"}]})}
    for name, text in bad.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    app = make_app(tmp_path, FakeClient(), store=store, lang="en")
    notes: list[tuple[str, str]] = []
    async with app.run_test(size=(110, 40)) as pilot:
        monkeypatch.setattr(app, "notify", lambda message, **kw: notes.append((message, kw.get("severity", ""))))
        for name in [*bad, "nie-ma.json"]:
            app.screen.action_import_json()
            await wait_until(pilot, lambda: app.screen.query("#prompt-value"))
            app.screen.query_one(Input).value = str(tmp_path / name)
            await pilot.press("enter")
            await wait_until(pilot, lambda: len(notes) == 1, what=f"a message about {name}")
            message, severity = notes.pop()
            assert message.startswith("Import failed: ") and "\n" not in message and severity == "error", message
            assert list(store.db.iterdump()) == before
        (tmp_path / "plik").write_text("")
        app.screen.action_export_json()
        await wait_until(pilot, lambda: app.screen.query("#prompt-value"))
        app.screen.query_one(Input).value = str(tmp_path / "plik" / "x.json")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(notes) == 1, what="a message about the export")
        message, severity = notes.pop()
        assert message.startswith("Export failed: ") and "\n" not in message and severity == "error", message
        assert app.screen.chat_id == chat and app.is_running
