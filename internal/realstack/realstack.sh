#!/usr/bin/env bash
# realstack.sh: a small real OpenStack (Debian 12's Zed packages) on 127.0.0.1
# for openstrap's real-OpenStack test lane. No VMs: Nova runs the fake virt
# driver, Neutron runs ML2 without agents (a tiny mechanism driver binds ports),
# Octavia runs its no-op drivers but a network driver of ours (VIPs are real
# Neutron ports, see octavia/), Cinder runs its fake volume driver (cinder.sh).
#
#   realstack.sh install   install the packages if missing
#   realstack.sh up        install, configure, start, seed, wait, write clouds.yaml
#   realstack.sh down      stop every service by its pid file
#   realstack.sh purge     down, then remove the state dir (the next up is cold)
#   realstack.sh status    say which services run and which APIs answer
#   realstack.sh restart octavia-api octavia-worker
#                          rewrite the config, stop and start just those
#                          (octavia-*, nova-api, nova-compute, cinder-*)
#   realstack.sh env       print the exports a test needs (OS_CLOUD, OS_CLIENT_CONFIG_FILE)
#
# State (data, config, logs, pid files, clouds.yaml) lives in
# $OPENSTRAP_REALSTACK_DIR (default /var/lib/openstrap-realstack). Everything
# binds to 127.0.0.1. Must run as root (it installs packages and runs MariaDB
# and RabbitMQ under their own users). Idempotent: `up` on a running stack only
# checks it; `up` on a stopped stack with data restarts it without resetting.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${OPENSTRAP_REALSTACK_DIR:-/var/lib/openstrap-realstack}
NICE=${OPENSTRAP_REALSTACK_NICE:-10}
HOST=127.0.0.1
# Debian's python, never a pyenv shim.
PY=/usr/bin/python3
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
unset PYTHONHOME PYENV_VERSION VIRTUAL_ENV
export LC_ALL=C.UTF-8

PACKAGES=(
  mariadb-server rabbitmq-server memcached python3-pymysql python3-memcache
  uwsgi-core uwsgi-plugin-python3 python3-keystone python3-placement
  nova-common nova-conductor nova-scheduler python3-nova
  neutron-common python3-neutron glance-common glance-api python3-glance
  python3-octavia python3-openstackclient python3-octaviaclient
  openssl curl jq
)
# Cinder's parts (packages, config, start, wait).
# shellcheck source=cinder.sh
. "$HERE/cinder.sh"

