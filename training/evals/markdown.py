"""The Markdown report of one `polski eval` result (the JSON is the source of truth)."""
from __future__ import annotations


def _f(v, digits: int = 4) -> str:
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def render(result: dict) -> str:
    m = result.get("model", {})
    head = [f"backend **{m.get('backend')}**"]
    if m.get("host"):
        head.append(f"host {m['host']}")
    if m.get("context_length"):
        head.append(f"context {m['context_length']}")
    if result.get("stride"):
        head.append(f"stride {result['stride']}")
    lines = [f"# Evaluation of `{m.get('source', '?')}`", "", ", ".join(head + [f"{result.get('seconds', 0):.1f} s"]), ""]
    if result.get("bpb"):
        lines += ["## Bits per byte", "", "| data | docs | tokens | bytes | loss | perplexity | BPB |", "|---|---:|---:|---:|---:|---:|---:|"]
        for name, r in result["bpb"].items():
            lines.append(f"| {name} | {r['docs']} | {r['tokens']} | {r['bytes']} | {_f(r['loss'])} | {_f(r['perplexity'], 2)} | {_f(r['bpb'])} |")
        lines.append("")
    if result.get("minimal_pairs"):
        lines += ["## Minimal pairs (log P(good) > log P(bad))", "", "| file | phenomenon | pairs | accuracy |", "|---|---|---:|---:|"]
        for name, r in result["minimal_pairs"].items():
            lines.append(f"| {name} | **all** | {r['pairs']} | {_f(r['accuracy'], 3)} |")
            for ph, s in r["per_phenomenon"].items():
                lines.append(f"| {name} | {ph} | {s['pairs']} | {_f(s['accuracy'], 3)} |")
        lines.append("")
    if result.get("samples"):
        lines += [f"## Samples (seed {result.get('sample_seed')})", ""]
        for s in result["samples"]:
            text = s["text"].replace("\n", " ")
            lines.append(f"- **{s['prompt']}**{text}")
        lines.append("")
    if result.get("chat_tasks"):
        c = result["chat_tasks"]
        lines += [f"## Chat tasks: restoring {c['sentences']} sentences of {c['file']} (greedy)", "",
                  "| reply | diacritics: exact | diacritics: similarity | punctuation: exact | punctuation: similarity |",
                  "|---|---:|---:|---:|---:|"]
        for who, s in c["scores"].items():
            d, q = s["diacritics"], s["punctuation"]
            lines.append(f"| {who} | {_f(d['exact'], 3)} | {_f(d['similarity'], 3)} | {_f(q['exact'], 3)} | {_f(q['similarity'], 3)} |")
        lines.append("")
    if result.get("chat"):
        lines += _chat(result["chat"])
    return "\n".join(lines)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _chat(c: dict) -> list[str]:
    seeds = " ".join(str(s) for s in c["seeds"])
    lines = [f"## Chat: {c['prompts']} prompts of {c['file']} × seeds {seeds} "
             f"(temperature {c['temperature']}, top-p {c['top_p']}, at most {c['max_tokens']} tokens)", "",
             "usable = Polish, ended by itself, no loop, 3-120 words, not an echo of the prompt", "",
             "| replies | usable | on topic | facts | loops | Polish | ended | echo | mean words |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
             f"| {len(c['replies'])} | {_pct(c['usable'])} | {_pct(c['on_topic'])} | "
             f"{_pct(c['fact_accuracy'])} ({c['fact_replies']}) | {_pct(c['loops'])} | {_pct(c['polish'])} | "
             f"{_pct(c['ended'])} | {_pct(c['echo'])} | {c['mean_words']:.1f} |", "",
             "| category | replies | usable | on topic |", "|---|---:|---:|---:|"]
    for cat, r in c["per_category"].items():
        lines.append(f"| {cat} | {r['replies']} | {_pct(r['usable'])} | {_pct(r['on_topic'])} |")
    lines.append("")
    if c.get("examples"):
        lines += ["Examples:", ""]
        for e in c["examples"]:
            reply = " ".join(e["reply"].split()) or "(empty)"
            prompt = " ".join(e["prompt"].split())
            lines.append(f"- [{e['category']}, seed {e['seed']}{'' if e['usable'] else ', not usable'}] "
                         f"**{prompt}** → {reply}")
        lines.append("")
    return lines
