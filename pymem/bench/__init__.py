"""Benchmarks: commands that print one JSON line (``pymem bench ...``), and with ``--save``
also write it to docs/benchmarks/results/ of the repository checkout.

  retrieval.py   latency and vector recall of ``pymem.retrieve`` per class of user
  locomo.py      retrieval recall on LoCoMo against two baselines
  extract.py     what the offline extractor costs per LoCoMo turn, in the database
  embed.py       the local model's backends side by side
  ingest.py      sustained ingest through real worker processes: latency, lag, loss
  load.py        the HTTP service under k6 (k6/load.js; the reference load test)
  updates.py     corrections, cessations and distractors through ingest -> worker -> retrieve
                 (its corpora: updates_corpus*.py)
  statebench.py  StateBench's changing-value timelines through ingest -> worker -> retrieve
  audit.py       every supersession and cessation a real conversation caused, for reading
  common.py      what they share (the data folder, PYMEM_BENCH_DATA); queries.sql holds
                 their named queries

The corpora (updates_corpus*.py) and k6 scripts ship with the repository, not the wheel:
these benchmarks run from a checkout. They are not tests: the test suite runs tiny versions
to prove they work and print their keys.
"""
