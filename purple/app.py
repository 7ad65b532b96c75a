"""The Textual App: owns the config, store, client and catalog; shows the chat screen and,
over it, the server-down or missing-model dialogs. Conversation logic lives in
`chat_session`, history in `store`, widgets know neither."""

from __future__ import annotations

import asyncio
from typing import Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.theme import Theme

from purple.config import Config, data_dir
from purple.i18n import Catalog
from purple.model_registration import register_shipped_model
from purple.screens.actions import ACTIONS
from purple.screens.chat import ChatScreen
from purple.screens.missing_model import MissingModelScreen
from purple.screens.models import ModelsScreen
from purple.screens.server_down import ServerDownScreen
from purple.store import Store
from training.ollama_client import OllamaClient, OllamaError, ServerUnavailable

PURPLE_THEME = Theme(
    name="purple",
    primary="#9B5DE5",
    secondary="#C77DFF",
    accent="#F15BB5",
    warning="#FEE440",
    error="#FF4D6D",
    success="#00F5D4",
    foreground="#EDE7F6",
    background="#1A1025",
    surface="#24163A",
    panel="#2E1D49",
    dark=True,
)


def model_present(model: str, tags: list[dict]) -> bool:
    names = {tag.get("name") for tag in tags} | {tag.get("model") for tag in tags}
    return model in names or f"{model}:latest" in names


class PurpleApp(App):
    CSS_PATH = "purple.tcss"
    TITLE = "Purple"

    def __init__(self, config: Config | None = None, *, store: Store | None = None, client=None,
                 register=None, check_server: bool = True, chat_id: int | None = None) -> None:
        super().__init__()
        self.config = config or Config()
        self.t = Catalog(self.config.lang)
        self.store = store or Store(data_dir(self.config))
        self.client = client or OllamaClient(self.config.host)
        self.register = register or (lambda progress: register_shipped_model(self.config.host,
                                                                             progress))
        self.check_server = check_server
        self.initial_chat = chat_id
        self._retry_now = asyncio.Event()
        self.server_screen: ServerDownScreen | None = None
        self.sub_title = self.t("app.subtitle")

    @property
    def host(self) -> str:
        return getattr(self.client, "host", self.config.host or "")

    def on_mount(self) -> None:
        self.register_theme(PURPLE_THEME)
        self.theme = self.config.theme if self.config.theme in self.available_themes else "purple"
        if self.config.keys:
            self.set_keymap(self.config.keys)
        self.push_screen(ChatScreen(self.initial_chat))
        if self.check_server:
            self.run_worker(self.watch_server(), group="server", exclusive=True)

    async def on_unmount(self) -> None:
        try:
            self.store.purge_deleted()
        finally:
            await self.client.aclose()

    # ------------------------------------------------------------ server checks
    async def watch_server(self) -> None:
        """Until the server answers, show the server-down screen and retry; then check the
        model once."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.client.version()
                tags = await self.client.tags()
                break
            except ServerUnavailable as error:
                if self.server_screen is None:
                    self.show_server_down(str(error))
                else:
                    self.server_screen.show_attempt(attempt)
            except OllamaError as error:
                self.notify(str(error), markup=False, severity="error")
                return
            self._retry_now.clear()
            try:
                await asyncio.wait_for(self._retry_now.wait(), self.config.retry_seconds)
            except asyncio.TimeoutError:
                pass
        if self.server_screen is not None:
            self.server_screen.dismiss(None)
            self.server_screen = None
        model = self.chat_screen.current_model() if self.chat_screen else self.config.model
        if not model_present(model, tags):
            self.show_missing_model(model)

    def on_server_down_screen_retry_now(self) -> None:
        self._retry_now.set()

    def show_server_down(self, detail: str = "") -> None:
        if self.server_screen is not None:
            return
        self.server_screen = ServerDownScreen(self.host, self.t, self.config.retry_seconds, detail)

        def closed(_result) -> None:
            self.server_screen = None

        self.push_screen(self.server_screen, closed)
        if self.check_server and not any(w.group == "server" and w.is_running for w in self.workers):
            self.run_worker(self.watch_server(), group="server", exclusive=True)

    def show_missing_model(self, model: str) -> None:
        async def decided(choice: str | None) -> None:
            if choice is None:
                self.exit()
            elif choice == "":
                self.push_screen(ModelsScreen(self.client, self.t, model), picked)
            else:
                await picked(choice)

        async def picked(choice: str | None) -> None:
            if not choice:
                self.show_missing_model(model)
                return
            self.config.model = choice
            if self.chat_screen is not None:
                await self.chat_screen.use_model(choice)

        self.push_screen(MissingModelScreen(model, self.host, self.t, self.register), decided)

    @property
    def chat_screen(self) -> ChatScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, ChatScreen):
                return screen
        return None

    # --------------------------------------------------------- command palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        chat = screen if isinstance(screen, ChatScreen) else self.chat_screen
        if chat is not None:
            for action in ACTIONS:
                yield SystemCommand(self.t(f"actions.{action.id}"), self.t(f"palette.{action.id}"),
                                    lambda a=action.id: self.call_later(chat.run_action, a))
        yield from super().get_system_commands(screen)
