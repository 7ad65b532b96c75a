"""Does a Polish word list in the tokenizer sample lower NTREX (news) fertility?

    apt-get install wpolish   # SJP.PL's word forms, /usr/share/dict/polish (4.3M forms)
    python benchmarks/tokenizer_wordlist.py [--corpus work/polski-mini/corpus] [--words 0 300000 1500000]

32k tokenizers with the shipped settings, each trained on the 150k-paragraph sample of tokenizer_source_weights.py
(weight 1) plus N word forms drawn from the list (seed 1), 30 to a line. The hope: inflected forms of words the corpus
lacks. Results: benchmarks/results/tokenizer_wordlist.*
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provenance import provenance  # noqa: E402
from tokenizer_fertility import measured_texts  # noqa: E402
from tokenizer_source_weights import weighted_sample  # noqa: E402
from training.atomic import write_json, write_text  # noqa: E402
from training.config import TokenizerConfig  # noqa: E402
from training.tokenizer import fertility, load_any_tokenizer, train_model_bytes, trainer_settings  # noqa: E402

WORDLIST = Path("/usr/share/dict/polish")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "work" / "polski-mini" / "corpus")
    ap.add_argument("--words", type=int, nargs="+", default=[0, 300_000, 1_500_000])
    args = ap.parse_args()
    if not WORDLIST.is_file():
        sys.exit(f"no {WORDLIST}: install the word list with `apt-get install wpolish`")
    texts = measured_texts(args.corpus)
    units, _ = weighted_sample(args.corpus, 1.0)
    words = WORDLIST.read_text(encoding="utf-8").split()
    config = TokenizerConfig(vocab_size=32000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.words:
            pick = random.Random(1).sample(words, min(n, len(words)))
            lines = [" ".join(pick[i:i + 30]) for i in range(0, len(pick), 30)]
            start = time.perf_counter()
            path = Path(tmp) / f"w{n}.model"
            path.write_bytes(train_model_bytes(units + lines, trainer_settings(config), threads=2))
            tok = load_any_tokenizer(path)
            row = {"words": n, "train_s": round(time.perf_counter() - start, 1),
                   "tokens_per_word": {name: round(fertility(tok, t)["tokens_per_word"], 3) for name, t in texts.items()}}
            rows.append(row)
            print(row, flush=True)
    import sentencepiece

    result = {**provenance("tokenizer_wordlist", {"sentencepiece": sentencepiece.__version__}),
              "wordlist": f"{WORDLIST} ({len(words):,} forms, Debian wpolish)", "rows": rows}
    write_json(ROOT / "benchmarks" / "results" / "tokenizer_wordlist.json", result)
    md = [f"# A Polish word list in the tokenizer sample (32k, shipped settings, 150,000 paragraphs + N word forms)\n",
          f"{result['date']}, {result['device']}; `{result['command']}`; {result['wordlist']}\n",
          "| word forms added | val tokens/word | NTREX tokens/word |", "|---:|---:|---:|"]
    md += [f"| {r['words']:,} | {r['tokens_per_word']['val']:.3f} | {r['tokens_per_word']['ntrex']:.3f} |" for r in rows]
    write_text(ROOT / "benchmarks" / "results" / "tokenizer_wordlist.md", "\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
