"""``detector report``: one self-contained HTML page an on-call engineer looks at.

The data comes from a replay (a :class:`~detector.report.collect.ReportCollector`
observing the pipeline's closed windows, a :class:`~detector.report.collect.ClientTally`
watching its input), incidents (a store or JSON lines, :mod:`detector.report.inputs`) and
release records. Charts are inline SVG drawn here (:mod:`detector.report.svg`), their
lines cut to a few points per pixel column (:mod:`detector.report.downsample`), so a day
of five services stays a few hundred kilobytes and opens offline: the page holds no
script, loads nothing, and escapes every text it got from the logs.
"""
