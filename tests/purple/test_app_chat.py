"""Pilot tests of the chat flows: send and stream, stop, regenerate, edit, branches, paging."""

from __future__ import annotations


from textual.widgets import Markdown
from textual.widgets._markdown import MarkdownFence, MarkdownParagraph

from purple.chat_session import ReplyStats
from purple.store import STATUS_COMPLETE, STATUS_STOPPED, Store
from purple.widgets.message_view import MessageView
from purple.widgets.prompt_input import PromptInput

from .fakes import FakeClient
from .helpers import make_app, type_and_send, wait_until


def views(app):
    return list(app.screen.query(MessageView))


async def test_send_streams_reply_saves_it_and_shows_stats(tmp_path):
    client = FakeClient([["# Żółw\n\n", "Ma **pancerz**.\n\n", "```python\nprint('x')\n```\n"]])
    app = make_app(tmp_path, client)
    async with app.run_test(size=(110, 40)) as pilot:
        await type_and_send(pilot, "Opowiedz o żółwiu")
        await wait_until(pilot, lambda: len(views(app)) == 2 and not app.screen.streaming,
                         what="reply finished")
        reply = views(app)[1]
        assert reply.content.startswith("# Żółw")
        assert "pancerz" in reply.content
        status = str(reply.query_one(".message-status").render())
        assert "5 tok" in status and "tok/s" in status and "TTFT" in status
        assert app.screen.query_one(PromptInput).text == ""
        stored = app.store.active_path(app.screen.chat_id)
        assert [m.role for m in stored] == ["user", "assistant"]
        assert stored[1].status == STATUS_COMPLETE
        assert ReplyStats.from_dict(stored[1].stats).tokens == 5
        assert app.store.get_chat(app.screen.chat_id).title == "Opowiedz o żółwiu"
        assert client.closed_streams == 1


async def test_escape_stops_stream_keeps_partial_and_closes_iterator(tmp_path):
    client = FakeClient([["słowo "] * 200], delay=0.02)
    app = make_app(tmp_path, client)
    async with app.run_test(size=(110, 40)) as pilot:
        await type_and_send(pilot, "Mów dużo")
        await wait_until(pilot, lambda: len(views(app)) == 2 and "słowo" in views(app)[1].content,
                         what="first chunk")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.screen.streaming, what="stop")
        reply = app.store.active_path(app.screen.chat_id)[-1]
        assert reply.status == STATUS_STOPPED
        assert 0 < reply.content.count("słowo") < 200
        assert client.closed_streams == 1 and client.finished_streams == 0
        assert views(app)[1].has_class("stopped")
        assert views(app)[1].query_one(Markdown).source == reply.content  # all of it shown
        assert "zatrzymano" in str(views(app)[1].query_one(".message-status").render())


async def test_regenerate_keeps_old_reply_as_branch(tmp_path):
    client = FakeClient([["Pierwsza"], ["Druga"]])
    app = make_app(tmp_path, client)
    async with app.run_test(size=(110, 40)) as pilot:
        await type_and_send(pilot, "Cześć")
        await wait_until(pilot, lambda: len(views(app)) == 2 and not app.screen.streaming)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(views(app)) == 2 and views(app)[1].content == "Druga"
                         and not app.screen.streaming, what="regenerated")
        reply_id = views(app)[1].message.id
        assert len(app.store.siblings(reply_id)) == 2
        assert "2/2" in str(views(app)[1].query_one(".message-header").render())
        # both requests carried the same history
        assert client.requests[0]["messages"] == client.requests[1]["messages"]
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: views(app)[1].content == "Pierwsza", what="branch switch")


async def test_edit_earlier_message_makes_new_branch(tmp_path):
    client = FakeClient([["A1"], ["A2"], ["B1"]])
    app = make_app(tmp_path, client)
    async with app.run_test(size=(110, 40)) as pilot:
        await type_and_send(pilot, "pierwsze")
        await wait_until(pilot, lambda: len(views(app)) == 2 and not app.screen.streaming)
        await type_and_send(pilot, "drugie")
        await wait_until(pilot, lambda: len(views(app)) == 4 and not app.screen.streaming)
        first_user = views(app)[0]
        first_user.focus()
        await pilot.press("e")
        assert app.screen.query_one(PromptInput).text == "pierwsze"
        app.screen.query_one(PromptInput).text = "poprawione"
        app.screen.query_one(PromptInput).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(views(app)) == 2 and not app.screen.streaming
                         and views(app)[1].content == "B1", what="edited branch")
        assert views(app)[0].content == "poprawione"
        assert client.requests[-1]["messages"] == [{"role": "user", "content": "poprawione"}]
        old = app.store.siblings(views(app)[0].message.id)
        assert len(old) == 2  # the original question is kept
        assert app.store.get_message(old[0]).content == "pierwsze"


async def test_shift_enter_and_ctrl_j_insert_newlines_enter_sends(tmp_path):
    client = FakeClient([["ok"]])
    app = make_app(tmp_path, client)
    async with app.run_test(size=(110, 40)) as pilot:
        prompt = app.screen.query_one(PromptInput)
        prompt.focus()
        await pilot.press("a", "ctrl+j", "b", "shift+enter", "c")
        assert prompt.text == "a\nb\nc"
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(views(app)) == 2 and not app.screen.streaming)
        assert client.requests[0]["messages"][-1]["content"] == "a\nb\nc"


