"""Horizon plugin for novadock: what Horizon needs to show a novadock
host's Docker engine beside Nova and Glance."""
