"""The Markdown report of one `polski eval` result (the JSON is the source of truth)."""
from __future__ import annotations


def _f(v, digits: int = 4) -> str:
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def render(result: dict) -> str:
    m = result.get("model", {})
    lines = [f"# Evaluation of `{m.get('source', '?')}`", "",
             f"backend **{m.get('backend')}**, context {m.get('context_length')}, stride {result.get('stride')}, "
             f"{result.get('seconds', 0):.1f} s", ""]
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
    return "\n".join(lines)
