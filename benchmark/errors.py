"""The errors a user can act on, apart from the modules that raise them: the CLI catches these without
importing torch, so `regbench report` and `regbench --help` start in a second, not in several."""


class DatasetUnavailable(RuntimeError):
    """The dataset's files are missing and could not be fetched; the message says how to provide them."""


class FeatureExtractorUnavailable(RuntimeError):
    """The feature extractor's weights are missing; the message says how to provide them."""
