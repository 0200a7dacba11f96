"""Every setting described once, as a row of _pymem.setting_specs (pymem/sql/incremental/0020_setting_specs.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0020", "0018"
upgrade, downgrade = incremental("0020_setting_specs.sql")
