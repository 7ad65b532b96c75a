"""A smaller BINS_DIR for a GPU run that needs only part of the train split (e.g. to copy it beside a 42 MB GGUF).

Random whole documents of the train split until about --tokens tokens; the val split is copied unchanged, so
validation figures stay comparable. Enough for an SFT's plain-text rows (`sft.pretrain_mix`), not for pretraining.

    python scripts/gpu/subset_bins.py work/polski-mini-12k/bins DATA/bins --tokens 4000000
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from training.atomic import atomic_dir  # noqa: E402
from training.data import TokenBins  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bins", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--tokens", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    train = TokenBins(args.bins, "train")
    order = np.random.default_rng(args.seed).permutation(train.num_docs)
    lengths = np.diff(np.append(train.doc_starts, train.num_tokens))
    picked = np.sort(order[: int(np.searchsorted(np.cumsum(lengths[order]), args.tokens)) + 1])
    docs = [train.document(int(i)) for i in picked]
    manifest = json.loads((args.bins / "manifest.json").read_text(encoding="utf-8"))
    tokens = sum(len(d) for d in docs)
    manifest["splits"]["train"] = {"tokens": tokens, "docs": len(docs),
                                   "bytes": round(train.bytes * tokens / train.num_tokens)}  # bytes: estimated
    manifest["subset_of"] = {"train_docs": train.num_docs, "seed": args.seed}
    with atomic_dir(args.out) as tmp:
        np.concatenate(docs).astype(np.uint16).tofile(tmp / "train.bin")
        np.save(tmp / "train.idx.npy", np.cumsum([0] + [len(d) for d in docs[:-1]]).astype(train.doc_starts.dtype))
        if (args.bins / "train.src.npy").is_file():
            np.save(tmp / "train.src.npy", np.load(args.bins / "train.src.npy")[picked])
        for name in ("val.bin", "val.idx.npy", "val.src.npy"):
            shutil.copy(args.bins / name, tmp / name)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(docs)} of {train.num_docs} train documents, {tokens:,} tokens")


if __name__ == "__main__":
    main()
