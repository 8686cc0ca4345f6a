#!/usr/bin/env bash
# Installs what nsbox's lessons, tests and book need, on Debian 12 or Ubuntu 22.04 / 24.04.
#
#   sudo scripts/provision.sh                 # on your own machine: Rust goes to you, not root
#   scripts/provision.sh --help               # the options
#
# The same script sets up the course's Vagrant VM (see the Vagrantfile) and CI's fresh machine
# (.ci/run). It is safe to run again: every step first checks whether there is anything to do.
#
# What it does, in order:
#   1. Debian packages: a C toolchain and pkg-config (Rust links with cc), curl, git, sudo, and
#      the programs the lessons and tests run: util-linux (unshare, ipcmk, mount...), procps
#      (ps), iproute2 (ip) and nftables (nft).
#   2. Rust, for the user who will do the course. The crate is edition 2024: rustc 1.85 or
#      newer. A good enough cargo already on that user's PATH is kept; otherwise rustup
#      installs stable Rust in the user's home (~/.cargo, ~/.rustup), not root's.
#      Then rustfmt and clippy.
#   3. mdBook 0.5.4 (the version the book is built with), with `cargo install`.
#   4. Only if asked: CARGO_TARGET_DIR (--target-dir), relaxed user namespaces for Ubuntu's
#      AppArmor (--allow-userns), a kernel booted with cgroup v1 (--cgroup-v1).
set -euo pipefail

RUST_MIN=1.85.0
MDBOOK_VERSION=0.5.4
PACKAGES=(build-essential pkg-config curl ca-certificates git sudo util-linux procps iproute2 python3 graphviz hyperfine busybox-static
    nftables docker-registry skopeo runc time libcap2-bin)
PROFILE_D=/etc/profile.d/nsbox.sh
GRUB_DROP_IN=/etc/default/grub.d/99-nsbox-cgroup-v1.cfg
USERNS_CONF=/etc/sysctl.d/60-nsbox-userns.conf
# systemd.unified_cgroup_hierarchy=0: systemd mounts the cgroup v1 controllers again.
# SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1: systemd 256 and 257 refuse (256) or ignore (257) the
# first one without it; 255 (Ubuntu 24.04) and older need only the first, and pass the second
# on to init's environment, harmlessly. systemd 258 dropped cgroup v1 altogether.
CGROUP_V1_ARGS="systemd.unified_cgroup_hierarchy=0 SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1"

usage() {
    cat <<EOF
Usage: sudo scripts/provision.sh [options]

Installs what nsbox needs: Debian packages, Rust (>= ${RUST_MIN%.0}, with rustfmt and clippy)
for the course's user, and mdBook $MDBOOK_VERSION. Safe to run again.

Options:
  --user NAME        who does the course: Rust and mdBook go to their home
                     (default: the user who ran sudo, \$SUDO_USER; else root)
  --target-dir DIR   Cargo builds into DIR instead of <repo>/target, for NAME's login
                     shells (CARGO_TARGET_DIR, in $PROFILE_D). For VMs whose
                     repository is a synced folder: building there is slow.
  --allow-userns     allow unprivileged user namespaces (lesson 05), which Ubuntu 24.04's
                     AppArmor forbids: kernel.apparmor_restrict_unprivileged_userns=0, in
                     $USERNS_CONF. Without it you only get a warning.
  --cgroup-v1        boot with cgroup v1 (systemd.unified_cgroup_hierarchy=0) from the next
                     reboot on: adds it to GRUB_CMDLINE_LINUX_DEFAULT and runs update-grub.
                     Undo: sudo rm $GRUB_DROP_IN && sudo update-grub
  -h, --help         this help

In CI (CI=true) it never downloads Rust: CI machines come with it.
EOF
}

say() { printf 'provision: %s\n' "$*"; }
step() { printf '\n=== %s\n' "$*"; }
warn() { printf 'provision: warning: %s\n' "$*" >&2; }
die() {
    printf 'provision: %s\n' "$*" >&2
    exit 1
}

