"""Every actor module, for `dramatiq actors.all`; the broker is configured first."""

from actors import broker  # noqa: F401  (must come first: actors bind to it)
from actors import scanning  # noqa: F401,E402
from actors import outbox  # noqa: F401,E402  (issue 4: mail dispatch)
from actors import responses  # noqa: F401,E402  (issue 4: response sweep)
from actors import transcripts  # noqa: F401,E402
