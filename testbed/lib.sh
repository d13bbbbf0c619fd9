# Shared settings and helpers for the testbed scripts (sourced, not executed).
# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts

TESTBED_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

STATE_DIR=${MAILROOM_TESTBED_DIR:-/tmp/mailroom-testbed}
TESTBED_HOST=127.0.0.1
TESTBED_DOMAIN=example.test
TESTBED_IMAP_PORT=${TESTBED_IMAP_PORT:-31143}
TESTBED_IMAPS_PORT=${TESTBED_IMAPS_PORT:-31993}
TESTBED_SMTP_PORT=${TESTBED_SMTP_PORT:-31025}
TESTBED_SUBMISSION_PORT=${TESTBED_SUBMISSION_PORT:-31587}
TESTBED_SMTPS_PORT=${TESTBED_SMTPS_PORT:-31465}
TESTBED_DNS_PORT=${TESTBED_DNS_PORT:-31053}   # dnsmasq: SRV records for the domain
TESTBED_OAUTH_PORT=${TESTBED_OAUTH_PORT:-31080} # testbed/oauth-server (HTTP)
# oauth-server defaults (clients can set their own through its control channel):
# access-token lifetime in seconds, and refresh-token rotation provider|always|never.
TESTBED_OAUTH_ACCESS_TTL=${TESTBED_OAUTH_ACCESS_TTL:-3600}
TESTBED_OAUTH_ROTATE=${TESTBED_OAUTH_ROTATE:-provider}
TESTBED_USERS=${TESTBED_USERS:-520}
TESTBED_MAIL_USER=${TESTBED_MAIL_USER:-mailroomtb}

# Layout of the state dir.
DOVECOT_DIR=$STATE_DIR/dovecot
DOVECOT_CONF=$DOVECOT_DIR/dovecot.conf
DOVECOT_RUN=$DOVECOT_DIR/run            # Dovecot base_dir (master.pid, internal sockets)
POSTFIX_CONF_DIR=$STATE_DIR/postfix/etc
POSTFIX_QUEUE=$STATE_DIR/postfix/spool
POSTFIX_DATA=$STATE_DIR/postfix/data
SOCKET_DIR=$STATE_DIR/sockets           # Dovecot LMTP + auth sockets used by Postfix
MAIL_DIR=$STATE_DIR/mail                # user homes: $MAIL_DIR/<domain>/<local>/Maildir
CERT_DIR=$STATE_DIR/certs
LOG_DIR=$STATE_DIR/log

DOVECOT_PIDFILE=$DOVECOT_RUN/master.pid
POSTFIX_PIDFILE=$POSTFIX_QUEUE/pid/master.pid
DNSMASQ_PIDFILE=$STATE_DIR/dnsmasq.pid
OAUTH_PIDFILE=$STATE_DIR/oauth-server.pid
OAUTH_DIR=$STATE_DIR/oauth               # the OAuth server's signing key

log() { echo "testbed: $*" >&2; }
die() { echo "testbed: ERROR: $*" >&2; exit 1; }

# proc_alive PID: the process exists and is not a zombie. (In containers PID 1
# may reap orphans late; a zombie still passes `kill -0`.)
proc_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# pid_alive PIDFILE -> prints the pid and succeeds if that process is alive.
pid_alive() {
    local pid
    [[ -s $1 ]] || return 1
    pid=$(tr -dc '0-9' <"$1")
    [[ -n $pid ]] && proc_alive "$pid" && echo "$pid"
}

dovecot_running() { pid_alive "$DOVECOT_PIDFILE" >/dev/null; }
postfix_running() { pid_alive "$POSTFIX_PIDFILE" >/dev/null; }
dnsmasq_running() { pid_alive "$DNSMASQ_PIDFILE" >/dev/null; }
oauth_running() { pid_alive "$OAUTH_PIDFILE" >/dev/null; }

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/$TESTBED_HOST/$1") 2>/dev/null
}

