//! Container names and labels: the instance identity lives on the container,
//! so everything the service knows can be rebuilt from Docker.

pub const LABEL_PREFIX: &str = "org.openstack.nova.";
pub const LABEL_UUID: &str = "org.openstack.nova.instance-uuid";
pub const LABEL_NAME: &str = "org.openstack.nova.instance-name";
pub const LABEL_PROJECT: &str = "org.openstack.nova.project-id";
pub const LABEL_USER: &str = "org.openstack.nova.user-id";
pub const LABEL_FLAVOR: &str = "org.openstack.nova.flavor";
pub const LABEL_VCPUS: &str = "org.openstack.nova.vcpus";
pub const LABEL_MEMORY_MB: &str = "org.openstack.nova.memory-mb";
pub const LABEL_IMAGE: &str = "org.openstack.nova.image-id";
/// The flavor's CPU weight, restored on resume (suspend lowers it).
pub const LABEL_CPU_SHARES: &str = "org.openstack.nova.cpu-shares";
/// The image property `novadock_console_command` as the spawn found it
/// (empty: `[novadock] console_command`). Always written, so that a label of
/// this name in a tenant's image never shows through.
pub const LABEL_CONSOLE_COMMAND: &str = "org.openstack.nova.console-command";
/// The image property that overrides a console's command (split as a
/// shell would, like `os_command_line`).
pub const CONSOLE_COMMAND_PROPERTY: &str = "novadock_console_command";
/// The Nova host (`[DEFAULT] host`) whose container it is: services of two
/// hosts sharing one engine each list only their own.
pub const LABEL_HOST: &str = "org.openstack.nova.host";

/// Images loaded for a Glance image carry this repository, tagged with the id.
pub const GLANCE_REPOSITORY: &str = "novadock-glance";
/// Images Glance's novadock store keeps here also carry this repository,
/// tagged with the id: they are Glance's data, never the cache's to prune.
pub const GLANCE_STORE_REPOSITORY: &str = "novadock-glance-store";

/// The images a same-host resize boots from, tagged `<uuid>.<n>`: one tag
/// per resize, so an earlier resize's image is found until it is swept.
/// Tags, unlike labels, are the service's own: a tenant's image brings
/// labels, and the tarball filter lets no tag of it through.
pub const RESIZE_REPOSITORY: &str = "novadock-resize";
/// The image exported for a move to another host, tagged with the instance
/// uuid; its `novadock-glance:` tag names the Glance image it went as.
pub const MIGRATION_REPOSITORY: &str = "novadock-migration";

pub fn resize_tag(uuid: &str, n: u128) -> String {
    format!("{uuid}.{n}")
}

/// A reference pattern (Docker's `reference` filter) for the instance's
/// resize images.
pub fn resize_references(uuid: &str) -> String {
    format!("{RESIZE_REPOSITORY}:{uuid}.*")
}

pub fn migration_reference(uuid: &str) -> String {
    format!("{MIGRATION_REPOSITORY}:{uuid}")
}

pub fn container_name(uuid: &str) -> String {
    format!("nova-{uuid}")
}

pub fn glance_image_reference(image_id: &str) -> String {
    format!("{GLANCE_REPOSITORY}:{image_id}")
}

pub fn glance_store_reference(image_id: &str) -> String {
    format!("{GLANCE_STORE_REPOSITORY}:{image_id}")
}
