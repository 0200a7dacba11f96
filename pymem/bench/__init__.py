"""Benchmarks for retrieval: commands that print one JSON line (``pymem bench ...``).

- :mod:`pymem.bench.retrieval`  latency and vector recall of ``pymem.retrieve`` on a large
  synthetic corpus (clustered 384-d vectors), per class of user.
- :mod:`pymem.bench.locomo`     retrieval recall on LoCoMo against two baselines.

They are not tests: tests run tiny versions to prove they work and print their keys.
"""
