"""Entry points: the ``peerguard`` command line (and later the staff console). Nothing imports this."""
