"""The main screen: chat list, conversation, stats line and the message box.

This screen wires widgets to `ChatSession` (conversation logic) and `Store` (history);
it holds no HTTP or SQL of its own.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from purple.chat_session import ChatSession, ReplyOutcome, ReplyStats
from purple.safe_text import neutralise, one_line
from purple.screens.actions import bindings
from purple.screens.help import HelpScreen
from purple.screens.models import ModelsScreen
from purple.screens.search import SearchScreen
from purple.screens.settings import SettingsScreen
from purple.screens.text_prompt import TextPromptScreen
from purple.store import STATUS_ERROR, ChatExportError, ChatImportError, Message
from purple.widgets.chat_list import ChatList
from purple.widgets.message_list import PAGE, MessageList
from purple.widgets.message_view import MessageView, last_code_block
from purple.widgets.prompt_input import PromptInput
from purple.widgets.stats_bar import StatsBar
from training.ollama_client import ModelNotFound, OllamaError, ServerUnavailable, StreamError

REPLY_GROUP = "reply"


class ChatScreen(Screen):
    def __init__(self, chat_id: int | None = None) -> None:
        super().__init__()
        self.t = self.app.t
        self._bindings = bindings(self.t)
        self.chat_id = chat_id
        self.reply_view: MessageView | None = None
        self.replying = False  # from sending until the reply is finished and shown
        self._reply_running = False  # the reply worker has started (so it can be stopped)
        self.editing_id: int | None = None
        self.deleted: list[int] = []

    # -------------------------------------------------------------- properties
    @property
    def store(self):
        return self.app.store

    @property
    def session(self) -> ChatSession | None:
        if self.chat_id is None:
            return None
        return ChatSession(self.store, self.app.client, self.chat_id,
                           default_model=self.app.config.model)

    @property
    def streaming(self) -> bool:
        return self.replying

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def messages(self) -> MessageList:
        return self.query_one(MessageList)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="sidebar"):
                yield Static(Text(self.t("sidebar.title"), style="bold"), classes="sidebar-title")
                yield ChatList(self.t("sidebar.untitled"), self._load_chats, id="chat-list")
            with Vertical(id="main"):
                yield Static("", id="chat-title", markup=False)
                yield MessageList(self.t, id="messages")
                yield StatsBar(self.t, id="stats")
                yield PromptInput(self.t("chat.placeholder"), id="prompt")
        yield Footer()

    async def on_mount(self) -> None:
        if self.chat_id is None:
            recent = self.store.list_chats(limit=1)
            self.chat_id = recent[0].id if recent else None
        await self.open_chat(self.chat_id)
        self.prompt.focus()

    def _load_chats(self, after, limit: int):
        return self.store.list_chats(limit=limit, after=after)

    def refresh_sidebar(self) -> None:
        self.query_one(ChatList).show(self.chat_id)

    def _show_title(self) -> None:
        title = self.store.get_chat(self.chat_id).title if self.chat_id else ""
        self.query_one("#chat-title", Static).update(
            Text(one_line(title, 80) or self.t("chat.new_title"), style="bold"))

    def current_model(self) -> str:
        chat_model = self.store.get_chat(self.chat_id).model if self.chat_id else ""
        return chat_model or self.app.config.model

    def _branches(self, messages: list[Message]) -> dict[int, tuple[int, int]]:
        branches = {}
        for message in messages:
            siblings = self.store.siblings(message.id)
            if len(siblings) > 1:
                branches[message.id] = (siblings.index(message.id) + 1, len(siblings))
        return branches

    async def open_chat(self, chat_id: int | None) -> None:
        """Show the chat's current branch (newest page only); None opens an empty draft."""
        self.chat_id = chat_id
        self.editing_id = None
        leaf = self.store.get_chat(chat_id).current_leaf if chat_id else None
        page = self.store.path_to(leaf, limit=PAGE)
        hidden = self.store.path_length(leaf) - len(page)
        await self.messages.show(page, hidden, self._branches(page))
        last_stats = next((ReplyStats.from_dict(m.stats) for m in reversed(page)
                           if m.role == "assistant" and m.stats), None)
        self.query_one(StatsBar).show(model=self.current_model(), streaming=False,
                                      stats=last_stats)
        self._show_title()
        self.refresh_sidebar()

    async def on_button_pressed(self, event) -> None:
        if event.button.id != "load-earlier":
            return
        event.stop()
        views = self.messages.views()
        first = views[0].message if views else None
        if first is None or first.parent_id is None:
            return
        page = self.store.path_to(first.parent_id, limit=PAGE)
        hidden = self.store.path_length(first.parent_id) - len(page)
        await self.messages.prepend(page, hidden, self._branches(page))

    def ensure_chat(self) -> int:
        if self.chat_id is None:
            config = self.app.config
            self.chat_id = self.store.create_chat(
                "", config.model, config.system, config.defaults.model_dump(exclude_none=True))
        return self.chat_id

    async def on_chat_list_chat_chosen(self, event: ChatList.ChatChosen) -> None:
        if self.streaming:
            self.app.notify(self.t("chat.busy"), markup=False)
            return
        await self.open_chat(event.chat_id)
        self.prompt.focus()

    # ------------------------------------------------------------------ sending
    async def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        await self.submit(event.text)

    async def submit(self, text: str) -> None:
        if self.streaming:
            self.app.notify(self.t("chat.busy"), markup=False, severity="warning")
            return
        first_message = self.chat_id is None or self.store.get_chat(self.chat_id).current_leaf is None
        self.ensure_chat()
        session = self.session
        self.prompt.clear()
        if self.editing_id is not None:
            user_id = session.edit_target(self.editing_id, text)
            self.editing_id = None
            await self.open_chat(self.chat_id)
        else:
            user_id = session.send_target(text)
            await self.messages.add(self.store.get_message(user_id))
            if first_message:
                self._show_title()
                self.refresh_sidebar()
        self.start_reply(user_id, restore_text=text)

    def start_reply(self, user_id: int, restore_text: str | None = None) -> None:
        self.replying = True
        self.query_one(StatsBar).show(model=self.current_model(), streaming=True)
        self.run_worker(self._reply(user_id, restore_text), group=REPLY_GROUP, exclusive=True,
                        exit_on_error=False)

    async def _reply(self, user_id: int, restore_text: str | None) -> None:
        self._reply_running = True
        try:
            await self._stream(user_id, restore_text)
        finally:
            self.replying = self._reply_running = False

    async def _stream(self, user_id: int, restore_text: str | None) -> None:
        session = self.session
        try:
            # the reply view is mounted while the request is on its way (`on_start`)
            await session.stream_reply(user_id, on_start=self._reply_started,
                                       on_chunk=self._reply_chunk, on_finish=self._reply_finished)
        except (ServerUnavailable, ModelNotFound) as error:
            await self._undo_failed_send(user_id, restore_text)
            if isinstance(error, ModelNotFound):
                self.app.show_missing_model(error.model)
            else:
                self.app.show_server_down(str(error))
        except StreamError as error:
            self.app.notify(self.t("chat.stream_error", message=str(error)), markup=False,
                            severity="error")
        except OllamaError as error:
            self.app.notify(self.t("chat.response_error", message=str(error)), markup=False,
                            severity="error")

    async def _undo_failed_send(self, user_id: int, restore_text: str | None) -> None:
        """Nothing reached the server: drop the empty reply (and the new user message when
        it was just typed) and give the text back to the message box."""
        leaf = self.store.get_chat(self.chat_id).current_leaf
        if leaf is not None and self.store.get_message(leaf).content == "":
            self.store.discard_message(leaf)
        if restore_text is not None:
            self.store.discard_message(user_id)
            if not self.prompt.text:
                self.prompt.text = restore_text
        await self.open_chat(self.chat_id)

    async def _reply_started(self, message: Message) -> None:
        self.reply_view = await self.messages.add(message, self._branches([message]).get(message.id))

    async def _reply_chunk(self, content: str, thinking: str) -> None:
        if self.reply_view is not None:
            await self.reply_view.append(content, thinking)

    async def _reply_finished(self, outcome: ReplyOutcome) -> None:
        self._reply_running = False  # the stream is over: nothing left for Esc to stop
        view, self.reply_view = self.reply_view, None
        # before the view's last text, so that one layout takes in both
        self.query_one(StatsBar).show(streaming=False,
                                      stats=outcome.stats if outcome.stats else False)
        if view is not None:
            error = str(outcome.error) if outcome.status == STATUS_ERROR and outcome.error else ""
            await view.finish(outcome.status, outcome.stats, error)

    # ------------------------------------------------------------------ actions
    def action_send(self) -> None:
        text = self.prompt.text
        if text.strip():
            self.run_worker(self.submit(text))

    def action_stop(self) -> None:
        if self.streaming:
            # a worker cancelled before its first step would never clear `replying`
            if self._reply_running:
                self.workers.cancel_group(self, REPLY_GROUP)
        elif self.editing_id is not None:
            self.editing_id = None
            self.prompt.clear()
            self.app.notify(self.t("chat.edit_cancelled"), markup=False)

    async def action_new_chat(self) -> None:
        if self.streaming:
            self.app.notify(self.t("chat.busy"), markup=False)
            return
        await self.open_chat(None)
        self.prompt.focus()

    async def action_regenerate(self) -> None:
        session = self.session
        target = session.regenerate_target() if session and not self.streaming else None
        if target is None:
            self.app.notify(self.t("chat.busy" if self.streaming else "chat.nothing_to_regenerate"),
                            markup=False)
            return
        self.store.set_current_leaf(self.chat_id, target)
        await self.open_chat(self.chat_id)
        self.start_reply(target)

    def action_edit_last(self) -> None:
        session = self.session
        message = session.last_user_message() if session else None
        if message is None:
            self.app.notify(self.t("chat.nothing_to_edit"), markup=False)
            return
        self.begin_edit(message.id)

    def begin_edit(self, message_id: int) -> None:
        if self.streaming:
            self.app.notify(self.t("chat.busy"), markup=False)
            return
        self.editing_id = message_id
        self.prompt.text = self.store.get_message(message_id).content
        self.prompt.focus()
        self.app.notify(self.t("chat.editing"), markup=False)

    def on_message_view_edit_requested(self, event: MessageView.EditRequested) -> None:
        self.begin_edit(event.message_id)

    async def on_message_view_branch_requested(self, event: MessageView.BranchRequested) -> None:
        await self.switch_branch(event.message_id, event.step)

    async def switch_branch(self, message_id: int, step: int) -> None:
        if self.streaming or self.session is None:
            return
        if self.session.switch_branch(message_id, step) is None:
            self.app.notify(self.t("chat.no_other_branch"), markup=False)
            return
        await self.open_chat(self.chat_id)

    async def _last_reply_branch(self, step: int) -> None:
        views = [v for v in self.messages.views() if v.message.role == "assistant"]
        if views:
            await self.switch_branch(views[-1].message.id, step)

    async def action_previous_branch(self) -> None:
        await self._last_reply_branch(-1)

    async def action_next_branch(self) -> None:
        await self._last_reply_branch(1)

    def _copy(self, text: str | None) -> None:
        if not text:
            self.app.notify(self.t("chat.nothing_to_copy"), markup=False)
            return
        self.app.copy_to_clipboard(text)
        self.app.notify(self.t("chat.copied"), markup=False)

    def action_copy_reply(self) -> None:
        replies = [v.content for v in self.messages.views() if v.message.role == "assistant"]
        self._copy(replies[-1] if replies else None)

    def action_copy_code(self) -> None:
        replies = [v.content for v in self.messages.views() if v.message.role == "assistant"]
        blocks = [b for b in map(last_code_block, replies) if b]
        self._copy(blocks[-1] if blocks else None)

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one("#sidebar")
        sidebar.display = not sidebar.display

    def action_help(self) -> None:
        from purple.config import config_path

        self.app.push_screen(HelpScreen(self.t, self.app.config.keys, str(config_path())))

    def action_models(self) -> None:
        async def chosen(model: str | None) -> None:
            if model:
                await self.use_model(model)

        self.app.push_screen(ModelsScreen(self.app.client, self.t, self.current_model()), chosen)

    async def use_model(self, model: str) -> None:
        if self.chat_id is not None:
            self.store.update_chat_settings(self.chat_id, model=model)
        else:
            self.app.config.model = model
        self.query_one(StatsBar).show(model=model)
        self.app.notify(self.t("notify.model_selected", model=neutralise(model)), markup=False)

    def action_settings(self) -> None:
        chat = self.store.get_chat(self.ensure_chat())

        def saved(result: dict | None) -> None:
            if result is None:
                return
            self.store.update_chat_settings(chat.id, **result)
            self.query_one(StatsBar).show(model=result["model"])
            self.app.notify(self.t("notify.settings_saved"), markup=False)

        self.app.push_screen(SettingsScreen(chat, self.t), saved)

    def action_search(self) -> None:
        async def chosen(hit) -> None:
            if hit is None:
                return
            self.store.set_current_leaf(hit.chat_id, self.store.deepest_leaf(hit.message_id))
            await self.open_chat(hit.chat_id)
            for view in self.messages.views():
                if view.message.id == hit.message_id:
                    self.messages.scroll_to_widget(view, animate=False)
                    view.focus()

        self.app.push_screen(SearchScreen(self.store, self.t), chosen)

    def action_rename(self) -> None:
        if self.chat_id is None:
            return
        chat = self.store.get_chat(self.chat_id)

        def renamed(title: str | None) -> None:
            if title:
                self.store.rename_chat(chat.id, title)
                self._show_title()
                self.refresh_sidebar()
                self.app.notify(self.t("notify.renamed"), markup=False)

        self.app.push_screen(TextPromptScreen(self.t("prompt.rename_title"), chat.title,
                                              self.t("prompt.ok"), self.t("prompt.cancel")), renamed)

    async def action_delete(self) -> None:
        if self.chat_id is None or self.streaming:
            return
        chat = self.store.get_chat(self.chat_id)
        self.store.delete_chat(chat.id)
        self.deleted.append(chat.id)
        key = self.app.config.keys.get("undo_delete", "f12")
        self.app.notify(self.t("notify.deleted", title=one_line(chat.title, 40), key=key),
                        markup=False)
        recent = self.store.list_chats(limit=1)
        await self.open_chat(recent[0].id if recent else None)

    async def action_undo_delete(self) -> None:
        if not self.deleted:
            self.app.notify(self.t("notify.nothing_to_restore"), markup=False)
            return
        chat_id = self.deleted.pop()
        self.store.undo_delete(chat_id)
        await self.open_chat(chat_id)
        self.app.notify(self.t("notify.restored"), markup=False)

    def _export(self, suffix: str) -> None:
        if self.chat_id is None:
            return
        chat_id = self.chat_id
        default = str(Path.cwd() / f"purple-chat-{chat_id}.{suffix}")

        def save(path: str | None) -> None:
            if not path:
                return
            try:
                target = self.store.export_file(chat_id, path, suffix)
            except ChatExportError as error:
                self.app.notify(self.t("notify.export_failed", message=one_line(str(error), 200)),
                                markup=False, severity="error")
                return
            self.app.notify(self.t("notify.exported", path=str(target)), markup=False)

        self.app.push_screen(TextPromptScreen(self.t("prompt.export_title"), default,
                                              self.t("prompt.ok"), self.t("prompt.cancel")), save)

    def action_export_md(self) -> None:
        self._export("md")

    def action_export_json(self) -> None:
        self._export("json")

    def action_import_json(self) -> None:
        async def load(path: str | None) -> None:
            if not path:
                return
            try:
                chat_id = self.store.import_file(path)
            except ChatImportError as error:
                self.app.notify(self.t("notify.import_failed", message=one_line(str(error), 200)),
                                markup=False, severity="error")
                return
            await self.open_chat(chat_id)
            title = self.store.get_chat(chat_id).title
            self.app.notify(self.t("notify.imported", title=one_line(title, 40)), markup=False)

        self.app.push_screen(TextPromptScreen(self.t("prompt.import_title"), "",
                                              self.t("prompt.ok"), self.t("prompt.cancel")), load)
