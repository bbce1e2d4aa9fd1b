#!/usr/bin/env bash
# Starts PostgreSQL, Redis and NATS (JetStream) on this machine when they are not running,
# with the same commands the machine uses at boot. Safe to run again.
set -uo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 50); do up "$1" && return 0; sleep 0.2; done
  echo "services: $2 did not come up on :$1" >&2
  return 1
}

status=0
if ! up 5432; then
  echo "services: starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || status=1
  wait_port 5432 PostgreSQL || status=1
fi
if ! up 6379; then
  echo "services: starting Redis" >&2
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || status=1
  wait_port 6379 Redis || status=1
fi
if ! up 4222; then
  echo "services: starting NATS with JetStream" >&2
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || status=1
  wait_port 4222 NATS || status=1
fi
exit $status
