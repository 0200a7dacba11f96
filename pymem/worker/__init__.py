"""The extraction worker (`pymem worker`): claims episodes from the queue, extracts memories,
embeds them and applies each episode with one SQL call as the tenant's role.

  worker.py    the claim loop (LISTEN/NOTIFY + poll, SKIP LOCKED, leases, retries)
  extract.py   the default offline extractor (rules); llm.py: any OpenAI-compatible model
  schedule.py  the decay/consolidation/retention schedule where pg_cron is absent
  build.py     a worker assembled from configuration
"""
