#!/usr/bin/env bash
# The integration-test lab: a real Keystone, Gnocchi (keystone auth, with metricd), PostgreSQL, Prometheus scraping
# node_exporter, and an sshd — all from Debian packages, all on 127.0.0.1, all under one lab directory.
#
#   scripts/lab.sh up       install what is missing (apt-get), then start everything; idempotent, prints timings
#   scripts/lab.sh down     stop every service by the pid recorded at start (never by name)
#   scripts/lab.sh env      print `export` lines for the tests:  source <(scripts/lab.sh env)
#   scripts/lab.sh status   show each service's pid and whether it is alive
#   scripts/lab.sh clean    down, then delete the lab directory
#
# Environment: LAB_DIR (default <repo>/.lab, git-ignored), LAB_PORT_BASE (default 15400; services use base+0..5).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
LAB=${LAB_DIR:-$REPO/.lab}
BASE=${LAB_PORT_BASE:-15400}
PG_PORT=$((BASE + 0))
KS_PORT=$((BASE + 1))
GN_PORT=$((BASE + 2))
PROM_PORT=$((BASE + 3))
NODE_PORT=$((BASE + 4))
SSH_PORT=$((BASE + 5))
HOST=127.0.0.1
# The system python and the Debian OpenStack tools, ahead of any pyenv shim on PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
# The PostgreSQL server's tools, of whatever major version the distribution ships (15 on Debian 12); looked up when
# used, since the package may be installed by this very run.
pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# Throwaway credentials of a lab that only listens on loopback.
ADMIN_PASS=lab-admin-pass
GNOCCHI_SVC_PASS=lab-gnocchi-svc-pass
USER_NAME=scaler
USER_PASS=lab-scaler-pass
PROJECT=scaler-lab
APPCRED_SECRET=lab-appcred-secret
TOKEN_LIFETIME=30 # seconds: short, so the client's renewal before expiry is exercised for real
ARCHIVE_POLICY=lab-10s

PACKAGES=(keystone python3-keystonemiddleware python3-gnocchi gnocchi-common python3-psycopg2
  postgresql prometheus prometheus-node-exporter stress-ng openssh-server uwsgi uwsgi-plugin-python3 curl systemd)

t0=$(date +%s)
log() { echo "[lab +$(($(date +%s) - t0))s] $*" >&2; }
die() {
  echo "lab: $*" >&2
  exit 1
}

alive() { # alive NAME → 0 when the recorded pid runs
  local f=$LAB/run/$1.pid
  [ -s "$f" ] && kill -0 "$(head -n1 "$f")" 2>/dev/null
}

wait_for() { # wait_for WHAT SECONDS CMD... → polls CMD every 0.5 s, bounded
  local what=$1 secs=$2
  shift 2
  local i
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$what did not come up within ${secs}s (logs in $LAB/log)"
}

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "packages: all ${#PACKAGES[@]} installed"
    return
  fi
  log "packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Debian's postinst scripts start the packaged services; the lab runs its own copies, so keep those from starting.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d.lab
  local had_policy=0
  [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  if [ $had_policy = 0 ]; then
    install -m 755 /usr/sbin/policy-rc.d.lab /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  rm -f /usr/sbin/policy-rc.d.lab
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [ $had_policy = 0 ]; then
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
  log "packages: done"
}

# ---------------------------------------------------------------- PostgreSQL: a private cluster on its own port
# The cluster lives outside the checkout: the postgres user may not be able to traverse the repo's path (/root/...).
pg_root() {
  if [ ! -s "$LAB/state/pg-root" ]; then
    mktemp -d /var/tmp/os-scaler-lab-pg.XXXXXX >"$LAB/state/pg-root"
  fi
  cat "$LAB/state/pg-root"
}