T0=$(date +%s)
PHASE_T=$T0
log() { printf '[realstack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# die MSG: fail; when MSG names a log file, show its end (CI keeps only stdout/stderr).
die() {
  log "ERROR: $*"
  local f; f=$(grep -o '/[^ ,]*\.\(log\|err\)' <<<"$*" | head -1 || true)
  if [ -n "$f" ] && [ -f "$f" ]; then echo "--- last lines of $f" >&2; tail -n 30 "$f" >&2; fi
  exit 1
}
# phase NAME: print how long the previous phase took and start a new one.
phase_done() {
  local now; now=$(date +%s)
  log "phase $1 took $((now - PHASE_T))s (total $((now - T0))s)"
  PHASE_T=$now
}

[ "$(id -u)" = 0 ] || die "must run as root"

# ---------------------------------------------------------------- install ---

missing_packages() {
  local all=("${PACKAGES[@]}" eatmydata) have
  have=$(dpkg-query -W -f='${Package} ${Status}\n' "${all[@]}" 2>/dev/null | awk '/ install ok installed$/{print $1}')
  local p out=()
  for p in "${all[@]}"; do grep -qx "$p" <<<"$have" || out+=("$p"); done
  echo "${out[@]:-}"
}

preseed() {
  local s sel=""
  for s in nova neutron glance keystone placement octavia; do
    sel+="$s-common $s/configure_db boolean false"$'\n'
    sel+="$s-common $s/configure_rabbit boolean false"$'\n'
    sel+="$s-common $s/configure_ksat boolean false"$'\n'
    sel+="$s-common $s/register-endpoint boolean false"$'\n'
    sel+="$s-api $s/register-endpoint boolean false"$'\n'
  done
  sel+="nova-common nova/configure_neutron boolean false"$'\n'
  sel+="nova-common nova/configure_placement boolean false"$'\n'
  sel+="neutron-common neutron/configure_nova boolean false"$'\n'
  sel+="keystone keystone/configure_db boolean false"$'\n'
  printf '%s' "$sel" | debconf-set-selections
}

do_install() {
  local miss; miss=$(missing_packages)
  if [ -z "$miss" ]; then log "packages present"; return; fi
  log "installing: $miss"
  export DEBIAN_FRONTEND=noninteractive
  local apt=(nice -n "$NICE" apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  # Refresh the lists once, only when a candidate is missing (or, below,
  # when a download fails because the lists are stale).
  local updated=""
  if ! apt-cache show python3-nova >/dev/null 2>&1 || ! apt-cache show eatmydata >/dev/null 2>&1; then
    nice -n "$NICE" apt-get update -q; updated=1
  fi
  if ! command -v eatmydata >/dev/null; then
    "${apt[@]}" install --no-install-recommends eatmydata ||
      { [ -z "$updated" ] && nice -n "$NICE" apt-get update -q && updated=1 &&
        "${apt[@]}" install --no-install-recommends eatmydata; } || die "cannot install eatmydata"
  fi
  # Keep maintainer scripts from starting daemons while installing.
  local made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  preseed
  # shellcheck disable=SC2086
  if ! eatmydata "${apt[@]}" install --no-install-recommends $miss &&
     ! { [ -z "$updated" ] && nice -n "$NICE" apt-get update -q &&
         eatmydata "${apt[@]}" install --no-install-recommends $miss; }; then
    [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
    die "apt-get install failed"
  fi
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  # Package scripts may have started daemons anyway (no systemd here): stop them.
  pkill_pidfile /run/mysqld/mysqld.pid
  pkill_pidfile /run/memcached/memcached.pid
  return 0
}

# pkill_pidfile FILE: end the process a pid file names (if it still runs).
pkill_pidfile() {
  local f=$1 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
}

# ------------------------------------------------------------- processes ---

RUN=$STATE/run
LOGS=$STATE/log
ETC=$STATE/etc
STAMPS=$STATE/stamps

pidfile() { echo "$RUN/$1.pid"; }

# running NAME: true if the process of NAME's pid file lives.
running() {
  local f; f=$(pidfile "$1")
  [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# start_proc NAME CMD...: run CMD in the background in its own session (so
# that `down` ends its whole process group), log to $LOGS/NAME.log, pid file
# $RUN/NAME.pid. Does nothing if NAME already runs.
start_proc() {
  local name=$1; shift
  if running "$name"; then log "$name already running"; return 0; fi
  # Without job control the background child is no group leader, so setsid
  # and nice exec in place and $! is the service's own pid.
  # 9>&-: services must not inherit (and so hold forever) the lock.
  setsid nice -n "$NICE" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$(pidfile "$name")"
}

# stop_proc NAME: TERM the process group of NAME, then KILL after 20 s.
stop_proc() {
  local name=$1 f pid t0=$SECONDS
  f=$(pidfile "$name")
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop in 20s: KILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  # Leftover group members (workers that ignored TERM).
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$f"
  log "stopped $name in $((SECONDS - t0))s"
}

# Order matters for stopping: API and workers first, infrastructure last.
SERVICES=(cinder-volume cinder-scheduler cinder-api octavia-worker octavia-api nova-compute nova-scheduler nova-conductor nova-api
  neutron-server placement-api glance-api keystone memcached rabbitmq mariadb)

# ---------------------------------------------------------------- secrets ---

load_secrets() {
  local f=$STATE/secrets.env
  if [ ! -s "$f" ]; then
    umask 077
    {
      echo "DB_PW=$(openssl rand -hex 16)"
      echo "RABBIT_PW=$(openssl rand -hex 16)"
      echo "ADMIN_PW=$(openssl rand -hex 16)"
      echo "DEMO_PW=$(openssl rand -hex 16)"
      echo "SERVICE_PW=$(openssl rand -hex 16)"
      echo "CA_PW=$(openssl rand -hex 16)"
      echo "HEARTBEAT_KEY=$(openssl rand -hex 16)"
    } >"$f.tmp"
    mv "$f.tmp" "$f"
    umask 022
  fi
  # shellcheck disable=SC1090
  . "$f"
}

# ----------------------------------------------------------------- config ---

DB() { echo "mysql+pymysql://openstack:${DB_PW}@${HOST}/$1?charset=utf8"; }
TRANSPORT() { echo "rabbit://openstack:${RABBIT_PW}@${HOST}:5672/"; }

# authtoken USER: the [keystone_authtoken] section of a service.
authtoken() {
  cat <<EOT
[keystone_authtoken]
www_authenticate_uri = http://${HOST}:5000
auth_url = http://${HOST}:5000
memcached_servers = ${HOST}:11211
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = ${SERVICE_PW}
EOT
}

# ksa SECTION USER: a keystoneauth section for service-to-service calls.
ksa() {
  cat <<EOT
[$1]
auth_url = http://${HOST}:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = ${SERVICE_PW}
region_name = RegionOne
valid_interfaces = public
EOT
}

write_config() {
  umask 077
  mkdir -p "$ETC"/{keystone,glance,placement,nova,neutron,octavia} "$STATE"/{keystone,glance/images,nova,neutron,octavia,lock}

  cat >"$ETC/keystone/keystone.conf" <<EOT
[DEFAULT]
debug = false
[database]
connection = $(DB keystone)
[identity]
# bcrypt's minimum: every token costs a password check, and these
# passwords guard nothing but a throwaway test cloud.
password_hash_rounds = 4
[token]
provider = fernet
expiration = 7200
[fernet_tokens]
key_repository = $STATE/keystone/fernet-keys
[fernet_receipts]
key_repository = $STATE/keystone/fernet-keys
[credential]
key_repository = $STATE/keystone/credential-keys
[cache]
enabled = true
backend = oslo_cache.memcache_pool
memcache_servers = ${HOST}:11211
EOT

  cat >"$ETC/glance/glance-api.conf" <<EOT
[DEFAULT]
bind_host = ${HOST}
bind_port = 9292
workers = 1
debug = false
[database]
connection = $(DB glance)
$(authtoken glance)
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[glance_store]
stores = file,http
default_store = file
filesystem_store_datadir = $STATE/glance/images
[oslo_concurrency]
lock_path = $STATE/lock
EOT

  cat >"$ETC/placement/placement.conf" <<EOT
[DEFAULT]
debug = false
[placement_database]
connection = $(DB placement)
[api]
auth_strategy = keystone
$(authtoken placement)
EOT

  cp /etc/nova/api-paste.ini "$ETC/nova/api-paste.ini"
  cat >"$ETC/nova/nova.conf" <<EOT
[DEFAULT]
debug = false
host = realstack
my_ip = ${HOST}
state_path = $STATE/nova
transport_url = $(TRANSPORT)
compute_driver = fake.FakeDriver
enabled_apis = osapi_compute
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
[api]
auth_strategy = keystone
[api_database]
connection = $(DB nova_api)
[database]
connection = $(DB nova)
[wsgi]
api_paste_config = $ETC/nova/api-paste.ini
$(authtoken nova)
$(ksa placement nova)
$(ksa neutron nova)
$(ksa glance nova)
$(nova_cinder_section)
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 5
[quota]
instances = 1000
cores = 10000
ram = 10240000
key_pairs = 1000
server_groups = 100
server_group_members = 1000
[vnc]
enabled = false
[oslo_concurrency]
lock_path = $STATE/lock
[oslo_messaging_notifications]
driver = noop
EOT
  # nova-compute must not see the databases (it reaches them via conductor).
  awk '/^\[/{skip = ($0 == "[database]" || $0 == "[api_database]")} !skip' \
    "$ETC/nova/nova.conf" >"$ETC/nova/nova-compute.conf"

  cat >"$ETC/neutron/neutron.conf" <<EOT
[DEFAULT]
debug = false
bind_host = ${HOST}
bind_port = 9696
api_workers = 2
rpc_workers = 1
rpc_state_report_workers = 1
core_plugin = ml2
service_plugins = router,trunk,qos,network_ip_availability,port_forwarding
auth_strategy = keystone
allow_overlapping_ips = true
dhcp_agent_notification = false
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
state_path = $STATE/neutron
transport_url = $(TRANSPORT)
[database]
connection = $(DB neutron)
$(authtoken neutron)
$(ksa nova neutron)
[oslo_concurrency]
lock_path = $STATE/lock
[oslo_messaging_notifications]
driver = noop
[quotas]
quota_network = 200
quota_subnet = 200
quota_port = 2000
quota_router = 100
quota_floatingip = 500
quota_security_group = 200
quota_security_group_rule = 2000
EOT

  cat >"$ETC/neutron/ml2_conf.ini" <<EOT
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = openstrap
extension_drivers = port_security,qos
[ml2_type_flat]
flat_networks = public
[ml2_type_vlan]
network_vlan_ranges = public
[ml2_type_vxlan]
vni_ranges = 1:100000
[securitygroup]
enable_security_group = true
firewall_driver = noop
EOT

  cat >"$ETC/octavia/octavia.conf" <<EOT
[DEFAULT]
debug = false
transport_url = $(TRANSPORT)
[api_settings]
bind_host = ${HOST}
bind_port = 9876
auth_strategy = keystone
default_provider_driver = amphora
enabled_provider_drivers = amphora:The Octavia Amphora driver.,octavia:Deprecated alias of the Octavia Amphora driver.
[database]
connection = $(DB octavia)
$(authtoken octavia)
$(ksa service_auth octavia)
[controller_worker]
workers = 1
amphora_driver = amphora_noop_driver
compute_driver = compute_noop_driver
# internal/realstack/octavia: VIPs are real Neutron ports, the rest no-op.
network_driver = openstrap_vip_port_driver
volume_driver = volume_noop_driver
image_driver = image_noop_driver
loadbalancer_topology = SINGLE
amp_image_tag = amphora
amp_flavor_id = 1
amp_boot_network_list = 00000000-0000-0000-0000-000000000000
client_ca = $STATE/octavia/ca.pem
[task_flow]
jobboard_enabled = false
[certificates]
cert_generator = local_cert_generator
ca_certificate = $STATE/octavia/ca.pem
ca_private_key = $STATE/octavia/ca.key
ca_private_key_passphrase = ${CA_PW}
[haproxy_amphora]
client_cert = $STATE/octavia/client.pem
server_ca = $STATE/octavia/ca.pem
[health_manager]
heartbeat_key = ${HEARTBEAT_KEY}
[oslo_messaging]
topic = octavia_prov
[oslo_concurrency]
lock_path = $STATE/lock
[oslo_messaging_notifications]
driver = noop
EOT
  write_cinder_config
  umask 022
}

# octavia_certs: a local CA (key with passphrase) and a client certificate,
# made once.
octavia_certs() {
  local d=$STATE/octavia
  [ -s "$d/client.pem" ] && return 0
  (
    umask 077
    cd "$d"
    export CA_PW
    openssl genrsa -aes256 -passout "env:CA_PW" -out ca.key 2048 2>/dev/null
    openssl req -x509 -new -key ca.key -passin "env:CA_PW" -days 3650 -subj "/CN=openstrap-realstack-ca" -out ca.pem
    openssl genrsa -out client.key 2048 2>/dev/null
    openssl req -new -key client.key -subj "/CN=octavia-controller" -out client.csr
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -passin "env:CA_PW" -CAcreateserial -days 3650 -out client.crt 2>/dev/null
    cat client.crt client.key >client.pem
    rm -f client.csr
  )
}

# --------------------------------------------------------- infrastructure ---

MYSOCK() { echo "$RUN/mysqld/mysqld.sock"; }
mysql_root() { mariadb --no-defaults --socket="$(MYSOCK)" -uroot; }

start_mariadb() {
  local data=$STATE/mysql
  mkdir -p "$RUN/mysqld"
  chown mysql:mysql "$RUN/mysqld"
  if [ ! -d "$data/mysql" ]; then
    mkdir -p "$data"; chown mysql:mysql "$data"
    nice -n "$NICE" mariadb-install-db --no-defaults --user=mysql --datadir="$data" \
      --auth-root-authentication-method=socket --skip-test-db >"$LOGS/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed, see $LOGS/mariadb-install.log"
  fi
  # eatmydata: the data is throwaway, fsyncs only slow the schema syncs.
  start_proc mariadb eatmydata /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$data" \
    --socket="$(MYSOCK)" --pid-file="$RUN/mysqld/mysqld.pid" --bind-address=$HOST --port=3306 \
    --skip-log-bin --skip-name-resolve --innodb-flush-log-at-trx-commit=0 \
    --innodb-buffer-pool-size=256M --max-connections=2000 \
    --character-set-server=utf8mb3 --collation-server=utf8mb3_general_ci \
    --log-error="$LOGS/mariadb.err"
}

wait_mariadb() {
  for _ in $(seq 1 120); do
    mariadb-admin --no-defaults --socket="$(MYSOCK)" -uroot ping >/dev/null 2>&1 && return 0
    running mariadb || die "mariadb exited, see $LOGS/mariadb.err"
    sleep 0.5
  done
  die "mariadb did not answer in 60s"
}

init_databases() {
  local db sql=""
  for db in keystone glance placement nova_api nova nova_cell0 neutron octavia cinder; do
    sql+="CREATE DATABASE IF NOT EXISTS $db;"
  done
  sql+="CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1' IDENTIFIED BY '${DB_PW}';"
  sql+="GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'127.0.0.1';FLUSH PRIVILEGES;"
  printf '%s' "$sql" | mysql_root
}

RABBIT_ENV=(env HOME=/var/lib/rabbitmq RABBITMQ_NODENAME=rabbit@localhost
  "RABBITMQ_NODE_IP_ADDRESS=$HOST" RABBITMQ_NODE_PORT=5672 RABBITMQ_DIST_PORT=25672
  "ERL_EPMD_ADDRESS=$HOST"
  "RABBITMQ_MNESIA_BASE=$STATE/rabbitmq/mnesia" "RABBITMQ_LOG_BASE=$STATE/log/rabbitmq"
  "RABBITMQ_PID_FILE=$RUN/rabbitmq/beam.pid"
  "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
  "RABBITMQ_CTL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}")

rabbitmqctl_() { runuser -u rabbitmq -- "${RABBIT_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl "$@"; }

start_rabbitmq() {
  mkdir -p "$STATE/rabbitmq/mnesia" "$LOGS/rabbitmq" "$RUN/rabbitmq"
  chown -R rabbitmq:rabbitmq "$STATE/rabbitmq" "$LOGS/rabbitmq" "$RUN/rabbitmq"
  start_proc rabbitmq runuser -u rabbitmq -- "${RABBIT_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server
}

wait_rabbitmq() {
  for _ in $(seq 1 120); do
    [ -s "$RUN/rabbitmq/beam.pid" ] && break
    running rabbitmq || die "rabbitmq exited, see $LOGS/rabbitmq.log"
    sleep 0.5
  done
  # The AMQP listener opens once the broker has booted.
  for _ in $(seq 1 240); do
    (exec 3<>/dev/tcp/$HOST/5672) 2>/dev/null && break
    running rabbitmq || die "rabbitmq exited, see $LOGS/rabbitmq.log"
    sleep 0.5
  done
  (exec 3<>/dev/tcp/$HOST/5672) 2>/dev/null || die "rabbitmq did not listen on 5672 in 120s"
  # Users live in RabbitMQ's own data: set them up once per password.
  local sum; sum=$(printf '%s' "$RABBIT_PW" | sha256sum | cut -c1-16)
  if [ -f "$STAMPS/rabbitmq-user" ] && [ "$(cat "$STAMPS/rabbitmq-user")" = "$sum" ]; then return 0; fi
  if ! rabbitmqctl_ -q list_users 2>/dev/null | grep -q '^openstack'; then
    printf '%s\n' "$RABBIT_PW" | rabbitmqctl_ -q add_user openstack >/dev/null
  else
    printf '%s\n' "$RABBIT_PW" | rabbitmqctl_ -q change_password openstack >/dev/null
  fi
  rabbitmqctl_ -q set_permissions openstack '.*' '.*' '.*' >/dev/null
  echo "$sum" >"$STAMPS/rabbitmq-user"
}

start_memcached() {
  start_proc memcached memcached -u memcache -l $HOST -p 11211 -U 0 -m 128 -c 4096
}

# ----------------------------------------------------------- schema syncs ---

pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }

# sync NAME PACKAGE CMD...: run a schema sync once per package version.
sync_once() {
  local name=$1 pkg=$2; shift 2
  local stamp=$STAMPS/$name v
  v=$(pkg_version "$pkg")
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$v" ]; then return 0; fi
  if nice -n "$NICE" "$@" >"$LOGS/sync-$name.log" 2>&1; then
    echo "$v" >"$stamp"
  else
    log "sync $name failed, see $LOGS/sync-$name.log"; return 1
  fi
}

sync_keystone() {
  local c=(--config-file "$ETC/keystone/keystone.conf")
  sync_once keystone python3-keystone keystone-manage "${c[@]}" db_sync || return 1
  if [ ! -d "$STATE/keystone/fernet-keys" ]; then
    { keystone-manage "${c[@]}" fernet_setup --keystone-user root --keystone-group root &&
      keystone-manage "${c[@]}" credential_setup --keystone-user root --keystone-group root
    } >>"$LOGS/keystone-bootstrap.log" 2>&1 || { log "keystone key setup failed"; return 1; }
  fi
  if [ ! -f "$STAMPS/keystone-bootstrap" ]; then
    OS_BOOTSTRAP_PASSWORD=$ADMIN_PW keystone-manage "${c[@]}" bootstrap \
      --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
      --bootstrap-admin-url "http://$HOST:5000/v3/" --bootstrap-internal-url "http://$HOST:5000/v3/" \
      --bootstrap-public-url "http://$HOST:5000/v3/" --bootstrap-region-id RegionOne \
      >"$LOGS/keystone-bootstrap.log" 2>&1 || { log "keystone bootstrap failed"; return 1; }
    touch "$STAMPS/keystone-bootstrap"
  fi
}

sync_nova() {
  local c=(--config-file "$ETC/nova/nova.conf")
  local v; v=$(pkg_version python3-nova)
  if [ -f "$STAMPS/nova" ] && [ "$(cat "$STAMPS/nova")" = "$v" ]; then return 0; fi
  {
    # Each nova-manage costs seconds of start-up: no list_cells checks.
    # map_cell0 is idempotent; create_cell answers 2 if cell1 exists.
    nova-manage "${c[@]}" api_db sync &&
    nova-manage "${c[@]}" cell_v2 map_cell0 &&
    { nova-manage "${c[@]}" cell_v2 create_cell --name cell1 || [ $? = 2 ]; } &&
    nova-manage "${c[@]}" db sync
  } >"$LOGS/sync-nova.log" 2>&1 || { log "sync nova failed, see $LOGS/sync-nova.log"; return 1; }
  echo "$v" >"$STAMPS/nova"
}

sync_all() {
  # In parallel: they are mostly Python start-up and round trips.
  local pids=() p rc=0
  sync_keystone & pids+=($!)
  sync_once glance python3-glance glance-manage --config-file "$ETC/glance/glance-api.conf" db_sync & pids+=($!)
  sync_once placement python3-placement placement-manage --config-file "$ETC/placement/placement.conf" db sync & pids+=($!)
  sync_once neutron python3-neutron neutron-db-manage --config-file "$ETC/neutron/neutron.conf" \
    --config-file "$ETC/neutron/ml2_conf.ini" upgrade heads & pids+=($!)
  sync_once octavia python3-octavia octavia-db-manage --config-file "$ETC/octavia/octavia.conf" upgrade head & pids+=($!)
  sync_nova & pids+=($!)
  sync_cinder & pids+=($!)
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc = 0 ] || die "a schema sync failed"
}

# -------------------------------------------------------------- services ---

# uwsgi_app NAME PORT SCRIPT PROCESSES THREADS [uwsgi args...]
uwsgi_app() {
  local name=$1 port=$2 script=$3 procs=$4 threads=$5; shift 5
  start_proc "$name" uwsgi --plugin python3 --http-socket "$HOST:$port" --wsgi-file "$script" \
    --master --processes "$procs" --threads "$threads" --enable-threads --lazy-apps --die-on-term --need-app \
    --buffer-size 65535 --add-header "Connection: close" --hook-master-start "unix_signal:15 gracefully_kill_them_all" \
    "$@"
}

start_keystone() {
  uwsgi_app keystone 5000 /usr/bin/keystone-wsgi-public 1 8 --env "OS_KEYSTONE_CONFIG_FILES=$ETC/keystone/keystone.conf"
}

start_openstack() {
  local ml2=$HERE/ml2
  uwsgi_app placement-api 8778 /usr/bin/placement-api 1 4 --env "OS_PLACEMENT_CONFIG_DIR=$ETC/placement"
  start_proc glance-api glance-api --config-file "$ETC/glance/glance-api.conf"
  start_proc neutron-server env PYTHONPATH="$ml2" PYTHONDONTWRITEBYTECODE=1 neutron-server --config-file "$ETC/neutron/neutron.conf" \
    --config-file "$ETC/neutron/ml2_conf.ini"
  # nova-api monkey-patches with eventlet: processes, not threads.
  uwsgi_app nova-api 8774 /usr/bin/nova-api-wsgi 2 1 --env "OS_NOVA_CONFIG_DIR=$ETC/nova"
  start_octavia
  start_cinder
}

# start_octavia: Octavia's API and worker, with the project's network driver
# (internal/realstack/octavia) on their PYTHONPATH.
start_octavia() {
  local oct=$HERE/octavia
  uwsgi_app octavia-api 9876 /usr/bin/octavia-wsgi 1 4 --env "PYTHONPATH=$oct" --env PYTHONDONTWRITEBYTECODE=1 \
    --pyargv "--config-file $ETC/octavia/octavia.conf"
  start_proc octavia-worker env PYTHONPATH="$oct" PYTHONDONTWRITEBYTECODE=1 octavia-worker --config-file "$ETC/octavia/octavia.conf"
}

# Nova's conductor, scheduler and compute authenticate to Placement as they
# start (the scheduler exits if it cannot): they start after the service
# users and the catalog exist.
start_nova_services() {
  start_proc nova-conductor nova-conductor --config-file "$ETC/nova/nova.conf"
  start_proc nova-scheduler nova-scheduler --config-file "$ETC/nova/nova.conf"
  # python3-nova's own entry point: the nova-compute package would pull in
  # qemu and libvirt, which the fake driver does not need.
  start_proc nova-compute $PY -c 'import sys; from nova.cmd.compute import main; sys.argv[0] = "nova-compute"; sys.exit(main())' \
    --config-file "$ETC/nova/nova-compute.conf"
}

# ------------------------------------------------------------------ waits ---

# http_code URL: the HTTP status of a GET (000 if nothing answers).
http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true; }

# wait_http NAME URL [SECONDS]: until URL answers below 500.
wait_http() {
  local name=$1 url=$2 limit=${3:-180} code
  for _ in $(seq 1 $((limit * 2))); do
    code=$(http_code "$url")
    case $code in 000|5??) ;; *) return 0 ;; esac
    running "$name" || die "$name exited, see $LOGS/$name.log"
    sleep 0.5
  done
  die "$name did not answer at $url in ${limit}s (last $code), see $LOGS/$name.log"
}

# token USER PASSWORD PROJECT: a Keystone token (password through stdin, not argv).
token() {
  curl -s -m 10 -i -H 'Content-Type: application/json' --data @- "http://$HOST:5000/v3/auth/tokens" <<EOT | tr -d '\r' | awk 'tolower($1)=="x-subject-token:"{print $2}'
{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"$1","domain":{"name":"Default"},"password":"$2"}}},"scope":{"project":{"name":"$3","domain":{"name":"Default"}}}}}
EOT
}

