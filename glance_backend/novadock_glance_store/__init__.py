"""glance_store driver ``novadock``.

Glance keeps the data of a container image (``container_format=docker``, a
``docker save`` tarball) as an image in the compute host's Docker engine,
through the novadock service's Unix socket: ``PUT /v1/images/<id>/data`` loads
it as ``novadock-glance:<id>``, ``GET`` saves it back. The location of such an
image is ``novadock://<image id>``.
"""