start_postgres() {
  local root data
  root=$(pg_root)
  data=$root/data
  if [ ! -s "$data/PG_VERSION" ]; then
    chown postgres:postgres "$root"
    chmod 700 "$root"
    install -d -o postgres -g postgres -m 700 "$root/run"
    runuser -u postgres -- "$(pgbin)/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$LAB/log/initdb.log"
  fi
  if ! alive postgres; then
    runuser -u postgres -- "$(pgbin)/pg_ctl" -D "$data" -l "$root/postgres.log" -w -t 60 \
      -o "-p $PG_PORT -k $root/run -c listen_addresses=$HOST" start >/dev/null
    head -n1 "$data/postmaster.pid" >"$LAB/run/postgres.pid"
  fi
  wait_for postgres 30 "$(pgbin)/pg_isready" -h $HOST -p $PG_PORT
  if [ ! -e "$LAB/state/pg-db" ]; then
    psql() { runuser -u postgres -- /usr/bin/psql -h $HOST -p $PG_PORT -U postgres -v ON_ERROR_STOP=1 -q "$@"; }
    psql -c "CREATE ROLE gnocchi LOGIN PASSWORD 'gnocchi';" -c "CREATE DATABASE gnocchi OWNER gnocchi;" \
      -c "CREATE ROLE keystone LOGIN PASSWORD 'keystone';" -c "CREATE DATABASE keystone OWNER keystone;"
    touch "$LAB/state/pg-db"
  fi
  log "postgres: up on $HOST:$PG_PORT (pid $(cat "$LAB/run/postgres.pid"))"
}

# ---------------------------------------------------------------- Keystone under uwsgi
# uwsgi's --http-socket closes each connection after one response without saying so; "Connection: close" tells
# keep-alive clients (keystoneauth in Gnocchi, Node's agent) not to reuse it, instead of failing with a reset.
write_keystone_conf() {
  cat >"$LAB/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $LAB/log/keystone-app.log
[database]
# PostgreSQL rather than SQLite: uwsgi's threads would hit "database is locked" on SQLite.
connection = postgresql://keystone:keystone@$HOST:$PG_PORT/keystone
[token]
provider = fernet
expiration = $TOKEN_LIFETIME
[fernet_tokens]
key_repository = $LAB/keystone/fernet-keys
[fernet_receipts]
key_repository = $LAB/keystone/fernet-keys
[credential]
key_repository = $LAB/keystone/cred-keys
EOF
}

kmanage() { keystone-manage --config-file="$LAB/keystone/keystone.conf" "$@" >>"$LAB/log/keystone-manage.log" 2>&1; }

start_keystone() {
  mkdir -p "$LAB/keystone"
  write_keystone_conf
  if [ ! -e "$LAB/state/keystone-bootstrap" ]; then
    # keystone-manage prints a harmless eventlet traceback on exit; its exit status is what counts.
    kmanage db_sync
    kmanage fernet_setup --keystone-user root --keystone-group root
    kmanage credential_setup --keystone-user root --keystone-group root
    kmanage bootstrap --bootstrap-password "$ADMIN_PASS" --bootstrap-region-id RegionOne \
      --bootstrap-admin-url "http://$HOST:$KS_PORT/v3/" --bootstrap-internal-url "http://$HOST:$KS_PORT/v3/" \
      --bootstrap-public-url "http://$HOST:$KS_PORT/v3/"
    touch "$LAB/state/keystone-bootstrap"
  fi
  if ! alive keystone; then
    uwsgi --plugin python3 --http-socket "$HOST:$KS_PORT" --wsgi-file /usr/bin/keystone-wsgi-public \
      --env "OS_KEYSTONE_CONFIG_FILES=$LAB/keystone/keystone.conf" --master --processes 1 --threads 4 --add-header "Connection: close" \
      --pidfile "$LAB/run/keystone.pid" --daemonize "$LAB/log/keystone.log" --die-on-term
  fi
  wait_for keystone 60 curl -sf "http://$HOST:$KS_PORT/v3/"
  log "keystone: up on http://$HOST:$KS_PORT/v3 (pid $(cat "$LAB/run/keystone.pid"), token lifetime ${TOKEN_LIFETIME}s)"
}