# --- options -----------------------------------------------------------------------------------
args=("$@")
user="" target_dir="" cgroup_v1=false allow_userns=false
while [ $# -gt 0 ]; do
    case "$1" in
        --user) user=${2:?--user needs a name}; shift ;;
        --user=*) user=${1#*=} ;;
        --target-dir) target_dir=${2:?--target-dir needs a directory}; shift ;;
        --target-dir=*) target_dir=${1#*=} ;;
        --allow-userns) allow_userns=true ;;
        --cgroup-v1) cgroup_v1=true ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done
case "$target_dir" in
    "" | /*) ;;
    *) die "--target-dir needs an absolute path, not '$target_dir'" ;;
esac

# Packages need root. Run as yourself, the script starts itself again through sudo (and
# $SUDO_USER then says who you are).
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "run this as root (sudo is not installed)"
    say "this needs root: running it again with sudo"
    exec sudo -- "$0" "${args[@]}"
fi

# Whose Rust: --user, else whoever ran sudo, else root (CI, a root shell).
user=${user:-${SUDO_USER:-root}}
entry=$(getent passwd "$user") || die "no user '$user' on this machine"
home=$(printf '%s' "$entry" | cut -d: -f6)
group=$(id -gn "$user")

# Runs a bash command as the course's user, as in a login shell of theirs (their ~/.profile,
# which has rustup's PATH), with ~/.cargo/bin first on PATH.
as_user() {
    if [ "$user" = "$(id -un)" ]; then
        # We are that user (root in CI): keep the environment, CI may set CARGO_HOME etc.
        PATH="$home/.cargo/bin:$PATH" bash -o pipefail -c "$1"
    else
        local env=(HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash
            PATH=/usr/local/bin:/usr/bin:/bin TERM="${TERM:-dumb}" LANG="${LANG:-C.UTF-8}")
        local v
        for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
            if [ -n "${!v:-}" ]; then env+=("$v=${!v}"); fi
        done
        (cd "$home" && runuser -u "$user" -- env -i "${env[@]}" \
            bash -o pipefail -lc "export PATH=\"\$HOME/.cargo/bin:\$PATH\"; $1")
    fi
}

# True if version $1 >= version $2 (1.95.0 >= 1.85.0).
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

# --- the machine ---------------------------------------------------------------------------------
if [ -r /etc/os-release ]; then
    # shellcheck source=/dev/null
    os=$(. /etc/os-release && echo "${ID:-?} ${VERSION_ID:-?}")
else
    os="unknown"
fi
case "$os" in
    "debian 12" | "ubuntu 22.04" | "ubuntu 24.04") ;;
    *) warn "made for Debian 12 and Ubuntu 22.04 / 24.04, this is '$os': trying anyway" ;;
esac
command -v apt-get >/dev/null || die "no apt-get here: install these yourself: ${PACKAGES[*]}"
say "$os; the course's user: $user ($home)${CI:+; CI=$CI}"

# --- 1. packages ---------------------------------------------------------------------------------
step "Debian packages"
missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    say "all there: ${PACKAGES[*]}"
else
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh VM runs apt by itself at first boot (apt-daily, unattended-upgrades): the lock
    # timeout makes us wait for dpkg's lock (up to 10 min), and update is tried a few times in
    # case its own lock, on the package lists, is taken.
    tries=0
    until apt-get -o DPkg::Lock::Timeout=600 update -qq; do
        tries=$((tries + 1))
        [ "$tries" -lt 6 ] || die "apt-get update failed $tries times"
        say "apt-get update failed (another apt running?): again in 20 s"
        sleep 20
    done
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
    # The runtime's tests start a registry of their own when they need one: the one the
    # package starts as a service (on port 5000) is not wanted on a student's machine.
    if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null; then
        systemctl disable --now docker-registry >/dev/null 2>&1 || true
    fi
fi

# --- 2. Rust -------------------------------------------------------------------------------------
step "Rust (rustc >= ${RUST_MIN%.0}, for $user)"
rust_ok() {
    local v
    v=$(as_user 'cargo --version >/dev/null 2>&1 && rustc --version 2>/dev/null' | awk '{print $2}')
    [ -n "$v" ] && version_ge "${v%%-*}" "$RUST_MIN"
}
have_rustup() { as_user 'command -v rustup' >/dev/null 2>&1; }
if rust_ok; then
    say "keeping the Rust on $user's PATH: $(as_user 'rustc --version')"
    say "(cargo: $(as_user 'command -v cargo'))"
elif [ -n "${CI:-}" ]; then
    die "CI: no cargo and rustc >= ${RUST_MIN%.0} on PATH (CI machines come with Rust: not" \
        "downloading it)"
elif have_rustup; then
    say "rustup is there but its default Rust is too old: installing stable"
    as_user 'rustup toolchain install stable --profile minimal -c rustfmt,clippy &&
        rustup default stable'
else
    old=$(as_user 'rustc --version 2>/dev/null' || true)
    say "installing rustup and stable Rust in $home/.cargo${old:+ (first on PATH, before $old)}"
    # The official installer, as on https://rustup.rs. It adds ~/.cargo/bin to PATH in the
    # user's ~/.profile and ~/.bashrc. SKIP_PATH_CHECK: do not stop for a Debian rustc.
    as_user "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        RUSTUP_INIT_SKIP_PATH_CHECK=yes sh -s -- -y --profile minimal -c rustfmt,clippy" ||
        die "could not install Rust with rustup (is https://sh.rustup.rs reachable?)"
    rust_ok || die "rustup ran, yet there is no cargo >= ${RUST_MIN%.0} on $user's PATH"
    fresh_rust=true
fi
# `cargo fmt --check` and `cargo clippy` are part of the course's checks.
if ! as_user 'cargo fmt --version && cargo clippy --version' >/dev/null 2>&1; then
    if have_rustup; then
        as_user 'rustup component add rustfmt clippy'
    else
        warn "rustfmt or clippy is missing and there is no rustup to add them"
    fi
fi
fmt=$(as_user 'cargo fmt --version' 2>/dev/null) || fmt="no rustfmt"
clippy=$(as_user 'cargo clippy --version' 2>/dev/null) || clippy="no clippy"
say "$(as_user 'cargo --version'), $fmt, $clippy"

# --- 3. mdBook -----------------------------------------------------------------------------------
step "mdbook $MDBOOK_VERSION"
if as_user 'mdbook --version' 2>/dev/null | grep -q "v$MDBOOK_VERSION"; then
    say "already there: $(as_user 'command -v mdbook')"
else
    # Builds for a few minutes. env -u: not into the course's CARGO_TARGET_DIR (cargo install
    # otherwise builds in a temporary directory and removes it).
    as_user "env -u CARGO_TARGET_DIR cargo install mdbook --version $MDBOOK_VERSION --locked \
        --no-default-features --features search"
fi

# --- 4. only if asked ----------------------------------------------------------------------------
if [ -n "$target_dir" ]; then
    step "CARGO_TARGET_DIR=$target_dir (for $user)"
    mkdir -p "$target_dir"
    chown "$user:$group" "$target_dir"
    # Login shells read /etc/profile.d/ (`vagrant ssh` opens one). Only for the course's user:
    # root's cargo, should root run one, keeps its own target/.
    cat >"$PROFILE_D" <<EOF
# Written by nsbox's scripts/provision.sh --target-dir: $user's Cargo builds
# into this directory, not the repository's target/ (a synced folder, slow to build on).
if [ "\$(id -un)" = '$user' ]; then
    export CARGO_TARGET_DIR='$target_dir'
fi
EOF
    say "wrote $PROFILE_D; new login shells of $user build in $target_dir"
fi

step "unprivileged user namespaces (lesson 05)"
sysctl_userns=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
if [ ! -e "$sysctl_userns" ]; then
    say "no AppArmor restriction on this kernel: nothing to do"
elif $allow_userns; then
    echo "kernel.apparmor_restrict_unprivileged_userns = 0" >"$USERNS_CONF"
    sysctl -q -p "$USERNS_CONF"
    say "allowed (wrote $USERNS_CONF)"
elif [ "$(cat "$sysctl_userns")" = 1 ]; then
    warn "AppArmor forbids what lesson 05 does as you"
    warn "(kernel.apparmor_restrict_unprivileged_userns=1). To allow it for good:"
    warn "  sudo scripts/provision.sh --allow-userns"
    warn "or until the next boot: sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0"
else
    say "allowed already"
fi

reboot_needed=false
if $cgroup_v1; then
    step "cgroup v1 from the next boot"
    if command -v systemctl >/dev/null; then
        systemd=$(systemctl --version | awk 'NR == 1 {print $2}')
        if [ -n "$systemd" ] && [ "$systemd" -ge 258 ] 2>/dev/null; then
            die "systemd $systemd cannot boot with cgroup v1 (258 dropped it):" \
                "use Ubuntu 24.04 or Debian 12"
        fi
    fi
    command -v update-grub >/dev/null ||
        die "no update-grub: this machine does not boot with GRUB. Add $CGROUP_V1_ARGS" \
            "to its kernel command line yourself"
    # A file in /etc/default/grub.d/ rather than an edit of /etc/default/grub: update-grub reads
    # it after /etc/default/grub and after the files cloud images put there (which set
    # GRUB_CMDLINE_LINUX_DEFAULT themselves), so the parameters are always added, once.
    mkdir -p "$(dirname "$GRUB_DROP_IN")"
    cat >"$GRUB_DROP_IN" <<EOF
# Written by nsbox's scripts/provision.sh --cgroup-v1: boot with cgroup v1. To undo, remove
# this file and run update-grub.
GRUB_CMDLINE_LINUX_DEFAULT="\$GRUB_CMDLINE_LINUX_DEFAULT $CGROUP_V1_ARGS"
EOF
    update-grub 2>&1 | sed 's/^/  update-grub: /'
    if grep -q 'systemd.unified_cgroup_hierarchy=0' /boot/grub/grub.cfg 2>/dev/null; then
        say "GRUB boots Linux with $CGROUP_V1_ARGS"
    else
        warn "/boot/grub/grub.cfg does not have systemd.unified_cgroup_hierarchy=0: check it"
    fi
    if grep -qw 'systemd.unified_cgroup_hierarchy=0' /proc/cmdline; then
        say "this boot already has it: /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup)"
    else
        reboot_needed=true
    fi
fi

# --- done ----------------------------------------------------------------------------------------
step "ready"
repo=$(cd "$(dirname "$0")/.." 2>/dev/null && pwd) || repo=""
if [ -n "$repo" ] && [ -f "$repo/Cargo.toml" ] && grep -q '^name = "nsbox"' "$repo/Cargo.toml"; then
    where="in $repo"
else
    where="in the repository"
fi
if ${fresh_rust:-false}; then
    echo "Rust is new: open a new shell (or run: . \"\$HOME/.cargo/env\") to have cargo on PATH."
fi
if [ -n "$target_dir" ]; then
    echo "Builds go to $target_dir from $user's next login shell on."
fi
if $reboot_needed; then
    echo "REBOOT NEEDED for cgroup v1 (sudo reboot, or vagrant reload v1 on the host). Then"
    echo "stat -fc %T /sys/fs/cgroup says tmpfs (v1) instead of cgroup2fs (v2)."
fi
cat <<EOF
First commands to try, as $user, $where:
  cargo run --bin doctor               # checks this machine for the course
  cargo run --bin 01-uts -- hostname   # lesson 01: a hostname of its own
  cargo workbook list                  # the exercises
EOF