# api TOKEN URL: GET with a token, body to stdout, fails on >= 400.
api() { curl -s -f -m 10 -H "X-Auth-Token: $1" -H 'OpenStack-API-Version: compute 2.53' "$2"; }

wait_apis() {
  wait_http placement-api "http://$HOST:8778/"
  wait_http glance-api "http://$HOST:9292/"
  wait_http neutron-server "http://$HOST:9696/"
  wait_http nova-api "http://$HOST:8774/"
  wait_http octavia-api "http://$HOST:9876/"
  # Authenticated reads: keystonemiddleware and the catalog work.
  local tok; tok=$(token admin "$ADMIN_PW" admin)
  [ -n "$tok" ] || die "no admin token"
  local u
  for u in "http://$HOST:9696/v2.0/networks?limit=1" "http://$HOST:8774/v2.1/flavors" \
           "http://$HOST:9292/v2/images?limit=1" "http://$HOST:8778/resource_providers" \
           "http://$HOST:9876/v2/lbaas/loadbalancers?limit=1"; do
    local ok=""
    for _ in $(seq 1 60); do
      if api "$tok" "$u" >/dev/null; then ok=1; break; fi
      sleep 1
    done
    [ -n "$ok" ] || die "authenticated GET $u failed"
  done
}

# wait_compute: a compute node is registered in Nova and in Placement with
# inventory, and mapped to its cell. The node must have reported since this
# nova-compute started: after a quick restart the old record still looks up.
wait_compute() {
  local tok n since upd
  tok=$(token admin "$ADMIN_PW" admin)
  since=$(stat -c %Y "$(pidfile nova-compute)")
  for _ in $(seq 1 180); do
    n=0
    upd=$(api "$tok" "http://$HOST:8774/v2.1/os-services?binary=nova-compute" |
      jq -r '[.services[] | select(.state=="up") | .updated_at // empty] | max // empty' 2>/dev/null || true)
    if [ -n "$upd" ] && [ "$(date -u -d "${upd%.*}Z" +%s 2>/dev/null || echo 0)" -ge "$since" ]; then
      n=$(api "$tok" "http://$HOST:8774/v2.1/os-hypervisors" | jq '[.hypervisors[] | select(.state=="up")] | length' 2>/dev/null || echo 0)
    fi
    [ "${n:-0}" -ge 1 ] && break
    running nova-compute || die "nova-compute exited, see $LOGS/nova-compute.log"
    sleep 1
  done
  [ "${n:-0}" -ge 1 ] || die "no compute node reported in 180s, see $LOGS/nova-compute.log"
  local rp
  for _ in $(seq 1 60); do
    rp=$(api "$tok" "http://$HOST:8778/resource_providers" | jq -r '.resource_providers[0].uuid // empty')
    if [ -n "$rp" ] && api "$tok" "http://$HOST:8778/resource_providers/$rp/inventories" | jq -e '.inventories.VCPU' >/dev/null 2>&1; then
      break
    fi
    sleep 1
  done
  if [ ! -f "$STAMPS/discover-hosts" ]; then
    nice -n "$NICE" nova-manage --config-file "$ETC/nova/nova.conf" cell_v2 discover_hosts >>"$LOGS/nova-manage.log" 2>&1
    touch "$STAMPS/discover-hosts"
  fi
}

