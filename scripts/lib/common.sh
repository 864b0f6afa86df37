# Shared by the scripts in scripts/: logging and the pinned defaults. Source it; do not run it.
# shellcheck shell=bash

AGENTSCHED_DEFAULT_KERNEL=7.3.4+deb13
# The kernel suite also runs on this older sched_ext kernel (kfunc and struct changes since 6.13).
AGENTSCHED_OLDER_TEST_KERNEL=6.19.14+deb13

log()  { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "${0##*/}" "$*" >&2; }
die()  { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }
