"""Every actor, for `dramatiq actors.all`: the broker is configured first, then the stage table's modules."""

from actors import broker  # noqa: F401  (must come before any actor module)
from actors.stages import ACTOR_MODULES, STAGES  # noqa: F401  (importing them registers the actors)
