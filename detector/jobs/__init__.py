"""Jobs: whole runs put together from the stages, each called by one command.

``replay`` (files through a pipeline, ``--workers`` in ``replay_workers``), ``train``
and ``scan`` (request analysis over files), ``demo`` and ``feed`` (the live demo and
what it streams into Kafka). A job reads its inputs through ``sources``, decodes them
with ``decoding`` and runs ``pipeline``/``service``; ``detector.cli`` only parses the
flags and calls one. Nothing below ``cli`` imports a job (``tests/test_import_graph.py``).
The deployment verdict (``detector verdict``) is to be one more job here.
"""
