"""An exact memory count per tenant and a queue index by tenant
(pymem/sql/incremental/0015_tenant_counters.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0015", "0014"
upgrade, downgrade = incremental("0015_tenant_counters.sql")
