"""The errors a user can act on, apart from the modules that raise them: the CLI catches these without
importing torch, so `regbench report` and `regbench --help` start in a second, not in several."""
import errno
import reprlib
from pathlib import Path

_SHORT = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxset = 2, 4, 4, 4, 4
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 80, 80, 40


def shown(value) -> str:
    """A value as an error message may echo it: at most a few items and levels deep, so that a YAML alias
    bomb (a few lines that expand to billions of items) or a huge list costs a short line, not gigabytes."""
    return _SHORT.repr(value)


class DatasetUnavailable(RuntimeError):
    """The dataset's files are missing and could not be fetched; the message says how to provide them."""


class FeatureExtractorUnavailable(RuntimeError):
    """The feature extractor's weights are missing; the message says how to provide them."""


# what says a folder cannot take a file: no space, over quota, read-only, not ours
NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


class CannotWrite(OSError):
    """A result, samples file, checkpoint or lock could not be written (a full disk, an exceeded quota, a read-only
    or foreign folder). Nothing half-written is left, and the sweep stops: every later write would fail too."""

    def __init__(self, path, errno_: int, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(errno_, f"cannot write {self.path.name} in {self.path.parent}: {reason}. Free space (or "
                                 "quota) there, or pass another --results, then run again: finished results are kept "
                                 "and the unfinished runs resume from their last checkpoint")

    def __str__(self) -> str:
        return self.strerror

    def __reduce__(self):  # pickled across worker processes, Ray and Slurm jobs
        return CannotWrite, (str(self.path), self.errno, self.reason)

    @classmethod
    def of(cls, path, exc: OSError) -> OSError:
        """``exc`` as a CannotWrite when it says the folder cannot take the file; any other error as it is."""
        if isinstance(exc, cls) or exc.errno not in NO_ROOM:
            return exc
        return cls(path, exc.errno, exc.strerror or str(exc))


class LogUnwritable(CannotWrite):
    """The TensorBoard folder cannot be written: the environment's fault, not the run's, so no run is recorded
    ``failed`` for it; the sweep stops as for a results folder that cannot be written."""

    def __init__(self, path, errno_: int, reason: str):
        OSError.__init__(self, errno_, f"cannot write TensorBoard logs in {path}: {reason}. Pass another "
                                       "--tensorboard (or none), then run again: no run was recorded as failed "
                                       "for it, and finished results are kept")
        self.path, self.reason = Path(path), reason

    def __reduce__(self):
        return LogUnwritable, (str(self.path), self.errno, self.reason)
