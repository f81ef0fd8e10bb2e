import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from iqabench.errors import IQABenchError
from iqabench.splits import generate_splits, read_splits_csv, write_splits_csv


def _index(n_refs, per_ref=4, with_ref=True):
    rows = [
        {"image_id": f"img/r{r:02d}_{k}.png", "ref": f"r{r:02d}" if with_ref else None}
        for r in range(n_refs)
        for k in range(per_ref)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n_refs,expected", [(29, (20, 3, 6)), (30, (21, 3, 6)), (25, (18, 2, 5)), (81, (57, 8, 16))])
def test_reference_counts_match_arniqa(n_refs, expected):
    idx = _index(n_refs)
    splits = generate_splits(idx, seed=0)
    assert len(splits) == 10
    ref_of = dict(zip(idx.image_id, idx.ref))
    for k in range(10):
        parts = splits.parts(k)
        refs = [{ref_of[i] for i in p} for p in parts]
        assert tuple(len(r) for r in refs) == expected
        # zero content overlap between train, val and test
        assert not (refs[0] & refs[1]) and not (refs[0] & refs[2]) and not (refs[1] & refs[2])
        assert sum(len(p) for p in parts) == len(idx)


def test_image_level_splits_without_references():
    idx = _index(50, per_ref=2, with_ref=False)
    splits = generate_splits(idx, by_reference=False)
    train, val, test = splits.parts(0)
    assert (len(train), len(val), len(test)) == (70, 10, 20)
    assert "by image" in splits.source


def test_seed_changes_and_reproduces():
    idx = _index(30)
    a, b, c = generate_splits(idx, seed=0), generate_splits(idx, seed=0), generate_splits(idx, seed=1)
    assert a.table.equals(b.table)
    assert not a.table.equals(c.table)
    # splits differ from each other
    assert len({tuple(a.table[col]) for col in a.columns}) == 10


def test_row_order_does_not_matter():
    idx = _index(30)
    shuffled = idx.sample(frac=1.0, random_state=3)
    assert generate_splits(idx).table.equals(generate_splits(shuffled).table)


def test_same_splits_under_different_hash_seeds(tmp_path):
    code = (
        "import pandas as pd;from iqabench.splits import generate_splits;"
        "idx=pd.DataFrame({'image_id':[f'i{k}' for k in range(120)],'ref':[f'ref{k%31}' for k in range(120)]});"
        "print(generate_splits(idx,seed=5).to_csv())"
    )
    outs = []
    for hs in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hs}
        outs.append(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)
    assert outs[0] == outs[1] and len(outs[0]) > 1000


def test_csv_round_trip_and_bad_files(tmp_path):
    splits = generate_splits(_index(12))
    path = tmp_path / "s.csv"
    write_splits_csv(splits, path)
    back = read_splits_csv(path)
    assert back.table.equals(splits.table)
    bad = splits.table.copy()
    bad.loc[3, "split_02"] = "training"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(IQABenchError, match=r"bad.csv.*row 5.*split_02.*'training'"):
        read_splits_csv(tmp_path / "bad.csv")
    with pytest.raises(IQABenchError, match="needs columns"):
        pd.DataFrame({"x": [1]}).to_csv(tmp_path / "cols.csv", index=False)
        read_splits_csv(tmp_path / "cols.csv")


def test_split_id_not_in_index():
    idx = _index(12)
    splits = generate_splits(idx)
    with pytest.raises(IQABenchError, match=r"split id 'img/r00_0.png'.*not in the dataset index"):
        splits.check_against(idx.iloc[1:], "toy")


def test_too_few_groups():
    with pytest.raises(IQABenchError, match="from 2 references"):
        generate_splits(_index(2))


def test_every_part_nonempty_for_small_datasets():
    for g in range(3, 15):
        s = generate_splits(_index(g, per_ref=1))
        for k in range(10):
            assert all(len(p) > 0 for p in s.parts(k)), g
    assert np.isclose(0.7 + 0.1 + 0.2, 1.0)
