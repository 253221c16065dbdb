"""PeerGuard's pure core: detection, response-time rules, notices and transcripts.

Nothing here reads the database, the broker, the network, the clock or the environment:
callers pass ``now``, settings and blob readers in.
"""
