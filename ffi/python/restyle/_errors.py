"""The exceptions restyle raises; the extension module raises these too,
with the library's own message."""


class Error(Exception):
    """Any failure in restyle (also the base of the others)."""


class InvalidInputError(Error, ValueError):
    """A bad argument or image: wrong dtype or shape, strength out of 0..1,
    an unknown method name, an option the method does not take."""


class WeightsError(Error):
    """Weights that are missing or unusable, or a weights folder that does not exist."""


class CancelledError(Error):
    """The run was cancelled before it finished."""


class DeviceError(Error):
    """The device asked for cannot be used (e.g. cuda in a CPU-only build)."""


# Shown as restyle.Error etc. in tracebacks (they are exported there).
for _cls in (Error, InvalidInputError, WeightsError, CancelledError, DeviceError):
    _cls.__module__ = "restyle"
del _cls
