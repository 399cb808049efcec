#!/usr/bin/env bash
# smoke.sh: check a running realstack through its member cloud with curl, and
# record real response bodies that the simulator must match.
#
#   smoke.sh [OUTDIR]   OUTDIR defaults to testdata/observed beside this script
#
# Each recorded file holds the request (method, service, path, body, the
# headers that matter) and the response (status, body). Tokens and passwords
# are never recorded. Cleans up after itself; exits non-zero on the first
# unexpected answer.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${OPENSTRAP_REALSTACK_DIR:-/var/lib/openstrap-realstack}
OUT=${1:-$HERE/testdata/observed}
H=127.0.0.1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# shellcheck disable=SC1091
. "$STATE/secrets.env"

T0=$SECONDS
log() { printf '[smoke +%ss] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

declare -A BASE=(
  [identity]=http://$H:5000/v3 [compute]=http://$H:8774/v2.1 [network]=http://$H:9696/v2.0
  [load-balancer]=http://$H:9876/v2 [image]=http://$H:9292/v2
)

token() { # USER PASSWORD PROJECT
  curl -s -m 20 -i -H 'Content-Type: application/json' --data @- "${BASE[identity]}/auth/tokens" <<EOT | tr -d '\r' | awk 'tolower($1)=="x-subject-token:"{print $2}'
{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"$1","domain":{"name":"Default"},"password":"$2"}}},"scope":{"project":{"name":"$3","domain":{"name":"Default"}}}}}
EOT
}

TOK=""      # the token call uses
MV=""       # compute microversion header value, if any
STATUS=0
BODY=$TMP/body

# call NAME METHOD SERVICE PATH [BODY]: make a request with $TOK; the
# response body goes to $BODY and its status to $STATUS. With a NAME, record
# both into $OUT/NAME.json.
call() {
  local name=$1 method=$2 svc=$3 path=$4 data=${5:-}
  local args=(-s -m 60 -o "$BODY" -w '%{http_code}' -X "$method" -H "X-Auth-Token: $TOK"
    -H 'Accept: application/json')
  [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data "$data")
  [ -n "$MV" ] && [ "$svc" = compute ] && args+=(-H "OpenStack-API-Version: compute $MV" -H "X-OpenStack-Nova-API-Version: $MV")
  STATUS=$(curl "${args[@]}" "${BASE[$svc]}$path")
  if [ -n "$name" ]; then
    local req_body=null resp
    [ -n "$data" ] && req_body=$data
    if jq -e . "$BODY" >/dev/null 2>&1; then resp=$(cat "$BODY"); else resp=$(jq -Rs . <"$BODY"); fi
    [ -s "$BODY" ] || resp=null
    local hdr='{}'
    [ -n "$MV" ] && [ "$svc" = compute ] && hdr=$(jq -n --arg v "compute $MV" '{"OpenStack-API-Version": $v}')
    jq -n --arg m "$method" --arg s "$svc" --arg p "$path" --argjson b "$req_body" --argjson h "$hdr" \
      --argjson st "$STATUS" --argjson r "$resp" \
      '{request: {method: $m, service: $s, path: $p, headers: $h, body: $b}, response: {status: $st, body: $r}}' \
      >"$OUT/$name.json"
  fi
}

# expect CODE...: the last call answered one of CODE.
expect() {
  local c
  for c in "$@"; do [ "$STATUS" = "$c" ] && return 0; done
  die "expected $* got $STATUS: $(head -c 600 "$BODY")"
}
j() { jq -r "$1" "$BODY"; }

# wait_field NAME SERVICE PATH JQ WANT [SECONDS]: poll until JQ of the body
# is WANT; ERROR fails at once.
wait_field() {
  local svc=$1 path=$2 q=$3 want=$4 limit=${5:-120} v=""
  for _ in $(seq 1 $((limit * 2))); do
    call "" GET "$svc" "$path"
    v=$(j "$q")
    [ "$v" = "$want" ] && return 0
    [ "$v" = ERROR ] && die "$path went to ERROR: $(head -c 600 "$BODY")"
    sleep 0.5
  done
  die "$path: $q is $v, not $want after ${limit}s"
}

