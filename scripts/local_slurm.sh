#!/usr/bin/env bash
# A real single-node Slurm on this machine, for regbench's Slurm tests and for trying `--launcher slurm`:
# one node (this host, all its CPUs) in one default partition named `debug`.
#
#   scripts/local_slurm.sh          start it (installs Debian's packages first when run as root and missing);
#                                   does nothing if it is already up
#   scripts/local_slurm.sh stop     stop the daemons it started
#   scripts/local_slurm.sh status   sinfo
#
# Everything it writes lives in /etc/slurm/slurm.conf (only if absent or written by this script), /var/spool/
# slurm{ctld,d} and /var/log/slurm; the daemons run as root. Not for a shared machine: it is a test cluster.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by regbench scripts/local_slurm.sh"
LOGS=/var/log/slurm
HOST=$(hostname -s)

say() { echo "local_slurm: $*" >&2; }

up() { timeout 10 sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; }

# stop a daemon and wait until it is gone (slurmctld saves its state first): a check right after pkill still sees it
halt() {
  pkill -x "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do pgrep -x "$1" >/dev/null || return 0; sleep 0.2; done
  pkill -9 -x "$1" 2>/dev/null || true
}

stop() {
  halt slurmd; halt slurmctld; halt munged
  say "stopped slurmd, slurmctld and munged"
}

case "${1:-start}" in
  stop) stop; exit 0 ;;
  status) exec sinfo ;;
  start) ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

desired_conf() {
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  cat <<EOF
$MARK
ClusterName=regbench
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
# look at pending (and requeued) jobs every 2 s, not every 60/30 s: tests wait on the scheduler
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
# fast turnaround for tests: a cancelled job is killed 5 s after its SIGTERM; finished jobs stay listed 10 min
KillWait=5
# a requeued job waits this long (the step credential's lifetime, default 120 s) before it can start again
AuthInfo=cred_expire=5
MinJobAge=600
JobRequeue=1
NodeName=$HOST CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
}

current() { [ -e "$CONF" ] && { ! grep -qF "$MARK" "$CONF" || cmp -s <(desired_conf) "$CONF"; }; }

if command -v sinfo >/dev/null && up && current; then
  say "already up: $(sinfo -h -o '%P %D node(s) %t' | head -1)"
  exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
    || ! command -v sbatch >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    say "Slurm is not installed and this is not root: install slurmctld slurmd munge slurm-client (Debian), or run as root"
    exit 1
  fi
  say "installing slurmctld slurmd munge slurm-client (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends slurmctld slurmd munge slurm-client >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends slurmctld slurmd munge slurm-client >/dev/null; }
fi
if [ "$(id -u)" != 0 ]; then
  say "starting the daemons needs root"
  exit 1
fi

# munge: the key the packages made, or one made here
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key 2>/dev/null || true
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged </dev/null >/dev/null 2>&1 || /usr/sbin/munged --force </dev/null >/dev/null 2>&1
fi

if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
  say "$CONF exists and was not written by this script: using it as it is"
elif ! cmp -s <(desired_conf) "$CONF"; then
  mkdir -p "$(dirname "$CONF")"
  desired_conf > "$CONF"
  # a running Slurm must read the new file: restart it
  halt slurmd; halt slurmctld
fi
mkdir -p /var/spool/slurmctld /var/spool/slurmd "$LOGS"

# stdio away from the caller: a daemon holding a CI step's pipe would keep that step from ending
pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld </dev/null >/dev/null 2>&1
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd </dev/null >/dev/null 2>&1

for _ in $(seq 60); do
  if up; then
    timeout 10 scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
    say "up: partition debug, node $HOST ($(nproc) CPUs). Stop it with: $0 stop"
    exit 0
  fi
  # a node left down by an earlier run comes back
  timeout 10 scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
  sleep 1
done
say "Slurm did not come up in 60 s; see $LOGS/slurmctld.log and $LOGS/slurmd.log"
exit 1
