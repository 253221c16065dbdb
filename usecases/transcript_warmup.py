"""Imported only by the render fork server: one tiny render loads fonts before workers fork.

Every worker is forked from the fork server, so fontconfig and Pango caches filled here are
shared by all of them instead of being rebuilt, at close to a second, in each worker. The
render happens at import because importing is the only hook the fork server's preload offers;
nothing else imports this module.
"""

from pipeline.transcript.parts import render_glyph_sheet

render_glyph_sheet()
