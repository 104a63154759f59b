"""Tests of the novadock glance_store driver and the Glance facade against the
real novadock service, a real glance-api and the real dockerd.

Run from the repository root with the glance venv's python::

    tools/glance/setup.sh
    .venv-glance/bin/python -m unittest discover -v \
        -s glance_backend/tests -t glance_backend
"""
