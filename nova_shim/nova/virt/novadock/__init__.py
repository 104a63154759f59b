"""Nova compute driver for novadock: ``compute_driver = novadock.DockerDriver``."""

from nova.virt.novadock import driver

DockerDriver = driver.DockerDriver

__all__ = ["DockerDriver"]
