# shellcheck shell=bash
# How novadock's tools start dockerd when it is not running (packages do not
# start services here): with live-restore, so instances keep running while
# dockerd restarts, its bridge in 198.19.128.0/20 (room for the eth0 of 4000
# containers) and its networks in 198.19.0.0/17, so that test traffic stays
# in the benchmarking range 198.18.0.0/15.
# shellcheck disable=SC2034  # used by the scripts that source this file
NOVADOCK_DOCKERD_ARGS=(--live-restore --bip 198.19.128.1/20
    --default-address-pool "base=198.19.0.0/17,size=24")