# Identity set-up talks to Keystone's API with curl: faster and steadier than one openstack CLI process per step.
ks_token() { # ks_token USER PASSWORD PROJECT → a project-scoped token
  curl -sf -D - -o /dev/null -H 'Content-Type: application/json' "http://$HOST:$KS_PORT/v3/auth/tokens" -d "{\"auth\":{
    \"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$1\",\"domain\":{\"id\":\"default\"},
    \"password\":\"$2\"}}},\"scope\":{\"project\":{\"name\":\"$3\",\"domain\":{\"id\":\"default\"}}}}}" |
    tr -d '\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p'
}
ks() { # ks METHOD PATH [JSON] → response body; the admin token is fetched fresh (lab tokens live 30 s)
  local token
  token=$(ks_token admin "$ADMIN_PASS" admin)
  curl -sf -X "$1" "http://$HOST:$KS_PORT/v3$2" -H "X-Auth-Token: $token" -H 'Content-Type: application/json' \
    ${3:+-d "$3"}
}
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
ks_ensure() { # ks_ensure COLLECTION NAME JSON → id of the named entity, created when absent
  local id
  id=$(ks GET "/$1?name=$2" | json "(d['$1'] or [{}])[0].get('id', '')")
  [ -n "$id" ] || id=$(ks POST "/$1" "$3" | json "list(d.values())[0]['id']")
  echo "$id"
}

setup_identity() {
  if [ -e "$LAB/state/identity" ]; then return; fi
  local service_pid project_id gnocchi_uid user_uid admin_rid member_rid svc_id iface token id
  service_pid=$(ks_ensure projects service '{"project":{"name":"service","domain_id":"default"}}')
  project_id=$(ks_ensure projects "$PROJECT" "{\"project\":{\"name\":\"$PROJECT\",\"domain_id\":\"default\"}}")
  gnocchi_uid=$(ks_ensure users gnocchi \
    "{\"user\":{\"name\":\"gnocchi\",\"domain_id\":\"default\",\"password\":\"$GNOCCHI_SVC_PASS\"}}")
  user_uid=$(ks_ensure users "$USER_NAME" \
    "{\"user\":{\"name\":\"$USER_NAME\",\"domain_id\":\"default\",\"password\":\"$USER_PASS\"}}")
  admin_rid=$(ks GET "/roles?name=admin" | json "d['roles'][0]['id']")
  member_rid=$(ks GET "/roles?name=member" | json "d['roles'][0]['id']")
  ks PUT "/projects/$service_pid/users/$gnocchi_uid/roles/$admin_rid" >/dev/null
  ks PUT "/projects/$project_id/users/$user_uid/roles/$member_rid" >/dev/null
  svc_id=$(ks GET "/services?type=metric" | json "(d['services'] or [{}])[0].get('id', '')")
  if [ -z "$svc_id" ]; then
    svc_id=$(ks POST /services '{"service":{"type":"metric","name":"gnocchi","description":"Gnocchi (lab)"}}' |
      json "d['service']['id']")
    for iface in public internal admin; do
      ks POST /endpoints "{\"endpoint\":{\"service_id\":\"$svc_id\",\"interface\":\"$iface\",
        \"region_id\":\"RegionOne\",\"url\":\"http://$HOST:$GN_PORT\"}}" >/dev/null
    done
  fi
  # An application credential of the test user, for the v3applicationcredential tests.
  token=$(ks_token "$USER_NAME" "$USER_PASS" "$PROJECT")
  id=$(curl -sf -X POST "http://$HOST:$KS_PORT/v3/users/$user_uid/application_credentials" -H "X-Auth-Token: $token" \
    -H 'Content-Type: application/json' \
    -d "{\"application_credential\":{\"name\":\"scaler-lab-$(date +%s)\",\"secret\":\"$APPCRED_SECRET\"}}" |
    json "d['application_credential']['id']")
  echo "$id" >"$LAB/state/appcred-id"
  touch "$LAB/state/identity"
  log "keystone: users, projects, metric endpoint and application credential created"
}