# wait_gone SERVICE PATH [SECONDS]: poll until 404.
wait_gone() {
  local svc=$1 path=$2 limit=${3:-120}
  for _ in $(seq 1 $((limit * 2))); do
    call "" GET "$svc" "$path"
    [ "$STATUS" = 404 ] && return 0
    sleep 0.5
  done
  die "$path still there after ${limit}s"
}

log "tokens"
ADMIN_TOK=$(token admin "$ADMIN_PW" admin)
[ -n "$ADMIN_TOK" ] || die "no admin token"
# A project and user of the smoke test's own, with the demo user's roles:
# test suites that clean up everything left in project demo may run at the
# same time.
TOK=$ADMIN_TOK
P=realstack-smoke
call "" GET identity "/projects?name=$P"; DEMO=$(j '.projects[0].id // empty')
if [ -z "$DEMO" ]; then
  call "" POST identity /projects "{\"project\":{\"name\":\"$P\",\"domain_id\":\"default\"}}"; expect 201
  DEMO=$(j .project.id)
fi
call "" GET identity "/users?name=$P"; SUSER=$(j '.users[0].id // empty')
if [ -z "$SUSER" ]; then
  call "" POST identity /users "{\"user\":{\"name\":\"$P\",\"domain_id\":\"default\",\"password\":\"$DEMO_PW\"}}" >/dev/null; expect 201
  SUSER=$(j .user.id)
fi
for r in member load-balancer_member; do
  call "" GET identity "/roles?name=$r"; RID=$(j '.roles[0].id')
  call "" PUT identity "/projects/$DEMO/users/$SUSER/roles/$RID"; expect 204
done
MEMBER_TOK=$(token "$P" "$DEMO_PW" "$P")
[ -n "$MEMBER_TOK" ] || die "no member token"
TOK=$MEMBER_TOK

# Keystone: a wrong password (no token recorded; the demo user, as tests see it).
STATUS=$(curl -s -m 20 -o "$BODY" -w '%{http_code}' -H 'Content-Type: application/json' --data \
  '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","domain":{"name":"Default"},"password":"wrong"}}},"scope":{"project":{"name":"demo","domain":{"name":"Default"}}}}}' \
  "${BASE[identity]}/auth/tokens")
jq -n --argjson st "$STATUS" --slurpfile r "$BODY" \
  '{request: {method: "POST", service: "identity", path: "/auth/tokens", body: "password auth for demo with a wrong password"}, response: {status: $st, body: $r[0]}}' \
  >"$OUT/identity-token-wrong-password.json"
[ "$STATUS" = 401 ] || die "wrong password: $STATUS"

