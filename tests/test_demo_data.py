"""The built demo dataset is keyed by the code that builds it: changed code builds a new one."""

from __future__ import annotations


def test_the_demo_folder_follows_the_building_code_and_pyiqa(monkeypatch, demo_root):
    import importlib.metadata

    from iqabench import demo

    assert demo_root == demo.demo_dir(0) and (demo_root / "index.csv").is_file()
    assert {"demo.py", "degradation", "photos.py"} <= set(demo.BUILD_CODE)
    monkeypatch.setattr(demo, "source_fingerprint", lambda *entries: "an edited distortion")
    edited = demo.demo_dir(0)
    assert edited != demo_root and edited.parent == demo_root.parent
    assert not (edited / "index.csv").is_file()  # ensure_demo would build it, never reuse the old one
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "99.0")
    assert demo.demo_dir(0) not in (demo_root, edited)