# ---------------------------------------------------------------- Gnocchi (keystone auth) + metricd
start_gnocchi() {
  mkdir -p "$LAB/gnocchi/data"
  cat >"$LAB/gnocchi/gnocchi.conf" <<EOF
[DEFAULT]
log_file = $LAB/log/gnocchi-app.log
[api]
auth_mode = keystone
paste_config = $LAB/gnocchi/api-paste.ini
[indexer]
url = postgresql://gnocchi:gnocchi@$HOST:$PG_PORT/gnocchi
[storage]
driver = file
file_basepath = $LAB/gnocchi/data
[incoming]
driver = file
file_basepath = $LAB/gnocchi/data
[metricd]
metric_processing_delay = 2
workers = 1
[keystone_authtoken]
www_authenticate_uri = http://$HOST:$KS_PORT/v3
auth_url = http://$HOST:$KS_PORT/v3
auth_type = password
username = gnocchi
password = $GNOCCHI_SVC_PASS
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
interface = public
service_token_roles_required = true
# Validate every token with Keystone: a revoked token must be refused at once (the re-auth test depends on it).
token_cache_time = -1
EOF
  # keystonemiddleware reads its [keystone_authtoken] from /etc/gnocchi unless the paste filter names the file.
  sed "s|^oslo_config_project = gnocchi\$|&\noslo_config_file = $LAB/gnocchi/gnocchi.conf|" \
    /usr/lib/python3/dist-packages/gnocchi/rest/api-paste.ini >"$LAB/gnocchi/api-paste.ini"
  if [ ! -e "$LAB/state/gnocchi-upgrade" ]; then
    gnocchi-upgrade --config-file "$LAB/gnocchi/gnocchi.conf" >"$LAB/log/gnocchi-upgrade.log" 2>&1
    touch "$LAB/state/gnocchi-upgrade"
  fi
  if ! alive gnocchi-api; then
    uwsgi --plugin python3 --http-socket "$HOST:$GN_PORT" \
      --wsgi-file /usr/lib/python3/dist-packages/gnocchi/rest/wsgi.py \
      --pyargv "--config-file $LAB/gnocchi/gnocchi.conf" --master --processes 1 --threads 4 --add-header "Connection: close" \
      --pidfile "$LAB/run/gnocchi-api.pid" --daemonize "$LAB/log/gnocchi-api.log" --die-on-term
  fi
  if ! alive gnocchi-metricd; then
    nohup gnocchi-metricd --config-file "$LAB/gnocchi/gnocchi.conf" >"$LAB/log/gnocchi-metricd.log" 2>&1 &
    echo $! >"$LAB/run/gnocchi-metricd.pid"
  fi
  # Any HTTP answer (401 without a token) means the API is serving.
  wait_for gnocchi-api 60 sh -c "curl -s -o /dev/null -w '%{http_code}' http://$HOST:$GN_PORT/v1/ | grep -q '^[24]'"
  if [ ! -e "$LAB/state/gnocchi-setup" ]; then
    local token
    token=$(ks_token admin "$ADMIN_PASS" admin)
    curl -sf -o /dev/null -X POST "http://$HOST:$GN_PORT/v1/archive_policy" -H "X-Auth-Token: $token" \
      -H 'Content-Type: application/json' \
      -d "{\"name\":\"$ARCHIVE_POLICY\",\"back_window\":0,\"aggregation_methods\":[\"mean\",\"rate:mean\",\"max\"],
           \"definition\":[{\"granularity\":\"10s\",\"timespan\":\"1 day\"}]}"
    # The resource type Ceilometer's gnocchi_resources.yaml declares (the attributes the scaler relies on).
    curl -sf -o /dev/null -X POST "http://$HOST:$GN_PORT/v1/resource_type" -H "X-Auth-Token: $token" \
      -H 'Content-Type: application/json' \
      -d '{"name":"instance","attributes":{"server_group":{"type":"string","required":false},
           "display_name":{"type":"string","required":false},"flavor_id":{"type":"string","required":false}}}'
    touch "$LAB/state/gnocchi-setup"
  fi
  log "gnocchi: api on http://$HOST:$GN_PORT (pid $(cat "$LAB/run/gnocchi-api.pid")), metricd pid $(cat "$LAB/run/gnocchi-metricd.pid")"
}

