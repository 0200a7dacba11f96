#!/bin/sh
# Runs once, when the official image initialises the cluster: include pymem's settings,
# adding pg_textsearch to the preload list when its library was built into the image.
set -eu
conf="$PGDATA/postgresql.conf"
cp /etc/postgresql/postgresql.pymem.conf "$PGDATA/postgresql.pymem.conf"
if [ -f "$(pg_config --pkglibdir)/pg_textsearch.so" ]; then
    sed -i "s/^shared_preload_libraries = 'age,pg_cron'/shared_preload_libraries = 'age,pg_cron,pg_textsearch'/" \
        "$PGDATA/postgresql.pymem.conf"
fi
echo "include 'postgresql.pymem.conf'" >> "$conf"
# The settings take effect when the entrypoint restarts the server after initialisation.
