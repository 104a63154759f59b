# shellcheck shell=bash
# How novadock's tools run dockerd (packages do not start services here):
# with live-restore, so instances keep running while dockerd restarts, its
# bridge in 198.19.128.0/20 (room for the eth0 of 4000 containers) and its
# networks in 198.19.0.0/17, so that test traffic stays in the benchmarking
# range 198.18.0.0/15. DevStack's plugin writes the same into daemon.json.
# shellcheck disable=SC2034  # used by the scripts that source this file
NOVADOCK_DOCKER_BIP=198.19.128.1/20
# shellcheck disable=SC2034
NOVADOCK_DOCKER_POOL_BASE=198.19.0.0/17
# shellcheck disable=SC2034
NOVADOCK_DOCKERD_ARGS=(--live-restore --bip "$NOVADOCK_DOCKER_BIP"
    --default-address-pool "base=$NOVADOCK_DOCKER_POOL_BASE,size=24")