# ---------------------------------------------------------------- node_exporter + Prometheus
start_prometheus() {
  mkdir -p "$LAB/prometheus/data"
  cat >"$LAB/prometheus/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["$HOST:$NODE_PORT"]
        # What openstack_sd_configs relabelling gives a real VM: its Nova id and name as labels.
        labels: { instance_id: lab-vm-0001, instance_name: lab-vm-1 }
EOF
  if ! alive node-exporter; then
    nohup prometheus-node-exporter --web.listen-address="$HOST:$NODE_PORT" --collector.disable-defaults \
      --collector.cpu --collector.loadavg >"$LAB/log/node-exporter.log" 2>&1 &
    echo $! >"$LAB/run/node-exporter.pid"
  fi
  if ! alive prometheus; then
    nohup prometheus --config.file="$LAB/prometheus/prometheus.yml" --storage.tsdb.path="$LAB/prometheus/data" \
      --web.listen-address="$HOST:$PROM_PORT" >"$LAB/log/prometheus.log" 2>&1 &
    echo $! >"$LAB/run/prometheus.pid"
  fi
  wait_for node-exporter 30 curl -sf "http://$HOST:$NODE_PORT/metrics"
  wait_for prometheus 60 curl -sf "http://$HOST:$PROM_PORT/-/ready"
  log "prometheus: http://$HOST:$PROM_PORT (pid $(cat "$LAB/run/prometheus.pid")), node_exporter $HOST:$NODE_PORT"
}

