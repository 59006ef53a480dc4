"""The peers on the same sets: splink (Fellegi-Sunter, EM-trained, DuckDB) and recordlinkage (compare + classify)."""

from __future__ import annotations

import logging

import pandas as pd

from tools.bench.matching_data import Dataset

STRING_KINDS = ("company", "person", "given", "surname", "text", "address", "email")


def _blocking_columns(dataset: Dataset) -> list[str]:
    """The columns each peer blocks on: every name-like column and every identifier."""
    preferred = [c for c, k in dataset.fields.items() if k in ("company", "person", "given", "surname")]
    keys = [c for c, k in dataset.fields.items() if k in ("phone", "date", "email", "id")]
    return preferred + keys


def splink_pairs(dataset: Dataset, *, threshold: float = 0.9) -> set[tuple[str, str]]:
    """splink 4/5 as its tutorials set it up: comparisons per kind, u by sampling, m by EM, predict at 0.9."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    comparisons = []
    for column, kind in dataset.fields.items():
        if kind in ("given", "surname", "person"):
            comparisons.append(cl.NameComparison(column))
        elif kind == "email":
            comparisons.append(cl.EmailComparison(column))
        elif kind == "date":
            comparisons.append(cl.LevenshteinAtThresholds(column, [1, 2]))
        elif kind in STRING_KINDS:
            comparisons.append(cl.JaroWinklerAtThresholds(column, [0.95, 0.88, 0.7]))
        else:
            comparisons.append(cl.LevenshteinAtThresholds(column, [1]))
    blocks = [block_on(c) for c in _blocking_columns(dataset)]
    # Substring blocks so that one typo in a name does not hide a pair.
    for column in _blocking_columns(dataset)[:2]:
        blocks.append(block_on(f"substr({column}, 1, 3)"))
    settings = SettingsCreator(
        link_type="link_only" if dataset.link else "dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocks,
        retain_intermediate_calculation_columns=False,
    )
    db = DuckDBAPI()
    frames = [db.register(f.copy(), dataset_display_name=f"s{i}") for i, f in enumerate(dataset.frames)]
    linker = Linker(frames if dataset.link else frames[0], settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match([blocks[0]], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    # EM cannot estimate a comparison on the column it blocks on: with one field, train on the substring blocks.
    em_blocks = blocks[:2] if len(dataset.fields) > 1 else blocks[-1:]
    for block in em_blocks:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(block)
        except Exception:  # splink refuses a block that yields no pairs or leaves nothing to train: keep priors
            continue
    predictions = linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
    pairs = set()
    for left, right in zip(predictions["unique_id_l"], predictions["unique_id_r"], strict=True):
        pairs.add((left, right) if dataset.link else tuple(sorted((left, right))))
    return pairs  # type: ignore[return-value]


def recordlinkage_pairs(dataset: Dataset) -> set[tuple[str, str]]:
    """recordlinkage as its tutorial sets it up: blocked index, Jaro-Winkler and exact features, sum ≥ half."""
    import recordlinkage

    frames = [f.set_index("unique_id") for f in dataset.frames]
    indexer = recordlinkage.Index()
    for column in _blocking_columns(dataset):
        indexer.block(column)
    for column in _blocking_columns(dataset)[:2]:
        indexer.sortedneighbourhood(column, window=5)
    candidates = indexer.index(*frames)
    compare = recordlinkage.Compare()
    for column, kind in dataset.fields.items():
        if kind in STRING_KINDS:
            compare.string(column, column, method="jarowinkler", threshold=0.85, label=column)
        else:
            compare.exact(column, column, label=column)
    features = compare.compute(candidates, *frames)
    matched = features[features.sum(axis=1) >= max(1.0, len(dataset.fields) / 2)].index
    pairs = set()
    for left, right in matched:
        pairs.add((left, right) if dataset.link else tuple(sorted((left, right))))
    return pairs  # type: ignore[return-value]


def available() -> bool:
    """Whether the bench extra (splink, recordlinkage) is installed."""
    try:
        import recordlinkage  # noqa: F401
        import splink  # noqa: F401
    except ImportError:
        return False
    return True


def frame_of(pairs: set[tuple[str, str]]) -> pd.DataFrame:
    """Pairs as a frame (for debugging a peer's output)."""
    return pd.DataFrame(sorted(pairs), columns=["left", "right"])
