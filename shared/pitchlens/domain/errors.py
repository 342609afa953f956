"""Domain errors. Edges map them to HTTP statuses and queue outcomes by type, never by text.

`PermanentError`s describe bad input: retrying cannot help, so the work is marked FAILED
with the error's message as the reason. `TransientError`s describe a dependency that is
down: the message is retried and, after the last attempt, dead-lettered.
"""


class PitchLensError(Exception):
    """Base class of every error PitchLens raises on purpose."""


class PermanentError(PitchLensError):
    """The input is wrong; the same input will always fail."""


class TransientError(PitchLensError):
    """A dependency failed; the same input may succeed later."""


class InvalidMatchData(PermanentError):
    """Provider files are missing, unreadable or of the wrong shape."""


class UnsupportedSource(PermanentError):
    """No provider adapter exists for this source name."""


class MatchNotFound(PermanentError):
    """The provider (or the database) has no match with this id."""


class JobNotFound(PermanentError):
    """No job has this id."""


class InvalidMessage(PermanentError):
    """A queue message is not a PitchLens envelope or its payload has the wrong shape."""


class InvalidInput(PermanentError):
    """A value cannot be used as given (a number out of range)."""


class InvalidVideo(PermanentError):
    """A video is empty, not a video, truncated, or has no decodable video stream."""


class ModelUnavailable(PermanentError):
    """The configured detection model cannot be loaded (missing file, no download, bad export)."""


class PlayerNotTracked(PermanentError):
    """No track overlaps the chosen box enough on (or next to) the chosen frame."""


class InvalidTrackingData(PermanentError):
    """Tracking data does not fit its clip (frames outside it, frames twice) or is not trajectories."""


class ClipNotFound(PermanentError):
    """No clip has this id."""


class TrackNotFound(PermanentError):
    """A clip's trajectories have no track with this id."""


class StateConflict(PermanentError):
    """The request is well formed but what it names is not in a state that allows it (yet): a clip
    still processing, a preview not finished, a finalize with nothing approved."""


class NotCalibrated(StateConflict):
    """What was asked for needs positions in metres, and the clip's trajectories have none (for this
    player): the message says why (not calibrated, placement off ...)."""


class Unauthorized(PitchLensError):
    """A caller did not present the token this endpoint requires."""


class ServiceUnavailable(TransientError):
    """Object storage, the queue service or the database cannot be reached."""


class ObjectNotFound(TransientError):
    """An object a message points to is not (yet) in storage; it may appear, so retry."""
