"""The built-in ``demo`` dataset (synthetic; built offline on first use, see :mod:`iqabench.demo`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from iqabench.dataset import Dataset, ScoreSpec
from iqabench.demo import DEMO_TYPES, ensure_demo, read_card
from iqabench.errors import IQABenchError
from iqabench.registry import register_dataset


@register_dataset("demo")
class Demo(Dataset):
    description = "Built-in SYNTHETIC demo: 20 bundled photos × 7 distortions × 5 levels, pseudo-DMOS from GMSD"
    labels = {
        "pseudo_dmos_gmsd": ScoreSpec(
            "pseudo_dmos_gmsd",
            higher_better=False,
            range=(0.0, 0.5),
            description="full-reference GMSD against the reference, lower = better (synthetic, not human opinion)",
        )
    }
    synthetic = True
    split_by_reference = True
    needs_root = False
    option_defaults = {
        "seed": 0,  # build seed of the demo images
        "pristine": False,  # also include the 20 references (level 0, label 0.0 = GMSD of an identical image)
        "types": "",  # comma-separated subset of the 7 distortion types ("" = all)
    }

    variant_types: tuple[str, ...] = ()  # fixed subset of DEMO_TYPES for the variants below

    def locate_root(self, root) -> Path:
        return ensure_demo(int(self.options["seed"]))

    def load_index(self) -> pd.DataFrame:
        df = pd.read_csv(self.root / "index.csv")
        if self.variant_types:
            df = df[df["dist_type"].isin(self.variant_types)]
        if self.options["types"]:
            wanted = [t.strip() for t in str(self.options["types"]).split(",") if t.strip()]
            unknown = sorted(set(wanted) - set(DEMO_TYPES))
            if unknown:
                raise IQABenchError(f"dataset 'demo' option types: unknown type(s) {unknown} (types: {', '.join(DEMO_TYPES)})")
            df = df[df["dist_type"].isin(wanted)]
        if self.options["pristine"]:
            refs = sorted(df["ref"].unique())
            df = pd.concat(
                [
                    pd.DataFrame(
                        {
                            "image_id": [f"refs/{r}.png" for r in refs],
                            "ref": refs,
                            "dist_type": "pristine",
                            "dist_group": None,
                            "level": 0,
                            "score": 0.0,
                        }
                    ),
                    df,
                ],
                ignore_index=True,
            )
        df["path"] = [str(self.root / i) for i in df["image_id"]]
        return df

    def card(self) -> dict:
        card = super().card()
        card["demo"] = read_card(self.root)
        return card


# Two variants over the same images with disjoint distortion groups: cross_dataset between them
# asks whether a regressor trained on some distortions transfers to others (as LIVE → KADID).
@register_dataset("demo-a")
class DemoA(Demo):
    description = "SYNTHETIC demo variant A: blur, noise, JPEG and pixelation only (for cross_dataset)"
    variant_types = ("gaublur", "whitenoise", "jpeg", "pixelate")


@register_dataset("demo-b")
class DemoB(Demo):
    description = "SYNTHETIC demo variant B: darkening, colour shift and contrast change only (for cross_dataset)"
    variant_types = ("darken", "colorshift", "lincontrchange")
