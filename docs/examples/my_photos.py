# my_photos.py: a complete iqabench dataset plugin (a folder of images and a labels.csv)
import pandas as pd

from iqabench import Dataset, ScoreSpec, register_dataset


@register_dataset("my-photos")
class MyPhotos(Dataset):
    description = "My photographs: images/*.jpg and labels.csv (image, mos on 1-5)"
    labels = {"mos": ScoreSpec("mos", higher_better=True, range=(1.0, 5.0))}
    folder_names = ("my-photos",)  # looked up under --data-root
    split_by_reference = False  # in-the-wild photographs: 70/10/20 splits by image

    def looks_like_root(self, folder):
        return (folder / "labels.csv").is_file()

    def annotation_files(self):
        return [self.root / "labels.csv"]

    def load_index(self):
        table = pd.read_csv(self.root / "labels.csv")
        return pd.DataFrame({
            "image_id": "images/" + table["image"],  # the id splits refer to
            "path": [str(self.root / "images" / name) for name in table["image"]],
            "score": table["mos"],
        })
