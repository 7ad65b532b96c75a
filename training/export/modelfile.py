"""Ollama Modelfiles: write one for a GGUF, and parse one into the fields of /api/create.

The parser follows Ollama's own (parser/parser.go) for what we write and ship: commands are
case-insensitive, a value is a \"\"\"multi-line\"\"\" block, a "quoted string" or the rest of the line,
and `#` starts a comment line. FROM a path is resolved against the Modelfile's folder, like
`ollama create -f` does.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from training.config import Config
from training.errors import ExportError
from training.export.templates import CHATML_GO, STOP

INT_PARAMS = {"num_ctx", "num_predict", "top_k", "repeat_last_n", "seed", "num_keep", "num_batch", "num_gpu",
              "num_thread", "mirostat"}
LIST_PARAMS = {"stop"}
BOOL_PARAMS = {"penalize_newline", "use_mmap", "numa", "low_vram"}


@dataclass
class Modelfile:
    from_: str = ""
    template: str | None = None
    system: str | None = None
    license: list[str] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)
    path: Path | None = None  # the file it was read from

    def from_path(self) -> Path:
        """FROM as a local file, resolved like `ollama create -f`: relative to the Modelfile's folder."""
        if not self.from_:
            raise ExportError(f"{self.path or 'the Modelfile'} has no FROM line: add `FROM ./model.gguf`")
        p = Path(os.path.expanduser(self.from_))
        if not p.is_absolute():
            p = (self.path.parent if self.path else Path.cwd()) / p
        return p


def _quote_block(text: str) -> str:
    if '"""' in text:
        raise ExportError('a TEMPLATE/SYSTEM/LICENSE text contains """, which a Modelfile cannot hold: remove it')
    return f'"""{text}"""'


def _param_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value) if isinstance(value, float) else str(value)


def render_modelfile(gguf_ref: str, config: Config, license_text: str | None = None) -> str:
    o = config.ollama
    num_ctx = o.num_ctx or config.model.context_length
    lines = [
        f"# {config.model.name}: Polish language model trained from scratch with polski.",
        "# Register: polski register --name NAME --modelfile THIS_FILE   (or: ollama create NAME -f THIS_FILE)",
        "# FROM is relative to this file's folder; the GGUF must exist there (never pulled from a registry).",
        f"FROM {gguf_ref}",
        "",
        f"TEMPLATE {_quote_block(CHATML_GO)}",
        "",
    ]
    lines += [f"PARAMETER stop {_param_value(s)}" for s in STOP]
    lines += [
        f"PARAMETER num_ctx {num_ctx}",
        f"PARAMETER temperature {o.temperature!r}",
        f"PARAMETER top_p {o.top_p!r}",
        f"PARAMETER repeat_penalty {o.repeat_penalty!r}",
        f"PARAMETER repeat_last_n {o.repeat_last_n}",
        "",
        f"SYSTEM {_quote_block(o.system)}",
        "",
        f"LICENSE {_quote_block(license_text or config.export.license)}",
        "",
    ]
    return "\n".join(lines)


def gguf_ref_for(gguf: Path, modelfile: Path) -> str:
    """FROM value: the GGUF relative to the Modelfile's folder, as `./name.gguf` when possible."""
    rel = os.path.relpath(gguf.resolve(), modelfile.resolve().parent)
    return rel if rel.startswith(("../", "/")) else f"./{rel}"


def _typed(name: str, raw: str):
    try:
        if name in INT_PARAMS:
            return int(raw)
        if name in BOOL_PARAMS:
            return raw.lower() == "true"
        if name in LIST_PARAMS:
            return raw
        return float(raw)
    except ValueError:
        raise ExportError(f"PARAMETER {name} {raw!r} is not a valid value: see `ollama show --help` for types") from None


def _read_value(text: str, pos: int) -> tuple[str, int]:
    """A value starting at `pos`: \"\"\"block\"\"\", "string" or the rest of the line."""
    if text.startswith('"""', pos):
        end = text.find('"""', pos + 3)
        if end < 0:
            raise ExportError('unterminated """ block in the Modelfile: close it with """')
        return text[pos + 3 : end], end + 3
    if text.startswith('"', pos):
        out, i = [], pos + 1
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
            out.append(text[i])
            i += 1
        if i >= len(text):
            raise ExportError('unterminated " in the Modelfile: close the quote')
        return "".join(out), i + 1
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    return text[pos:end].strip(), end


def parse_modelfile(text: str, path: Path | None = None) -> Modelfile:
    mf = Modelfile(path=path)
    pos = 0
    while pos < len(text):
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            break
        if text[pos] == "#":
            nl = text.find("\n", pos)
            pos = len(text) if nl < 0 else nl + 1
            continue
        word_end = pos
        while word_end < len(text) and text[word_end] not in " \t\r\n":
            word_end += 1
        command = text[pos:word_end].upper()
        pos = word_end
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if command == "PARAMETER":
            name_end = pos
            while name_end < len(text) and text[name_end] not in " \t\r\n":
                name_end += 1
            name = text[pos:name_end]
            pos = name_end
            while pos < len(text) and text[pos] in " \t":
                pos += 1
            value, pos = _read_value(text, pos)
            typed = _typed(name, value)
            if name in LIST_PARAMS:
                mf.parameters.setdefault(name, []).append(typed)
            else:
                mf.parameters[name] = typed
            continue
        value, pos = _read_value(text, pos)
        if command == "FROM":
            mf.from_ = value
        elif command == "TEMPLATE":
            mf.template = value
        elif command == "SYSTEM":
            mf.system = value
        elif command == "LICENSE":
            mf.license.append(value)
        elif command in ("MESSAGE", "ADAPTER", "REQUIRES", "RENDERER", "PARSER"):
            raise ExportError(f"Modelfile command {command} is not supported by `polski register`: use `ollama create -f`")
        else:
            raise ExportError(f"unknown Modelfile command {command!r}: expected FROM, TEMPLATE, SYSTEM, PARAMETER or LICENSE")
    return mf


def read_modelfile(path: Path | str) -> Modelfile:
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"Modelfile {path} does not exist: write one with `polski modelfile RUN_DIR|GGUF --out {path}`")
    return parse_modelfile(path.read_text(encoding="utf-8"), path)


def write_modelfile(target: Path | str, gguf: Path | str, config: Config, force: bool = True) -> Path:
    from training.atomic import write_text

    target, gguf = Path(target), Path(gguf)
    if target.exists() and not force:
        raise ExportError(f"{target} exists: pass --force to overwrite it")
    write_text(target, render_modelfile(gguf_ref_for(gguf, target), config))
    return target
