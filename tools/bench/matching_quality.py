"""Matching quality on real labelled data: ours beside splink, recordlinkage and a plain rapidfuzz baseline.

.venv/bin/python -m tools.bench.matching_quality            # every set, with the peers (needs the bench extra)
.venv/bin/python -m tools.bench.matching_quality --no-peers # ours and the baseline only
.venv/bin/python -m tools.bench.matching_quality --sets fake_1000 chicago_sites
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from tools.bench import matching_data
from tools.bench.matching_ours import lookup_top1, predict, ratio_top1


def scores(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1."""
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def timed(run: Callable[[], set[tuple[str, str]]]) -> tuple[set[tuple[str, str]], float]:
    """The result of run and its wall time."""
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-peers", action="store_true", help="skip splink and recordlinkage")
    parser.add_argument("--sets", nargs="*", help="only these sets (default: all, and the name lookup)")
    args = parser.parse_args()
    from tools.bench import matching_peers

    peers = not args.no_peers and matching_peers.available()
    if not args.no_peers and not peers:
        print("splink/recordlinkage not installed (pip install -e '.[bench]'): peers skipped")
    print(f"data: {matching_data.data_dir()}")
    print(f"{'set':<15} {'matcher':<14} {'pairs':>8} {'precision':>9} {'recall':>7} {'F1':>6} {'seconds':>8}")
    wins: list[bool] = []
    for dataset in matching_data.record_sets():
        if args.sets and dataset.name not in args.sets:
            continue
        runs: list[tuple[str, Callable[[], set[tuple[str, str]]]]] = [("ours", lambda d=dataset: predict(d))]
        if peers:
            runs.append(("splink", lambda d=dataset: matching_peers.splink_pairs(d)))
            runs.append(("recordlinkage", lambda d=dataset: matching_peers.recordlinkage_pairs(d)))
        f1s = {}
        for name, run in runs:
            try:
                predicted, seconds = timed(run)
            except Exception as exc:  # a peer that cannot run on a set is reported, not fatal
                print(f"{dataset.name:<15} {name:<14} failed: {str(exc).splitlines()[0][:100]}")
                continue
            precision, recall, f1 = scores(predicted, dataset.true_pairs)
            f1s[name] = f1
            print(
                f"{dataset.name:<15} {name:<14} {len(predicted):>8} {precision:>9.4f} {recall:>7.4f} {f1:>6.4f}"
                f" {seconds:>8.1f}",
                flush=True,
            )
        for label, figure in dataset.peers_known.items():
            print(f"{dataset.name:<15} {label} F1 {figure:.2f}")
            f1s[label] = figure
        wins.append(all(f1s["ours"] > v for k, v in f1s.items() if k != "ours"))
    if not args.sets or "cn_listed" in args.sets:
        lookup = matching_data.cn_listed()
        print(
            f"\ncn_listed: {len(lookup.queries)} short and former names, each among {len(lookup.full_names)} full names"
        )
        current = lookup.queries[: len(lookup.full_names)]
        former = lookup.queries[len(lookup.full_names) :]
        for name, top1 in (("ours", lookup_top1), ("fuzz.ratio", ratio_top1)):
            started = time.perf_counter()
            short, old = top1(lookup.full_names, current), top1(lookup.full_names, former)
            both = (short * len(current) + old * len(former)) / len(lookup.queries)
            print(
                f"cn_listed       {name:<14} top-1 accuracy: short names {short:.4f}, former names {old:.4f}, "
                f"all {both:.4f} {time.perf_counter() - started:>8.1f} s"
            )
    print(f"\nours ahead of every peer on {sum(wins)} of {len(wins)} pairwise sets")


if __name__ == "__main__":
    main()
