# Copied into openstack_dashboard/local/enabled/ (cloud/horizon.sh does).
PANEL = "engine_images"
PANEL_DASHBOARD = "admin"
PANEL_GROUP = "compute"
ADD_PANEL = "horizon_novadock.engine_images.panel.EngineImages"
ADD_INSTALLED_APPS = ["horizon_novadock"]
