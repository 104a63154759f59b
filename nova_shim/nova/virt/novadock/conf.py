"""The ``[novadock]`` options the driver itself reads.

They live in the same nova.conf section as the service's options; oslo.config
ignores the ones it does not know, the service ignores these. Among the
service's: ``lifecycle_event_delay`` (default 15 seconds), how long the
service holds a STOPPED lifecycle event back on its event stream, dropped if
the instance starts again meanwhile; the driver passes events on as they come.
"""

from oslo_config import cfg

import nova.conf

CONF = nova.conf.CONF

GROUP = cfg.OptGroup(
    "novadock",
    title="novadock options",
    help="Docker containers as Nova instances, through the novadock service.",
)

OPTS = [
    cfg.StrOpt(
        "socket_path",
        default="/run/novadock/novadock.sock",
        help="Unix socket on which the novadock service listens.",
    ),
    cfg.FloatOpt(
        "api_timeout",
        default=30.0,
        min=0.1,
        help="Seconds to wait for the novadock service to answer a query.",
    ),
    cfg.FloatOpt(
        "action_timeout",
        default=600.0,
        min=0.1,
        help="Seconds to wait for the novadock service to finish an action "
        "(spawn, reboot, power off, ...).",
    ),
    cfg.BoolOpt(
        "config_drive",
        default=True,
        help="Give every container the files of Nova's config drive (made by "
        "Nova's metadata code, as a VM's drive holds them: meta_data.json, "
        "user_data, network_data.json, vendor_data2.json, ec2/), mounted "
        "read-only at /var/lib/cloud/seed/config_drive. Off only where Nova's "
        "metadata code cannot run (unit tests without a database).",
    ),
]


def register_opts(conf=CONF):
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return {GROUP: OPTS}


register_opts()