async def test_system_prompt_and_parameters_are_sent(tmp_path):
    store = Store(tmp_path / "db")
    chat = store.create_chat("t", "polski-mini", "Jesteś pomocny.",
                             {"temperature": 0.2, "num_ctx": 64, "keep_alive": "5m"})
    client = FakeClient([["x"]])
    app = make_app(tmp_path, client, store=store)
    async with app.run_test(size=(110, 40)) as pilot:
        assert app.screen.chat_id == chat
        await type_and_send(pilot, "hej")
        await wait_until(pilot, lambda: client.requests and not app.screen.streaming)
        request = client.requests[0]
        assert request["messages"][0] == {"role": "system", "content": "Jesteś pomocny."}
        assert request["options"] == {"temperature": 0.2, "num_ctx": 64}
        assert request["keep_alive"] == "5m"
        # 20 prompt + 5 reply tokens of 64: 39 %, no warning yet
        assert not app.screen.query_one("#stats").has_class("full")


async def test_context_gauge_warns_when_server_drops_messages(tmp_path):
    store = Store(tmp_path / "db")
    store.create_chat("t", "polski-mini", "", {"num_ctx": 24})
    client = FakeClient([["x"]])
    app = make_app(tmp_path, client, store=store, lang="en")
    async with app.run_test(size=(110, 40)) as pilot:
        await type_and_send(pilot, "hej")
        await wait_until(pilot, lambda: client.requests and not app.screen.streaming)
        stats = app.screen.query_one("#stats")
        assert stats.has_class("full")
        assert "dropping the oldest" in str(stats.render())


async def test_replacement_char_and_thinking_are_shown(tmp_path):
    client = FakeClient([["zły bajt: \ufffd"]])
    client.thinking = ["Najpierw ", "pomyślę."]
    app = make_app(tmp_path, client)
    async with app.run_test(size=(110, 40)) as pilot:
        await type_and_send(pilot, "hej")
        await wait_until(pilot, lambda: len(views(app)) == 2 and not app.screen.streaming)
        reply = views(app)[1]
        assert reply.has_class("replacement")
        assert "U+FFFD" in str(reply.query_one(".message-status").render())
        from textual.widgets import Collapsible
        box = reply.query_one(Collapsible)
        assert box.display and box.collapsed
        assert reply.thinking == "Najpierw pomyślę."
        assert app.store.active_path(app.screen.chat_id)[-1].thinking == "Najpierw pomyślę."


async def test_long_chat_mounts_one_page_and_loads_earlier(tmp_path):
    store = Store(tmp_path / "db")
    chat = store.create_chat("long", "polski-mini")
    parent = None
    for index in range(300):
        parent = store.add_message(chat, parent, "user" if index % 2 == 0 else "assistant",
                                   f"wiadomość {index}")
    app = make_app(tmp_path, FakeClient(), store=store)
    async with app.run_test(size=(110, 40)) as pilot:
        assert len(views(app)) == 40
        assert views(app)[-1].content == "wiadomość 299"
        app.screen.query_one("#messages").scroll_home(animate=False)
        await pilot.pause()
        await pilot.click("#load-earlier")
        await wait_until(pilot, lambda: len(views(app)) == 80, what="earlier page")
        assert views(app)[0].content == "wiadomość 220"


async def test_copy_reply_and_code_block(tmp_path):
    client = FakeClient([["Kod:\n\n```python\nprint('żółw')\n```\n"]])
    app = make_app(tmp_path, client)
    copied = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=(110, 40)) as pilot:
        await type_and_send(pilot, "kod")
        await wait_until(pilot, lambda: len(views(app)) == 2 and not app.screen.streaming)
        await pilot.press("f5")
        await pilot.press("f9")
        assert copied[0].startswith("Kod:")
        assert copied[1] == "print('żółw')"


async def test_fast_long_reply_is_rendered_whole_and_in_order(tmp_path):
    paragraphs = [f"Akapit {i}: " + "słowo " * 10 + "\n\n" for i in range(60)]
    code = "```python\nprint('żółw')\nprint('koniec')\n```\n"
    text = "".join(paragraphs[:30]) + code + "".join(paragraphs[30:])
    pieces = [text[i:i + 7] for i in range(0, len(text), 7)]  # chunks cut through the fence
    client = FakeClient([pieces], delay=0.0005)
    app = make_app(tmp_path, client)
    async with app.run_test(size=(110, 40)) as pilot:
        await type_and_send(pilot, "Dużo tekstu")
        await wait_until(pilot, lambda: len(views(app)) == 2 and not app.screen.streaming,
                         timeout=30, what="reply finished")
        body = views(app)[1].query_one(Markdown)
        assert body.source == text == app.store.active_path(app.screen.chat_id)[-1].content
        assert len(body.query(MarkdownParagraph)) == 60
        fences = body.query(MarkdownFence)
        assert len(fences) == 1 and fences.first().code.rstrip() == "print('żółw')\nprint('koniec')"


async def test_reply_follows_the_bottom_unless_the_user_scrolled_up(tmp_path):
    client = FakeClient([["Linia\n\n"] * 300], delay=0.005)
    app = make_app(tmp_path, client)
    async with app.run_test(size=(110, 30)) as pilot:
        messages = app.screen.query_one("#messages")
        await type_and_send(pilot, "Pisz")
        await wait_until(pilot, lambda: messages.max_scroll_y > 20, what="reply taller than view")
        assert messages.scroll_y == messages.max_scroll_y
        messages.scroll_home(animate=False)
        await wait_until(pilot, lambda: not app.screen.streaming, timeout=30, what="finish")
        assert messages.scroll_y < messages.max_scroll_y - 100