# ----------------------------------------------------------------- seed ---

# seed WHAT: run seed.py WHAT unless it ran with the same script and secrets.
seed() {
  local sum
  sum=$(cat "$HERE/seed.py" "$STATE/secrets.env" | sha256sum | cut -c1-16)
  if [ -f "$STAMPS/seed-$1" ] && [ "$(cat "$STAMPS/seed-$1")" = "$sum" ]; then return 0; fi
  ADMIN_PW=$ADMIN_PW DEMO_PW=$DEMO_PW SERVICE_PW=$SERVICE_PW REALSTACK_HOST=$HOST \
    nice -n "$NICE" $PY "$HERE/seed.py" "$1" >>"$LOGS/seed.log" 2>&1 || die "seed $1 failed, see $LOGS/seed.log"
  echo "$sum" >"$STAMPS/seed-$1"
}

write_clouds() {
  local f=$STATE/clouds.yaml
  umask 077
  cat >"$f.tmp" <<EOT
# Written by internal/realstack/realstack.sh: the local real OpenStack.
clouds:
  realstack:
    auth:
      auth_url: http://$HOST:5000/v3
      username: demo
      password: $DEMO_PW
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
  realstack-admin:
    auth:
      auth_url: http://$HOST:5000/v3
      username: admin
      password: $ADMIN_PW
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
EOT
  mv "$f.tmp" "$f"
  # clouds-demo-N.yaml: the same two clouds, the member in project demo-N
  # (seed.py LANE_PROJECTS), for test packages that run side by side.
  local n
  for n in 2 3; do
    sed -e "s/username: demo\$/username: demo-$n/" -e "s/project_name: demo\$/project_name: demo-$n/" \
      "$f" >"$STATE/clouds-demo-$n.yaml.tmp"
    mv "$STATE/clouds-demo-$n.yaml.tmp" "$STATE/clouds-demo-$n.yaml"
  done
  umask 022
}

