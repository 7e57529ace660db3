"""The errors a user can act on, apart from the modules that raise them: the CLI catches these without
importing torch, so `regbench report` and `regbench --help` start in a second, not in several."""


class DatasetUnavailable(RuntimeError):
    """The dataset's files are missing and could not be fetched; the message says how to provide them."""


class FeatureExtractorUnavailable(RuntimeError):
    """The feature extractor's weights are missing; the message says how to provide them."""


class CannotWrite(OSError):
    """A result, samples file or checkpoint could not be written (a full disk, an exceeded quota, a read-only or
    foreign folder). Nothing half-written is left, and the sweep stops: every later write would fail too."""

    def __init__(self, path, exc: OSError):
        self.path = path
        super().__init__(exc.errno, f"cannot write {path.name} in {path.parent}: {exc.strerror or exc}. Free space "
                                    "(or quota) there, or pass another --results, then run again: finished results "
                                    "are kept and the unfinished runs resume from their last checkpoint")

    def __str__(self) -> str:
        return self.strerror

    def __reduce__(self):  # pickled across worker processes, Ray and Slurm jobs with its message
        return _cannot_write, (str(self.path), self.errno, self.strerror)


def _cannot_write(path, errno, message):
    exc = CannotWrite.__new__(CannotWrite)
    OSError.__init__(exc, errno, message)
    exc.path = path
    return exc
