#!/usr/bin/env bash
# Proof that the tests leave a Redis they did not start untouched (issue 16):
#   .ci/redis_sentinels.sh put HOST PORT     one key in each of dbs 0-3 (make run's cache and broker, the bench's two)
#   .ci/redis_sentinels.sh check HOST PORT   exit 1 unless every one of them is still there with its value
set -euo pipefail
action="${1:?put or check}" host="${2:?host}" port="${3:?port}"
key="recipe_planner:ci:sentinel"
missing=0
for db in 0 1 2 3; do
  expected="sentinel of db ${db}"
  case "$action" in
    put)
      redis-cli -h "$host" -p "$port" -n "$db" SET "$key" "$expected" >/dev/null
      echo "db ${db}: ${key} = ${expected}" ;;
    check)
      found="$(redis-cli -h "$host" -p "$port" -n "$db" GET "$key")"
      if [ "$found" = "$expected" ]; then
        echo "db ${db}: ${key} still there"
      else
        echo "db ${db}: ${key} is GONE (found '${found}'): the tests touched a Redis they did not start"
        missing=1
      fi ;;
    *) echo "usage: $0 put|check HOST PORT" >&2; exit 2 ;;
  esac
done
exit "$missing"