log "network, subnet, router"
call network-get-missing GET network /networks/00000000-0000-4000-8000-000000000000; expect 404
call network-create POST network /networks '{"network":{"name":"smoke-net","admin_state_up":true}}'; expect 201
NET=$(j .network.id)
call network-set-tags PUT network "/networks/$NET/tags" '{"tags":["smoke","a","b"]}'; expect 200
call "" POST network /networks '{"network":{"name":"smoke-net-2"}}'; expect 201
NET2=$(j .network.id)
call "" PUT network "/networks/$NET2/tags" '{"tags":["smoke","a"]}'; expect 200
call network-list-tags-all GET network "/networks?tags=smoke,b&fields=name&fields=tags"; expect 200
call network-list-tags-any GET network "/networks?tags-any=b,nothing&fields=name&fields=tags"; expect 200
call network-list-not-tags GET network "/networks?tags=smoke&not-tags=b&fields=name&fields=tags"; expect 200
call network-list-not-tags-any GET network "/networks?tags=smoke&not-tags-any=b,a&fields=name&fields=tags"; expect 200
call network-list-tags-repeated GET network "/networks?tags=smoke&tags=b&fields=name&fields=tags"; expect 200
call subnet-create POST network /subnets "{\"subnet\":{\"name\":\"smoke-subnet\",\"network_id\":\"$NET\",\"ip_version\":4,\"cidr\":\"10.6.0.0/24\",\"dns_nameservers\":[\"8.8.8.8\"]}}"; expect 201
SUBNET=$(j .subnet.id)
call subnet-create-overlap POST network /subnets "{\"subnet\":{\"name\":\"smoke-subnet-dup\",\"network_id\":\"$NET\",\"ip_version\":4,\"cidr\":\"10.6.0.0/25\"}}"; expect 400
call "" GET network "/networks?name=public"; PUBLIC=$(j '.networks[0].id')
call network-get-external-as-member GET network "/networks/$PUBLIC"; expect 200
call router-create POST network /routers "{\"router\":{\"name\":\"smoke-router\",\"external_gateway_info\":{\"network_id\":\"$PUBLIC\"}}}"; expect 201
ROUTER=$(j .router.id)
call router-add-interface PUT network "/routers/$ROUTER/add_router_interface" "{\"subnet_id\":\"$SUBNET\"}"; expect 200
call router-add-interface-again PUT network "/routers/$ROUTER/add_router_interface" "{\"subnet_id\":\"$SUBNET\"}"; expect 400 409

log "security group, port"
call security-group-create POST network /security-groups '{"security_group":{"name":"smoke-sg","description":"smoke"}}'; expect 201
SG=$(j .security_group.id)
RULE='{"security_group_rule":{"security_group_id":"'$SG'","direction":"ingress","ethertype":"IPv4","protocol":"tcp","port_range_min":6443,"port_range_max":6443,"remote_ip_prefix":"0.0.0.0/0"}}'
call security-group-rule-create POST network /security-group-rules "$RULE"; expect 201
call security-group-rule-create-duplicate POST network /security-group-rules "$RULE"; expect 409
call port-create POST network /ports "{\"port\":{\"name\":\"smoke-port\",\"network_id\":\"$NET\",\"fixed_ips\":[{\"subnet_id\":\"$SUBNET\"}],\"security_groups\":[\"$SG\"]}}"; expect 201
PORT=$(j .port.id)
call network-delete-in-use DELETE network "/networks/$NET"; expect 409

call security-group-list-default GET network "/security-groups?name=default"; expect 200
call subnet-get GET network "/subnets/$SUBNET"; expect 200
call network-get GET network "/networks/$NET"; expect 200

