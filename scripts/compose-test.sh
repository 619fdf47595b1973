#!/usr/bin/env bash
# Runs every Compose flow of the README on a throwaway stack, with no
# person at the keyboard. It builds the image, starts the backend and the
# bots, and chats through `docker compose run -T client` with piped input.
# Then it checks the dump on each server and the cluster status, watches
# an election when server-3 stops and when it returns, and checks that
# `down` keeps the data and `down -v` deletes it.
#
# The stack has its own project name, container names and image tag, so it
# never touches another stack; everything it made is removed on exit. It
# exits 0 with "skipped" when no Docker engine answers, and non-zero with
# the failed check otherwise.
#
# Usage: scripts/compose-test.sh
# Environment: COMPOSE_TEST_TIMEOUT, seconds each wait may take (default
# 120), and whatever scripts/build-image.sh reads.
set -euo pipefail

cd "$(dirname "$0")/.."

log() { echo "compose-test: $*"; }

if ! docker info >/dev/null 2>&1; then
  log "skipped: no Docker engine (docker info failed)"
  exit 0
fi
if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose_cmd=(docker-compose)
else
  log "skipped: no Docker Compose ('docker compose' and 'docker-compose' not found)"
  exit 0
fi

project="msgsys-test-$$"
export MSGSYS_IMAGE="msgsys-test:$$"
export MSGSYS_CONTAINER_PREFIX="$project"
timeout_s="${COMPOSE_TEST_TIMEOUT:-120}"
backend=(reference broker server-1 server-2 server-3)
bots=(auto-client-1 auto-client-2)
user=ana
channel=testes
post="ola do compose-test $$"
failed=""

compose() { "${compose_cmd[@]}" -p "$project" -f compose.yaml "$@"; }

fail() {
  failed="$*"
  echo "compose-test: FAIL: $*" >&2
  exit 1
}

cleanup() {
  local status=$?
  set +e
  if [[ $status -ne 0 ]]; then
    echo "compose-test: last log lines of every service:" >&2
    compose logs --no-color --tail=40 >&2
    echo "compose-test: state and last healthcheck output of every container:" >&2
    docker ps -a -q --filter "label=com.docker.compose.project=$project" \
      | xargs -r docker inspect -f \
        '{{.Name}}: {{.State.Status}}{{with .State.Health}}, {{.Status}}{{$last := ""}}{{range .Log}}{{$last = .Output}}{{end}}: {{$last}}{{end}}' >&2
  fi
  compose --profile client --profile tools down -v --remove-orphans >/dev/null 2>&1 \
    || compose down -v --remove-orphans >/dev/null 2>&1
  docker image rm "$MSGSYS_IMAGE" >/dev/null 2>&1
  if [[ $status -ne 0 ]]; then
    echo "compose-test: failed: ${failed:-a command exited with status $status}" >&2
  fi
}
trap cleanup EXIT

# wait_for DESCRIPTION COMMAND...: runs COMMAND every second until it
# succeeds or timeout_s passes.
wait_for() {
  local what=$1
  shift
  local deadline=$((SECONDS + timeout_s))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      fail "timed out after ${timeout_s}s waiting for $what"
    fi
    sleep 1
  done
}

container() { echo "$MSGSYS_CONTAINER_PREFIX-$1"; }