# ---------------------------------------------------------------- verbs ---

do_up() {
  do_install; phase_done install
  mkdir -p "$STATE" "$RUN" "$LOGS" "$ETC" "$STAMPS"
  chmod 755 "$STATE"
  load_secrets
  write_config
  octavia_certs
  phase_done config
  if ! running mariadb && [ -n "$(orphans)" ]; then
    die "processes of an earlier stack hold its ports without pid files ($(orphans | tr '\n' ' ')): run $0 down"
  fi
  start_mariadb; start_rabbitmq; start_memcached
  wait_mariadb; init_databases
  wait_rabbitmq
  phase_done infrastructure
  sync_all
  phase_done schema
  # Everything but Nova's RPC services at once: the services need Keystone only
  # when the first request comes.
  start_keystone
  start_openstack
  wait_http keystone "http://$HOST:5000/v3"
  seed identity
  start_nova_services
  phase_done keystone
  wait_apis
  wait_cinder
  phase_done services
  seed resources
  phase_done seed
  wait_compute
  phase_done compute
  write_clouds
  log "up in $(( $(date +%s) - T0 ))s; clouds.yaml: $STATE/clouds.yaml (clouds realstack, realstack-admin)"
}

PORTS=(3306 5672 25672 11211 5000 9292 8778 8774 9696 9876 8776)