log "server"
call image-list GET image "/images"; expect 200
call "" GET image "/images?name=ubuntu-24.04"; IMAGE=$(j '.images[0].id')
call "" GET compute "/flavors?minDisk=0"; FLAVOR=$(j '.flavors[] | select(.name=="m1.small") | .id')
call flavor-list GET compute "/flavors/detail"; expect 200
call image-get-missing GET image /images/00000000-0000-4000-8000-000000000000; expect 404
call server-get-missing GET compute /servers/00000000-0000-4000-8000-000000000000; expect 404
MV=2.53
call server-create POST compute /servers "{\"server\":{\"name\":\"smoke-server\",\"imageRef\":\"$IMAGE\",\"flavorRef\":\"$FLAVOR\",\"networks\":[{\"port\":\"$PORT\"}],\"metadata\":{\"openstrap-cluster\":\"smoke\"}}}"; expect 202
SERVER=$(j .server.id)
T_BOOT=$SECONDS
wait_field compute "/servers/$SERVER" .server.status ACTIVE 180
log "server ACTIVE after $((SECONDS - T_BOOT))s"
call server-get-active GET compute "/servers/$SERVER"; expect 200
call port-get-bound GET network "/ports/$PORT"; expect 200
MV=2.26
call server-add-tag PUT compute "/servers/$SERVER/tags/smoke-tag"; expect 201 204
call server-list-tags GET compute "/servers?tags=smoke-tag"; expect 200
MV=""
call server-create-on-network POST compute /servers "{\"server\":{\"name\":\"smoke-server-2\",\"imageRef\":\"$IMAGE\",\"flavorRef\":\"$FLAVOR\",\"networks\":[{\"uuid\":\"$NET\"}]}}"; expect 202
SERVER2=$(j .server.id)
wait_field compute "/servers/$SERVER2" .server.status ACTIVE 180
call server-list-detail GET compute "/servers/detail"; expect 200
call port-list-by-device GET network "/ports?device_id=$SERVER2"; expect 200
PORT2=$(j '.ports[0].id')
call server-delete-2 DELETE compute "/servers/$SERVER2"; expect 204
wait_gone compute "/servers/$SERVER2" 120
wait_gone network "/ports/$PORT2" 60
call server-create-bad-flavor POST compute /servers "{\"server\":{\"name\":\"smoke-bad\",\"imageRef\":\"$IMAGE\",\"flavorRef\":\"nonexistent\",\"networks\":[{\"port\":\"$PORT\"}]}}"; expect 400
call server-create-port-in-use POST compute /servers "{\"server\":{\"name\":\"smoke-bad\",\"imageRef\":\"$IMAGE\",\"flavorRef\":\"$FLAVOR\",\"networks\":[{\"port\":\"$PORT\"}]}}"; expect 409

log "keypair, server group, availability zones, trunk"
ssh-keygen -q -t ed25519 -N '' -C smoke -f "$TMP/key" >/dev/null
PUB=$(cat "$TMP/key.pub")
call keypair-create POST compute /os-keypairs "{\"keypair\":{\"name\":\"smoke-key\",\"public_key\":\"$PUB\"}}"; expect 200 201
call keypair-create-duplicate POST compute /os-keypairs "{\"keypair\":{\"name\":\"smoke-key\",\"public_key\":\"$PUB\"}}"; expect 409
call keypair-delete DELETE compute /os-keypairs/smoke-key; expect 202 204
call servergroup-create POST compute /os-server-groups '{"server_group":{"name":"smoke-group","policies":["anti-affinity"]}}'; expect 200
SGRP=$(j .server_group.id)
MV=2.64
call servergroup-create-2.64 POST compute /os-server-groups '{"server_group":{"name":"smoke-group-2","policy":"soft-anti-affinity"}}'; expect 200
SGRP2=$(j .server_group.id)
MV=""
call "" DELETE compute "/os-server-groups/$SGRP"; expect 204
call "" DELETE compute "/os-server-groups/$SGRP2"; expect 204
call availability-zones GET compute /os-availability-zone; expect 200
call flavor-get-missing GET compute /flavors/nonexistent; expect 404
call network-extensions GET network /extensions; expect 200
call "" POST network /ports "{\"port\":{\"name\":\"smoke-subport\",\"network_id\":\"$NET\"}}"; expect 201
SUBPORT=$(j .port.id)
call "" POST network /ports "{\"port\":{\"name\":\"smoke-parent\",\"network_id\":\"$NET\",\"allowed_address_pairs\":[{\"ip_address\":\"10.6.0.250\"}]}}"; expect 201
PARENT=$(j .port.id)
call trunk-create POST network /trunks "{\"trunk\":{\"name\":\"smoke-trunk\",\"port_id\":\"$PARENT\",\"sub_ports\":[{\"port_id\":\"$SUBPORT\",\"segmentation_type\":\"vlan\",\"segmentation_id\":100}]}}"; expect 201
TRUNK=$(j .trunk.id)
call port-delete-trunk-parent DELETE network "/ports/$PARENT"; expect 409
call "" PUT network "/trunks/$TRUNK/remove_subports" "{\"sub_ports\":[{\"port_id\":\"$SUBPORT\"}]}"; expect 200
call "" DELETE network "/trunks/$TRUNK"; expect 204
call "" DELETE network "/ports/$PARENT"; expect 204
call "" DELETE network "/ports/$SUBPORT"; expect 204

