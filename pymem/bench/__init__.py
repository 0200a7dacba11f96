"""Benchmarks: commands that print one JSON line (``pymem bench ...``), and with ``--save``
also write it to docs/benchmarks/results/.

  retrieval.py  latency and vector recall of ``pymem.retrieve`` per class of user
  locomo.py     retrieval recall on LoCoMo against two baselines
  ingest.py     sustained ingest through real worker processes: latency, lag, loss
  load.py       the HTTP service under k6 (k6/load.js)
  updates.py    corrections, cessations and distractors through ingest -> worker -> retrieve
  common.py     what they share; queries.sql holds their named queries

They are not tests: the test suite runs tiny versions to prove they work and print their keys.
"""
