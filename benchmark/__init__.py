"""regbench: a benchmark harness for GAN discriminator regularizers (Miyato et al., ICLR 2018, as an instrument).

From Python: ``from benchmark import load_results`` (results as a pandas DataFrame). The rest is the `regbench`
command (``python -m benchmark``) and the plugin API in ``benchmark.regularizers`` (docs/plugins.md).
"""


def load_results(*results_dirs):
    """One row per run in the given results folders, as a pandas DataFrame (see benchmark/results.py)."""
    from .results import load_results as load  # imported here: `regbench --help` does not need pandas

    return load(*results_dirs)


__all__ = ["load_results"]