log "floating IP"
call floatingip-create POST network /floatingips "{\"floatingip\":{\"floating_network_id\":\"$PUBLIC\",\"port_id\":\"$PORT\",\"description\":\"smoke\"}}"; expect 201
FIP=$(j .floatingip.id)
call floatingip-get GET network "/floatingips/$FIP"; expect 200
call "" POST network /networks '{"network":{"name":"smoke-net-norouter"}}'; expect 201
NET3=$(j .network.id)
call "" POST network /subnets "{\"subnet\":{\"network_id\":\"$NET3\",\"ip_version\":4,\"cidr\":\"10.7.0.0/24\"}}"; expect 201
call "" POST network /ports "{\"port\":{\"network_id\":\"$NET3\"}}"; expect 201
PORT3=$(j .port.id)
call floatingip-create-no-router POST network /floatingips "{\"floatingip\":{\"floating_network_id\":\"$PUBLIC\",\"port_id\":\"$PORT3\"}}"; expect 404 400

log "quotas"
call quota-network-details GET network "/quotas/$DEMO/details"; expect 200
call quota-compute-detail GET compute "/os-quota-sets/$DEMO/detail"; expect 200
call quota-compute-limits GET compute "/limits"; expect 200
call quota-loadbalancer GET load-balancer "/lbaas/quotas/$DEMO"; expect 200
TOK=$ADMIN_TOK
call "" PUT network "/quotas/$DEMO" '{"quota":{"network":3}}'; expect 200
call "" PUT compute "/os-quota-sets/$DEMO" '{"quota_set":{"instances":1}}'; expect 200
TOK=$MEMBER_TOK
call network-create-over-quota POST network /networks '{"network":{"name":"smoke-over"}}'; expect 409
call server-create-over-quota POST compute /servers "{\"server\":{\"name\":\"smoke-over\",\"imageRef\":\"$IMAGE\",\"flavorRef\":\"$FLAVOR\",\"networks\":[{\"uuid\":\"$NET3\"}]}}"; expect 403
TOK=$ADMIN_TOK
call "" PUT network "/quotas/$DEMO" '{"quota":{"network":200}}'; expect 200
call "" DELETE compute "/os-quota-sets/$DEMO"; expect 202 204
TOK=$MEMBER_TOK