# greets PORT PREFIX BYE: a plain-text server on PORT sends a greeting line
# starting with PREFIX within 2 s; we then say BYE (keeps the logs quiet).
greets() {
    local port=$1 want=$2 bye=$3 line=""
    {
        exec 3<>"/dev/tcp/$TESTBED_HOST/$port"
        IFS= read -r -t 2 -u 3 line
        printf '%s\r\n' "$bye" >&3
        IFS= read -r -t 2 -u 3 _
        exec 3>&-
    } 2>/dev/null || true
    [[ $line == "$want"* ]]
}

# http_ok PORT PATH: an HTTP server on PORT answers GET PATH with 200 within 2 s.
http_ok() {
    local port=$1 path=$2 line=""
    {
        exec 3<>"/dev/tcp/$TESTBED_HOST/$port"
        printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$TESTBED_HOST" >&3
        IFS= read -r -t 2 -u 3 line
        exec 3>&-
    } 2>/dev/null || true
    [[ $line == "HTTP/1."[01]" 200"* ]]
}

# tls_greets PORT PREFIX BYE: an implicit-TLS server on PORT, verified against
# our CA for the name "localhost", sends a greeting starting with PREFIX.
tls_greets() {
    local port=$1 want=$2 bye=$3 line
    line=$(printf '%s\r\n' "$bye" |
        timeout 5 openssl s_client -connect "$TESTBED_HOST:$port" -servername localhost \
            -verify_hostname localhost -CAfile "$STATE_DIR/ca.pem" -verify_return_error \
            -quiet 2>/dev/null | head -n 1) || true
    [[ $line == "$want"* ]]
}

all_ports() {
    echo "$TESTBED_IMAP_PORT $TESTBED_IMAPS_PORT $TESTBED_SMTP_PORT $TESTBED_SUBMISSION_PORT $TESTBED_SMTPS_PORT $TESTBED_DNS_PORT $TESTBED_OAUTH_PORT"
}

# The env file's content, also printed by start.
env_lines() {
    local k
    for k in TESTBED_DIR TESTBED_CA TESTBED_HOST TESTBED_IMAP_PORT TESTBED_IMAPS_PORT \
             TESTBED_SMTP_PORT TESTBED_SUBMISSION_PORT TESTBED_SMTPS_PORT TESTBED_DNS_PORT TESTBED_OAUTH_PORT TESTBED_OAUTH_URL \
             TESTBED_OAUTH_ACCESS_TTL TESTBED_OAUTH_ROTATE TESTBED_USERS \
             TESTBED_DOMAIN TESTBED_SINK_USER TESTBED_SINK_PASSWORD \
             TESTBED_DOVECOT_CONF TESTBED_POSTFIX_CONF_DIR; do
        case $k in
            TESTBED_DIR) printf '%s=%q\n' "$k" "$STATE_DIR" ;;
            TESTBED_CA) printf '%s=%q\n' "$k" "$STATE_DIR/ca.pem" ;;
            TESTBED_SINK_USER) printf '%s=%q\n' "$k" "sink@$TESTBED_DOMAIN" ;;
            TESTBED_SINK_PASSWORD) printf '%s=%q\n' "$k" "sinkpass" ;;
            TESTBED_OAUTH_URL) printf '%s=%q\n' "$k" "http://$TESTBED_HOST:$TESTBED_OAUTH_PORT" ;;
            TESTBED_DOVECOT_CONF) printf '%s=%q\n' "$k" "$DOVECOT_CONF" ;;
            TESTBED_POSTFIX_CONF_DIR) printf '%s=%q\n' "$k" "$POSTFIX_CONF_DIR" ;;
            *) printf '%s=%q\n' "$k" "${!k}" ;;
        esac
    done
}

# wait_until DEADLINE_SECS DESCRIPTION CMD...: poll CMD every 0.1 s.
wait_until() {
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@"; do
        if ((SECONDS >= deadline)); then
            log "timed out waiting for $what"
            return 1
        fi
        sleep 0.1
    done
}
