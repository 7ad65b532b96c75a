"""Every user action of the chat screen, once: its binding id, default keys and whether the
footer shows it. Key bindings, the help screen and the command palette are built from this
list, and `[keys]` in the config file remaps any of them by id."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingsMap

from purple.i18n import Catalog


@dataclass(frozen=True)
class Action:
    id: str
    keys: str  # "" = command palette only
    footer: bool = False
    priority: bool = False


ACTIONS: tuple[Action, ...] = (
    Action("new_chat", "ctrl+n", footer=True),
    Action("stop", "escape"),
    Action("regenerate", "ctrl+r", footer=True),
    Action("edit_last", "f4"),
    Action("copy_reply", "f5"),
    Action("copy_code", "f9"),
    Action("models", "ctrl+o", footer=True),
    Action("settings", "f3"),
    Action("search", "ctrl+f", footer=True),
    Action("rename", "f2"),
    Action("delete", "f8"),
    Action("undo_delete", "f12"),
    Action("previous_branch", "alt+left"),
    Action("next_branch", "alt+right"),
    Action("toggle_sidebar", "ctrl+b"),
    Action("help", "f1", footer=True),
    Action("export_md", ""),
    Action("export_json", ""),
    Action("import_json", ""),
    Action("send", ""),
)

ACTION_IDS = tuple(action.id for action in ACTIONS)


def bindings(t: Catalog) -> BindingsMap:
    """Localised bindings for the chat screen (ids let the keymap remap them)."""
    return BindingsMap(
        Binding(a.keys, a.id, t(f"actions.{a.id}"), show=a.footer, id=a.id, priority=a.priority)
        for a in ACTIONS
        if a.keys
    )


def effective_keys(keymap: dict[str, str]) -> dict[str, str]:
    """Action id -> keys after the config's `[keys]` overrides."""
    return {a.id: keymap.get(a.id, a.keys) for a in ACTIONS}