log "load balancer"
call loadbalancer-get-missing GET load-balancer /lbaas/loadbalancers/00000000-0000-4000-8000-000000000000; expect 404
call loadbalancer-create POST load-balancer /lbaas/loadbalancers "{\"loadbalancer\":{\"name\":\"smoke-lb\",\"vip_subnet_id\":\"$SUBNET\",\"tags\":[\"smoke\"]}}"; expect 201
LB=$(j .loadbalancer.id)
T_LB=$SECONDS
call listener-create-while-pending POST load-balancer /lbaas/listeners "{\"listener\":{\"name\":\"smoke-listener\",\"loadbalancer_id\":\"$LB\",\"protocol\":\"TCP\",\"protocol_port\":6443}}"
[ "$STATUS" = 409 ] || log "note: listener create while pending answered $STATUS (LB went ACTIVE first?)"
wait_field load-balancer "/lbaas/loadbalancers/$LB" .loadbalancer.provisioning_status ACTIVE 180
log "load balancer ACTIVE after $((SECONDS - T_LB))s"
call loadbalancer-get-active GET load-balancer "/lbaas/loadbalancers/$LB"; expect 200
VIP_PORT=$(j .loadbalancer.vip_port_id)
# The VIP is a real Neutron port (internal/realstack/octavia), owned by Octavia.
call loadbalancer-vip-port-get GET network "/ports/$VIP_PORT"; expect 200
[ "$(j .port.device_owner)" = Octavia ] || die "VIP port owner is $(j .port.device_owner), want Octavia"
call floatingip-create-on-vip-port POST network /floatingips "{\"floatingip\":{\"floating_network_id\":\"$PUBLIC\",\"port_id\":\"$VIP_PORT\"}}"; expect 201
VIPFIP=$(j .floatingip.id); call "" DELETE network "/floatingips/$VIPFIP"; expect 204
call listener-create POST load-balancer /lbaas/listeners "{\"listener\":{\"name\":\"smoke-listener\",\"loadbalancer_id\":\"$LB\",\"protocol\":\"TCP\",\"protocol_port\":6443}}"; expect 201
LISTENER=$(j .listener.id)
call loadbalancer-get-pending-update GET load-balancer "/lbaas/loadbalancers/$LB"; expect 200
wait_field load-balancer "/lbaas/loadbalancers/$LB" .loadbalancer.provisioning_status ACTIVE 120
call pool-create POST load-balancer /lbaas/pools "{\"pool\":{\"name\":\"smoke-pool\",\"listener_id\":\"$LISTENER\",\"protocol\":\"TCP\",\"lb_algorithm\":\"ROUND_ROBIN\"}}"; expect 201
POOL=$(j .pool.id)
wait_field load-balancer "/lbaas/loadbalancers/$LB" .loadbalancer.provisioning_status ACTIVE 120
call "" GET compute "/servers/$SERVER"; ADDR=$(j '.server.addresses["smoke-net"][0].addr')
call member-create POST load-balancer "/lbaas/pools/$POOL/members" "{\"member\":{\"name\":\"smoke-member\",\"address\":\"$ADDR\",\"protocol_port\":6443,\"subnet_id\":\"$SUBNET\"}}"; expect 201
wait_field load-balancer "/lbaas/loadbalancers/$LB" .loadbalancer.provisioning_status ACTIVE 120
call member-list GET load-balancer "/lbaas/pools/$POOL/members"; expect 200
call loadbalancer-status-tree GET load-balancer "/lbaas/loadbalancers/$LB/status"; expect 200
call loadbalancer-list-tags GET load-balancer "/lbaas/loadbalancers?tags=smoke"; expect 200
call loadbalancer-delete-with-children DELETE load-balancer "/lbaas/loadbalancers/$LB"; expect 400 409
call loadbalancer-delete-cascade DELETE load-balancer "/lbaas/loadbalancers/$LB?cascade=true"; expect 204
call loadbalancer-get-pending-delete GET load-balancer "/lbaas/loadbalancers/$LB"
wait_gone load-balancer "/lbaas/loadbalancers/$LB" 120
call loadbalancer-get-deleted GET load-balancer "/lbaas/loadbalancers/$LB"; expect 404
call loadbalancer-vip-port-get-deleted GET network "/ports/$VIP_PORT"; expect 404
# How Octavia allocates the VIP for each way to ask for one.
call loadbalancer-create-vip-address POST load-balancer /lbaas/loadbalancers "{\"loadbalancer\":{\"name\":\"smoke-lb-addr\",\"vip_subnet_id\":\"$SUBNET\",\"vip_address\":\"10.6.0.50\"}}"; expect 201
LB2=$(j .loadbalancer.id)
call loadbalancer-create-vip-network POST load-balancer /lbaas/loadbalancers "{\"loadbalancer\":{\"name\":\"smoke-lb-net\",\"vip_network_id\":\"$NET\"}}"; expect 201
LB3=$(j .loadbalancer.id)
call loadbalancer-create-vip-port-in-use POST load-balancer /lbaas/loadbalancers "{\"loadbalancer\":{\"name\":\"smoke-lb-port\",\"vip_port_id\":\"$PORT\"}}"; expect 400
call "" POST network /ports "{\"port\":{\"network_id\":\"$NET\",\"name\":\"smoke-vip\"}}"; expect 201
VPORT=$(j .port.id)
call loadbalancer-create-vip-port POST load-balancer /lbaas/loadbalancers "{\"loadbalancer\":{\"name\":\"smoke-lb-port\",\"vip_port_id\":\"$VPORT\"}}"; expect 201
LB4=$(j .loadbalancer.id)
# A fully populated create: the children stay PENDING_CREATE on this Octavia
# (see README: Observed behaviours).
call loadbalancer-create-fully-populated POST load-balancer /lbaas/loadbalancers "{\"loadbalancer\":{\"name\":\"smoke-lb-full\",\"vip_subnet_id\":\"$SUBNET\",\"listeners\":[{\"name\":\"smoke-full\",\"protocol\":\"TCP\",\"protocol_port\":6443,\"default_pool\":{\"name\":\"smoke-full\",\"protocol\":\"TCP\",\"lb_algorithm\":\"ROUND_ROBIN\",\"healthmonitor\":{\"type\":\"TCP\",\"delay\":5,\"timeout\":3,\"max_retries\":3},\"members\":[{\"address\":\"10.6.0.60\",\"protocol_port\":6443}]}}]}}"; expect 201
LB5=$(j .loadbalancer.id)
for lb in "$LB2" "$LB3" "$LB4" "$LB5"; do
  wait_field load-balancer "/lbaas/loadbalancers/$lb" .loadbalancer.provisioning_status ACTIVE 120
