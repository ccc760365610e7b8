"""What the install cell at the top of every notebook checks after `%pip install` of the course."""

from __future__ import annotations

import importlib.metadata
import os
import sys

# import name -> distribution name, for the libraries a notebook imports that pip could replace under it
WATCHED = {
    "numpy": "numpy", "pandas": "pandas", "pyarrow": "pyarrow", "torch": "torch", "transformers": "transformers",
    "datasets": "datasets", "tokenizers": "tokenizers", "huggingface_hub": "huggingface_hub",
    "accelerate": "accelerate", "sklearn": "scikit-learn", "scipy": "scipy",
}


def where() -> str:
    """'Colab', 'Kaggle' or 'local machine'."""
    if "google.colab" in sys.modules:
        return "Colab"
    if "KAGGLE_KERNEL_RUN_TYPE" in os.environ:
        return "Kaggle"
    return "local machine"


def changed_under_us() -> dict[str, tuple[str, str]]:
    """Libraries already imported in this kernel whose installed version pip has since changed: name -> (old, new)."""
    changed = {}
    for module_name, dist in WATCHED.items():
        module = sys.modules.get(module_name)
        loaded = getattr(module, "__version__", None) if module else None
        if loaded is None:
            continue
        try:
            installed = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
        if installed.split("+")[0] != str(loaded).split("+")[0]:
            changed[dist] = (str(loaded), installed)
    return changed


def check(package: str) -> None:
    """Say where the notebook runs and which course it uses; ask for a restart when pip replaced a loaded library."""
    from . import __version__

    print(f"Running on: {where()}. Course package course-utils {__version__} (from {package!r} on Colab/Kaggle).")
    changed = changed_under_us()
    if changed:
        listed = ", ".join(f"{name} {old} -> {new}" for name, (old, new) in sorted(changed.items()))
        print("!" * 100 + f"\nRESTART NEEDED: pip changed libraries this kernel had already loaded ({listed}).\n"
              "Colab: Runtime > Restart session. Kaggle: Run > Restart & clear cell outputs. Then run the notebook "
              "from the top (the install cell will find everything installed and be quick).\n" + "!" * 100)


def repository_url(package: str) -> str:
    """The web address of the course repository named by a ``git+https://...@ref`` package spec (else the spec).

    >>> repository_url("git+https://github.com/bert-course/bert-course@v1.0")
    'https://github.com/bert-course/bert-course'
    """
    url = package.removeprefix("git+")
    if url.startswith("https://"):
        url = url.split("@", 1)[0].removesuffix(".git").rstrip("/")
    return url