healthy() {
  local service
  for service in "$@"; do
    [[ $(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$(container "$service")" 2>/dev/null) == healthy ]] || return 1
  done
}

# status_json prints `msgsys status --json` as run in the broker container.
status_json() { compose exec -T broker msgsys status --json 2>/dev/null; }

# coordinator_seen_by NAME COUNT: at least COUNT servers report NAME as
# their coordinator.
coordinator_seen_by() {
  local seen
  seen=$(status_json | grep -c "\"coordinator\": \"$1\"") || true
  [[ ${seen:-0} -ge $2 ]]
}

dump_has_all() {
  local out
  out=$(docker exec "$(container "$1")" msgsys dump 2>&1) || return 1
  grep -q "\"$user\"" <<<"$out" && grep -q "\"$channel\"" <<<"$out" && grep -q "$post" <<<"$out"
}

project_volumes() { docker volume ls -q --filter "label=com.docker.compose.project=$project"; }

# --- The image ---------------------------------------------------------
log "building image $MSGSYS_IMAGE"
scripts/build-image.sh || fail "scripts/build-image.sh failed"
size=$(docker image inspect -f '{{.Size}}' "$MSGSYS_IMAGE")
((size < 20 * 1024 * 1024)) || fail "image is $size bytes, want under 20 MiB"
[[ $(docker image inspect -f '{{.Config.User}}' "$MSGSYS_IMAGE") == 10001:10001 ]] \
  || fail "image user is not 10001:10001"
image_env=$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$MSGSYS_IMAGE")
grep -qx 'MSGSYS_DATA=/data' <<<"$image_env" || fail "image does not set MSGSYS_DATA=/data"
log "image: $size bytes, user 10001:10001, MSGSYS_DATA=/data"

# --- Flow 1: start the backend, then the client ------------------------
log "starting the backend and the bots"
up_at=$SECONDS
compose up -d "${backend[@]}" "${bots[@]}" || fail "docker compose up -d failed (state of each container below)"
wait_for "every service to be healthy" healthy "${backend[@]}" "${bots[@]}"
log "all services healthy, $((SECONDS - up_at)) s after 'up -d' began"

log "chatting through 'docker compose run --rm -T client'"
# Menu before login: 1 logs in. After login: 3 creates a channel, 5 posts,
# 0 quits. Each value the menu prompts for is on its own line.
client_out=$(printf '1\n%s\n3\n%s\n5\n%s\n%s\n0\n' "$user" "$channel" "$channel" "$post" \
  | timeout "$timeout_s" "${compose_cmd[@]}" -p "$project" -f compose.yaml run --rm -T client 2>&1) \
  || fail "the client exited with an error; its output:
$client_out"
grep -q "#$channel" <<<"$client_out" || fail "the client did not confirm channel #$channel; its output:
$client_out"

# --- Flow 2: the bots' logs --------------------------------------------
log "reading 'docker compose logs -f' of the bots"
bot_logs=$(timeout 5 "${compose_cmd[@]}" -p "$project" -f compose.yaml logs -f --no-color "${bots[@]}" 2>&1) || true
for bot in bot_1 bot_2; do
  grep -q "msg=\"bot login\".*user=$bot" <<<"$bot_logs" || fail "the bots' logs show no login of $bot"
  grep -q "msg=\"bot post\".*user=$bot" <<<"$bot_logs" || fail "the bots' logs show no post of $bot"
done

# --- Flow 3: replication, seen in each server's dump -------------------
for server in server-1 server-2 server-3; do
  log "checking 'docker exec $(container "$server") msgsys dump'"
  wait_for "$server's dump to list user $user, channel $channel and the post" dump_has_all "$server"
done

# --- Flow 5: cluster status --------------------------------------------
log "checking 'docker compose exec broker msgsys status'"
status_table=$(compose exec -T broker msgsys status 2>&1) || fail "msgsys status failed: $status_table"
for server in server-1 server-2 server-3; do
  grep -q "$server" <<<"$status_table" || fail "the status table has no $server:
$status_table"
done
compose --profile tools run --rm -T status >/dev/null 2>&1 || fail "'docker compose run --rm status' failed"
wait_for "every server to report server-3 as coordinator" coordinator_seen_by server-3 3

# --- Flow 4: an election -----------------------------------------------
log "stopping server-3"
compose stop server-3 || fail "docker compose stop server-3 failed"
stopped_at=$SECONDS
wait_for "server-1 and server-2 to report server-2 as coordinator" coordinator_seen_by server-2 2
server_logs=$(compose logs --no-color server-1 server-2 2>&1)
grep -q 'msg="coordinator elected".* coordinator=server-2' <<<"$server_logs" \
  || fail "server-2's log shows no election that it won"
grep -q 'server-1 .*msg="coordinator changed".* coordinator=server-2' <<<"$server_logs" \
  || fail "server-1's log does not show server-2 as its new coordinator"
log "server-2 is coordinator, $((SECONDS - stopped_at)) s after server-3 stopped"

log "starting server-3"
compose start server-3 || fail "docker compose start server-3 failed"
started_at=$SECONDS
wait_for "server-3 to be healthy" healthy server-3
wait_for "every server to report server-3 as coordinator again" coordinator_seen_by server-3 3
log "server-3 is coordinator again, $((SECONDS - started_at)) s after it started"

# --- Flow 6: down keeps the data, down -v deletes it -------------------
log "checking that 'docker compose down' keeps the data"
compose down || fail "docker compose down failed"
[[ $(project_volumes | wc -l) -eq 4 ]] || fail "after down, want 4 volumes, have: $(project_volumes | tr '\n' ' ')"
compose up -d "${backend[@]}" || fail "docker compose up -d after down failed"
wait_for "the backend to be healthy again" healthy "${backend[@]}"
dump_has_all server-1 || fail "after down and up, server-1's dump lost user $user, channel $channel or the post"

log "checking that 'docker compose down -v' deletes the data"
compose down -v || fail "docker compose down -v failed"
[[ -z $(project_volumes) ]] || fail "after down -v, volumes remain: $(project_volumes | tr '\n' ' ')"

log "passed: image, start, client, bots' logs, dump on 3 servers, status, election, down, down -v"