done
call loadbalancer-status-tree-fully-populated GET load-balancer "/lbaas/loadbalancers/$LB5/status"; expect 200
call "" DELETE load-balancer "/lbaas/loadbalancers/$LB2"; expect 204
call "" DELETE load-balancer "/lbaas/loadbalancers/$LB3"; expect 204
call "" DELETE load-balancer "/lbaas/loadbalancers/$LB4"; expect 204
call "" DELETE load-balancer "/lbaas/loadbalancers/$LB5?cascade=true"; expect 204
for lb in "$LB2" "$LB3" "$LB4" "$LB5"; do wait_gone load-balancer "/lbaas/loadbalancers/$lb" 120; done
# The user's port outlives its load balancer.
call loadbalancer-vip-port-user-after-delete GET network "/ports/$VPORT"; expect 200
call "" DELETE network "/ports/$VPORT"; expect 204

log "cleanup"
call floatingip-delete DELETE network "/floatingips/$FIP"; expect 204
call server-delete DELETE compute "/servers/$SERVER"; expect 204
wait_gone compute "/servers/$SERVER" 120
call server-get-deleted GET compute "/servers/$SERVER"; expect 404
call port-get-after-server-delete GET network "/ports/$PORT"; expect 200 404
[ "$STATUS" = 200 ] && { call "" DELETE network "/ports/$PORT"; expect 204; }
call subnet-delete-in-use DELETE network "/subnets/$SUBNET"; expect 409
call router-delete-in-use DELETE network "/routers/$ROUTER"; expect 409
call router-remove-interface PUT network "/routers/$ROUTER/remove_router_interface" "{\"subnet_id\":\"$SUBNET\"}"; expect 200
call router-delete DELETE network "/routers/$ROUTER"; expect 204
call "" DELETE network "/ports/$PORT3"; expect 204
call "" DELETE network "/networks/$NET3"; expect 204
call "" DELETE network "/networks/$NET2"; expect 204
call network-delete DELETE network "/networks/$NET"; expect 204
call security-group-delete DELETE network "/security-groups/$SG"; expect 204
call network-delete-missing DELETE network "/networks/$NET"; expect 404
log "PASS in $((SECONDS - T0))s; bodies in $OUT"
