# cinder.sh: Cinder for realstack.sh (sourced by it; uses its helpers and
# variables). Cinder's API, scheduler and volume service from python3-cinder
# alone (the cinder-* packages would pull in LVM, tgt and qemu), one backend
# "lvmdriver-1" with the driver in cinder/openstrap_cinder: Cinder's own fake
# driver (devstack's functional jobs use it), so volumes have no storage but
# go through Cinder's real API, scheduler, quotas and attach state machine.
# shellcheck shell=bash

PACKAGES+=(python3-cinder)

# cinder_main MODULE: Python that runs cinder.cmd.MODULE's main as
# cinder-MODULE (the console scripts come with cinder-common, which is not
# installed), for `$PY -c`.
cinder_main() {
  echo "import sys; from cinder.cmd.$1 import main; sys.argv[0] = 'cinder-$1'; sys.exit(main())"
}

# write_cinder_config: cinder.conf, its paste pipeline and list filters.
write_cinder_config() {
  mkdir -p "$ETC/cinder" "$STATE/cinder"
  cat >"$ETC/cinder/cinder.conf" <<EOT
[DEFAULT]
debug = false
host = realstack
my_ip = ${HOST}
state_path = $STATE/cinder
transport_url = $(TRANSPORT)
auth_strategy = keystone
osapi_volume_listen = ${HOST}
osapi_volume_listen_port = 8776
osapi_volume_workers = 1
api_paste_config = $ETC/cinder/api-paste.ini
resource_query_filters_file = $ETC/cinder/resource_filters.json
enabled_backends = lvmdriver-1
default_volume_type = __DEFAULT__
storage_availability_zone = nova
default_availability_zone = nova
# Cinder's defaults, as the simulator has them.
quota_volumes = 10
quota_snapshots = 10
quota_gigabytes = 1000
[database]
connection = $(DB cinder)
$(authtoken cinder)
$(ksa nova cinder)
[lvmdriver-1]
volume_driver = openstrap_cinder.FakeVolumeDriver
volume_backend_name = lvmdriver-1
[oslo_concurrency]
lock_path = $STATE/lock
[oslo_messaging_notifications]
driver = noop
EOT

  # python3-cinder ships no paste file: cinder-common's, keystone pipeline only.
  cat >"$ETC/cinder/api-paste.ini" <<'EOT'
[composite:osapi_volume]
use = call:cinder.api:root_app_factory
/: apiversions
/healthcheck: healthcheck
/v3: openstack_volume_api_v3

[composite:openstack_volume_api_v3]
use = call:cinder.api.middleware.auth:pipeline_factory
keystone = request_id cors http_proxy_to_wsgi faultwrap sizelimit osprofiler authtoken keystonecontext apiv3
keystone_nolimit = request_id cors http_proxy_to_wsgi faultwrap sizelimit osprofiler authtoken keystonecontext apiv3

[filter:request_id]
paste.filter_factory = cinder.api.middleware.request_id:RequestId.factory

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware.http_proxy_to_wsgi:HTTPProxyToWSGI.factory

[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = cinder

[filter:faultwrap]
paste.filter_factory = cinder.api.middleware.fault:FaultWrapper.factory

[filter:osprofiler]
paste.filter_factory = osprofiler.web:WsgiMiddleware.factory

[filter:sizelimit]
paste.filter_factory = oslo_middleware.sizelimit:RequestBodySizeLimiter.factory

[filter:keystonecontext]
paste.filter_factory = cinder.api.middleware.auth:CinderKeystoneContext.factory

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory

[app:apiv3]
paste.app_factory = cinder.api.v3.router:APIRouter.factory

[pipeline:apiversions]
pipeline = request_id cors http_proxy_to_wsgi faultwrap osvolumeversionapp

[app:osvolumeversionapp]
paste.app_factory = cinder.api.versions:Versions.factory

[pipeline:healthcheck]
pipeline = request_id healthcheckapp

[app:healthcheckapp]
paste.app_factory = oslo_middleware:Healthcheck.app_factory
backends = disable_by_file
disable_by_file_path = /nonexistent/cinder-healthcheck-disable
EOT

  # The filters the list APIs accept (cinder-common's resource_filters.json).
  cat >"$ETC/cinder/resource_filters.json" <<'EOT'
{
    "volume": ["name", "status", "metadata",
               "bootable", "migration_status", "availability_zone",
               "group_id", "size", "created_at", "updated_at",
               "consumes_quota"],
    "backup": ["name", "status", "volume_id"],
    "snapshot": ["name", "status", "volume_id", "metadata",
                 "availability_zone", "consumes_quota"],
    "group": ["name"],
    "group_snapshot": ["name", "status", "group_id"],
    "attachment": ["volume_id", "status", "instance_id", "attach_status"],
    "message": ["resource_uuid", "resource_type", "event_id",
                "request_id", "message_level"],
    "pool": ["name", "volume_type"],
    "volume_type": ["is_public", "extra_specs"]
}
EOT
}

# nova_cinder_section: nova.conf's [cinder] (attach, boot from volume) and
# [service_user]: Nova must send a service token (its user has the role
# "service", seed.py) or Cinder refuses to delete the attachment of a server
# being deleted (409 ConflictNovaUsingAttachment, the fix of OSSA-2023-003 /
# bug 2004555 in Debian's 21.3.1), and the volume stays in-use.
nova_cinder_section() {
  echo "[cinder]"
  echo "os_region_name = RegionOne"
  echo "catalog_info = volumev3:cinderv3:publicURL"
  nova_service_auth
  echo "[service_user]"
  echo "send_service_user_token = true"
  nova_service_auth
}

# nova_service_auth: the keystoneauth lines of Nova's service user.
nova_service_auth() {
  cat <<EOT
auth_url = http://${HOST}:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = nova
password = ${SERVICE_PW}
EOT
}

sync_cinder() {
  sync_once cinder python3-cinder $PY -c "$(cinder_main manage)" --config-file "$ETC/cinder/cinder.conf" db sync
}

# start_cinder: API, scheduler and volume service (each skipped if running).
start_cinder() {
  local c=(--config-file "$ETC/cinder/cinder.conf")
  start_proc cinder-api $PY -c "$(cinder_main api)" "${c[@]}"
  start_proc cinder-scheduler $PY -c "$(cinder_main scheduler)" "${c[@]}"
  # The driver (cinder/openstrap_cinder) on the volume service's path.
  start_proc cinder-volume env PYTHONPATH="$HERE/cinder" PYTHONDONTWRITEBYTECODE=1 \
    $PY -c "$(cinder_main volume)" "${c[@]}"
}

# wait_cinder: the API answers with a token, and the scheduler and the
# backend realstack@lvmdriver-1 are up and have reported since they started
# (after a restart the old records still look up for a minute; a volume
# created before fails with "No valid backend").
wait_cinder() {
  wait_http cinder-api "http://$HOST:8776/"
  local tok up="" since
  tok=$(token admin "$ADMIN_PW" admin)
  [ -n "$tok" ] || die "no admin token"
  since=$(stat -c %Y "$(pidfile cinder-volume)" "$(pidfile cinder-scheduler)" | sort -n | tail -1)
  for _ in $(seq 1 180); do
    up=$(curl -s -f -m 10 -H "X-Auth-Token: $tok" "http://$HOST:8776/v3/os-services" 2>/dev/null |
      jq -r --argjson since "$since" '[.services[] | select(.state=="up" and .status=="enabled" and .updated_at != null)
        | select((.updated_at | sub("\\..*$"; "Z") | fromdateiso8601) >= $since) | .binary] | unique | join(",")' 2>/dev/null || true)
    [ "$up" = "cinder-scheduler,cinder-volume" ] && return 0
    running cinder-scheduler || die "cinder-scheduler exited, see $LOGS/cinder-scheduler.log"
    running cinder-volume || die "cinder-volume exited, see $LOGS/cinder-volume.log"
    sleep 1
  done
  die "cinder services not up in 180s (reported: ${up:-none}), see $LOGS/cinder-volume.log"
}
