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
/// On an image exported for a move to another host: the instance it carries.
pub const LABEL_MIGRATION_OF: &str = "org.openstack.nova.migration-of";
/// On the image a same-host resize boots from: the instance it belongs to.
pub const LABEL_RESIZE_OF: &str = "org.openstack.nova.resize-of";
/// The Nova host (`[DEFAULT] host`) whose container it is: services of two
/// hosts sharing one engine each list only their own.
pub const LABEL_HOST: &str = "org.openstack.nova.host";

/// Images loaded for a Glance image carry this repository, tagged with the id.
pub const GLANCE_REPOSITORY: &str = "novadock-glance";
/// Images Glance's novadock store keeps here also carry this repository,
/// tagged with the id: they are Glance's data, never the cache's to prune.
pub const GLANCE_STORE_REPOSITORY: &str = "novadock-glance-store";

pub fn container_name(uuid: &str) -> String {
    format!("nova-{uuid}")
}

pub fn glance_image_reference(image_id: &str) -> String {
    format!("{GLANCE_REPOSITORY}:{image_id}")
}

pub fn glance_store_reference(image_id: &str) -> String {
    format!("{GLANCE_STORE_REPOSITORY}:{image_id}")
}