# orphans: pids of this stack's processes that no pid file names (a pid file
# lost with a removed state dir): listeners on the stack's ports that run
# one of its programs, and processes whose command line names this state
# dir's config.
orphans() {
  local p pid owned
  owned=$(cat "$RUN"/*.pid 2>/dev/null || true)
  {
    for p in "${PORTS[@]}"; do
      ss -ltnpH "sport = :$p" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2
    done
    grep -l -F -- "$STATE/etc/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3
  } | sort -un | while read -r pid; do
    [ "$pid" = $$ ] && continue
    # Members of a process group that a pid file names are not orphans.
    local pg; pg=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')
    [ -n "$pg" ] && grep -qx "$pg" <<<"$owned" && continue
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null |
      grep -qE '(mariadbd|beam\.smp|epmd|memcached|uwsgi|glance-api|neutron-server|nova-|octavia-|cinder|rabbitmq)' && echo "$pid"
  done
}

do_down() {
  local s pids=()
  # OpenStack services together, then what they depend on (the last three).
  local n=$((${#SERVICES[@]} - 3))
  for s in "${SERVICES[@]:0:n}"; do stop_proc "$s" & pids+=($!); done
  wait "${pids[@]}"
  for s in "${SERVICES[@]:n}"; do stop_proc "$s"; done
  local pid
  for pid in $(orphans); do
    log "stopping orphan pid $pid: $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | cut -c1-100)"
    kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 2
  for pid in $(orphans); do kill -KILL "$pid" 2>/dev/null || true; done
  # epmd outlives RabbitMQ.
  if command -v epmd >/dev/null; then ERL_EPMD_ADDRESS=$HOST epmd -kill >/dev/null 2>&1 || true; fi
  phase_done down
}

do_status() {
  local s rc=0
  for s in "${SERVICES[@]}"; do
    if running "$s"; then echo "$s running (pid $(cat "$(pidfile "$s")"))"; else echo "$s stopped"; rc=3; fi
  done
  local p
  for p in keystone:5000 glance:9292 placement:8778 nova:8774 neutron:9696 octavia:9876 cinder:8776; do
    echo "${p%%:*} http ${p##*:}: $(http_code "http://$HOST:${p##*:}/")"
  done
  return $rc
}

# RESTARTABLE: the services `restart` may stop and start alone (the others
# depend on each other's start order and seed).
RESTARTABLE=(octavia-api octavia-worker nova-api nova-compute cinder-api cinder-scheduler cinder-volume)

# do_restart NAME...: rewrite the configuration, stop NAMEs by their pid
# files and start them again; no running service is touched (one that is
# not running is started too).
do_restart() {
  local s r ok
  [ $# -gt 0 ] || die "restart: name at least one of: ${RESTARTABLE[*]}"
  for s in "$@"; do
    ok=
    for r in "${RESTARTABLE[@]}"; do [ "$s" = "$r" ] && ok=1; done
    [ -n "$ok" ] || die "restart: $s is not one of: ${RESTARTABLE[*]}"
  done
  running mariadb || die "restart: the stack is not up (run $0 up)"
  load_secrets
  write_config
  for s in "$@"; do stop_proc "$s"; done
  # Start what is not running: the ones just stopped.
  start_openstack
  start_nova_services
  case " $* " in *" octavia-api "*) wait_http octavia-api "http://$HOST:9876/" ;; esac
  case " $* " in *" nova-api "*) wait_http nova-api "http://$HOST:8774/" ;; esac
  case " $* " in *" cinder-"*) wait_cinder ;; esac
  case " $* " in *" nova-compute "*) wait_compute ;; esac
  log "restarted $*"
}

do_env() {
  echo "export OS_CLIENT_CONFIG_FILE=$STATE/clouds.yaml"
  echo "export OS_CLOUD=realstack"
}

# One install/up/down/purge at a time on the machine (the ports are fixed;
# another session may share the machine).
LOCK=/run/lock/openstrap-realstack-cli.lock
with_lock() {
  mkdir -p "$(dirname "$LOCK")"
  exec 9>"$LOCK"
  if ! flock -n 9; then
    log "another realstack.sh holds $LOCK: waiting (up to 15 min)"
    flock -w 900 9 || die "$LOCK still held after 15 min"
  fi
  "$@"
}

# do_purge: stop, then remove the state dir (data, secrets, clouds.yaml).
do_purge() {
  do_down
  rm -rf "$STATE"
  log "removed $STATE"
}

case "${1:-}" in
  install) with_lock do_install; phase_done install ;;
  up) with_lock do_up ;;
  down) with_lock do_down ;;
  purge) with_lock do_purge ;;
  restart) shift; with_lock do_restart "$@" ;;
  status) do_status ;;
  env) do_env ;;
  *) echo "usage: $0 install|up|down|purge|restart NAME...|status|env" >&2; exit 2 ;;
esac