# ---------------------------------------------------------------- sshd with a throwaway host key and user key
start_sshd() {
  local d=$LAB/ssh
  install -d -m 700 "$d"
  [ -e "$d/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C lab-host -f "$d/host_ed25519"
  [ -e "$d/user_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C lab-user -f "$d/user_ed25519"
  cp "$d/user_ed25519.pub" "$d/authorized_keys"
  chmod 600 "$d/authorized_keys"
  echo "[$HOST]:$SSH_PORT $(cut -d' ' -f1,2 "$d/host_ed25519.pub")" >"$d/known_hosts"
  ssh-keygen -l -E sha256 -f "$d/host_ed25519.pub" | awk '{print $2}' >"$d/host_fingerprint"
  cat >"$d/sshd_config" <<EOF
ListenAddress $HOST
Port $SSH_PORT
HostKey $d/host_ed25519
PidFile $LAB/run/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root
UsePAM no
# The lab directory may sit under a world-writable path (/tmp/...), which StrictModes would refuse.
StrictModes no
MaxStartups 30:30:60
EOF
  mkdir -p /run/sshd
  if ! alive sshd; then
    /usr/sbin/sshd -f "$d/sshd_config" -E "$LAB/log/sshd.log"
  fi
  wait_for sshd 15 sh -c "[ -s $LAB/run/sshd.pid ]"
  log "sshd: $HOST:$SSH_PORT (pid $(cat "$LAB/run/sshd.pid")), user root, key $d/user_ed25519"
}

write_clouds_yaml() {
  local appcred
  appcred=$(cat "$LAB/state/appcred-id")
  # clouds.yaml holds no secret; secure.yaml (deep-merged over it, as openstacksdk does) holds them.
  cat >"$LAB/clouds.yaml" <<EOF
clouds:
  lab:
    auth:
      auth_url: http://$HOST:$KS_PORT/v3
      username: $USER_NAME
      project_name: $PROJECT
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
  lab-appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://$HOST:$KS_PORT/v3
      application_credential_id: $appcred
    region_name: RegionOne
  lab-admin:
    auth:
      auth_url: http://$HOST:$KS_PORT/v3
      username: admin
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
EOF
  cat >"$LAB/secure.yaml" <<EOF
clouds:
  lab:
    auth:
      password: $USER_PASS
  lab-appcred:
    auth:
      application_credential_secret: $APPCRED_SECRET
  lab-admin:
    auth:
      password: $ADMIN_PASS
EOF
  chmod 600 "$LAB/secure.yaml"
}

cmd_up() {
  [ "$(id -u)" = 0 ] || die "run as root (it installs packages and runs PostgreSQL as the postgres user)"
  install_packages
  mkdir -p "$LAB/run" "$LAB/log" "$LAB/state"
  chmod 755 "$LAB"
  start_postgres
  start_keystone
  setup_identity
  start_gnocchi
  start_prometheus
  start_sshd
  write_clouds_yaml
  log "lab up in $(($(date +%s) - t0))s — source <(scripts/lab.sh env)"
}

stop_one() { # stop_one NAME SIGNAL
  local name=$1 sig=$2 f=$LAB/run/$1.pid pid i
  [ -s "$f" ] || return 0
  pid=$(head -n1 "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIG$sig; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "$name stopped (pid $pid)"
  fi
  rm -f "$f"
}

cmd_down() {
  [ -d "$LAB/run" ] || {
    log "no lab at $LAB"
    return 0
  }
  stop_one sshd TERM
  stop_one prometheus TERM
  stop_one node-exporter TERM
  stop_one gnocchi-metricd TERM
  # uwsgi's master reloads on SIGTERM unless --die-on-term; SIGINT stops it either way.
  stop_one gnocchi-api INT
  stop_one keystone INT
  if alive postgres; then
    runuser -u postgres -- "$(pgbin)/pg_ctl" -D "$(cat "$LAB/state/pg-root")/data" -m fast -w stop >/dev/null || true
  fi
  stop_one postgres TERM
}

cmd_env() {
  local d=$LAB/ssh
  [ -e "$LAB/clouds.yaml" ] || die "the lab is not set up: run scripts/lab.sh up"
  cat <<EOF
export LAB_DIR=$LAB
export OS_CLIENT_CONFIG_FILE=$LAB/clouds.yaml
export OS_CLIENT_SECURE_FILE=$LAB/secure.yaml
export OS_CLOUD=lab
export LAB_CLOUD=lab LAB_APPCRED_CLOUD=lab-appcred LAB_ADMIN_CLOUD=lab-admin
export LAB_KEYSTONE_URL=http://$HOST:$KS_PORT/v3
export LAB_GNOCCHI_URL=http://$HOST:$GN_PORT
export LAB_GNOCCHI_ARCHIVE_POLICY=$ARCHIVE_POLICY
export LAB_TOKEN_LIFETIME=$TOKEN_LIFETIME
export LAB_PROMETHEUS_URL=http://$HOST:$PROM_PORT
export LAB_PROMETHEUS_INSTANCE_ID=lab-vm-0001
export LAB_NODE_EXPORTER_URL=http://$HOST:$NODE_PORT
export LAB_SSH_HOST=$HOST LAB_SSH_PORT=$SSH_PORT LAB_SSH_USER=root
export LAB_SSH_KEY=$d/user_ed25519
export LAB_SSH_KNOWN_HOSTS=$d/known_hosts
export LAB_SSH_HOST_FINGERPRINT=$(cat "$d/host_fingerprint")
EOF
}

cmd_status() {
  local n
  for n in postgres keystone gnocchi-api gnocchi-metricd node-exporter prometheus sshd; do
    if alive "$n"; then echo "$n: running (pid $(head -n1 "$LAB/run/$n.pid"))"; else echo "$n: stopped"; fi
  done
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  clean)
    cmd_down
    if [ -s "$LAB/state/pg-root" ]; then rm -rf "$(cat "$LAB/state/pg-root")"; fi
    rm -rf "$LAB"
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
