#!/usr/bin/env bash
# A real single-node SLURM (Debian's slurm-wlm + munge) for CI: `cluster.sh start` / `cluster.sh stop`.
#
# Partitions `cpu` and `gpu` match profiles/slurm, so the profile runs unchanged. The node offers one
# fake GPU (a character device), so --gpus=1 jobs get CUDA_VISIBLE_DEVICES=0 and queue one at a time.
# slurm.conf must live at /etc/slurm/slurm.conf (a symlink here): the executor plugin strips SLURM_*
# variables from jobs, so SLURM_CONF alone fails inside them. Without slurmdbd the plugin must poll
# with squeue (--slurm-status-command squeue) and MinJobAge keeps finished jobs visible.
# Every daemon started here is stopped by its process id.
set -euo pipefail
STATE=${GAFKD_SLURM_DIR:-/tmp/gafkd-slurm}

start() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
    fi
    if [ -e /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" != "$STATE/slurm.conf" ]; then
        echo "cluster.sh: /etc/slurm/slurm.conf exists and is not ours; refusing to replace it" >&2
        exit 1
    fi
    stop 2>/dev/null || true
    rm -rf "$STATE"
    mkdir -p "$STATE"/{munge,state,spool,log}
    chown -R munge: "$STATE/munge"
    chmod 755 "$STATE/munge"  # the socket must be reachable by all; the key stays 0400
    dd if=/dev/urandom bs=1 count=1024 of="$STATE/munge/munge.key" status=none
    chown munge: "$STATE/munge/munge.key"
    chmod 400 "$STATE/munge/munge.key"
    runuser -u munge -- munged --key-file="$STATE/munge/munge.key" --socket="$STATE/munge/munge.socket" \
        --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/munge/munged.log" --seed-file="$STATE/munge/seed"
    mknod "$STATE/gpu0" c 1 3  # a character device (like /dev/null) stands in for /dev/nvidia0
    cat >"$STATE/slurm.conf" <<CONF
ClusterName=gafkd-ci
SlurmctldHost=localhost
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
ReturnToService=2
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=localhost CPUs=8 RealMemory=64000 Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
CONF
    cat >"$STATE/gres.conf" <<CONF
AutoDetect=off
NodeName=localhost Name=gpu File=$STATE/gpu0
CONF
    mkdir -p /etc/slurm
    ln -sfn "$STATE/slurm.conf" /etc/slurm/slurm.conf
    ln -sfn "$STATE/gres.conf" /etc/slurm/gres.conf
    slurmctld -i
    slurmd -N localhost
    for _ in $(seq 1 30); do
        if sinfo -h -N -o "%t" 2>/dev/null | grep -qE "^(idle|mix|alloc)"; then
            echo "cluster.sh: SLURM is up ($(sinfo -h -o '%P %D %t %G' | tr '\n' ' '))"
            return 0
        fi
        sleep 1
    done
    echo "cluster.sh: SLURM did not come up; logs in $STATE/log" >&2
    tail -n 20 "$STATE"/log/*.log >&2 || true
    exit 1
}

stop() {
    for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid" "$STATE/munge/munged.pid"; do
        if [ -f "$pidfile" ]; then
            pid=$(cat "$pidfile")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$pidfile"
        fi
    done
    if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$STATE/slurm.conf" ]; then
        rm -f /etc/slurm/slurm.conf /etc/slurm/gres.conf
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
