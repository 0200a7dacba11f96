"""Every setting described once, as a row of _pymem.setting_specs (pymem/sql/incremental/0019_setting_specs.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0019", "0018"
upgrade, downgrade = incremental("0019_setting_specs.sql")
