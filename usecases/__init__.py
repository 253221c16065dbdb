"""Use cases: one module per feature, the only place a workflow is written.

The CLI, the web app and the Dramatiq actors all call these functions. A use case receives an
``App`` (settings, database, blob store, mail, doorbell) and ``now``, loads through ``storage``,
decides with ``pipeline`` and saves through ``storage`` again, in one transaction where it must.
"""
