"""Every actor module, for `dramatiq actors.all`; the broker is configured first."""

# Imported for their side effects (registering actors). The broker module configures the broker
# and must be imported before the actor modules; alphabetical order keeps it first.
from actors import broker, outbox, responses, review, scanning, transcripts  # noqa: F401
