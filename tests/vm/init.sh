#!/bin/busybox sh
# /init of the VM's initramfs (tests/vm/run.py packs it with a static busybox
# and the modules listed in /lib/modules/load.order).
#
# The stock kernel has 9p, virtio-pci and overlayfs as modules and there is no
# udev, so this loads them by hand, mounts the host's root filesystem (9p tag
# efroot, read-only) under a tmpfs overlay as the new root, mounts fresh
# kernel filesystems in it (nothing of the host's /proc, /sys, /dev, /run or
# /tmp shows through), mounts the writable results share (tag efshare) at
# /run/vmtest and hands over to /run/vmtest/guest.py as PID 1.
#
# Any failure here powers off without a result; the runner then reports it
# with the tail of the console log, which holds the "vmtest-init:" lines.

/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "vmtest-init: $*"; }
die() {
	say "FAILED: $*"
	sync
	poweroff -f
	sleep 60
}

mount -t proc proc /proc || die "mounting /proc"
mount -t sysfs sysfs /sys || die "mounting /sys"
mount -t devtmpfs devtmpfs /dev || die "mounting /dev"

while read -r m; do
	insmod "/lib/modules/$m" || die "insmod $m"
done < /lib/modules/load.order

# virtio devices are probed as virtio_pci loads, but give the 9p channels a
# moment to register before giving up on them
mount9p() {
	i=0
	until mount -t 9p -o "trans=virtio,version=9p2000.L,msize=262144,$2" "$1" "$3"; do
		i=$((i + 1))
		[ "$i" -ge 50 ] && return 1
		sleep 0.1
	done
}

mkdir -p /lower /upper /newroot
mount9p efroot ro,cache=loose /lower || die "mounting the host's root filesystem (9p tag efroot)"
mount -t tmpfs -o mode=0755 tmpfs /upper || die "mounting the overlay's tmpfs"
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /newroot ||
	die "mounting the overlay root"

R=/newroot
mnt() { # type options target
	mkdir -p "$R$3" || die "mkdir $3"
	mount -t "$1" -o "$2" "$1" "$R$3" || die "mounting $1 at $3"
}
mnt proc nosuid,nodev,noexec /proc
mnt sysfs nosuid,nodev,noexec /sys
mnt devtmpfs mode=0755,nosuid /dev
mnt devpts gid=5,mode=0620,ptmxmode=0666,nosuid,noexec /dev/pts
mnt tmpfs mode=1777,nosuid,nodev /dev/shm
mnt tmpfs mode=0755,nosuid,nodev /run
mnt tmpfs mode=1777,nosuid,nodev /tmp
mnt cgroup2 nsdelegate,nosuid,nodev,noexec /sys/fs/cgroup
mnt bpf mode=0700 /sys/fs/bpf
mnt securityfs nosuid,nodev,noexec /sys/kernel/security
mnt debugfs nosuid,nodev,noexec /sys/kernel/debug
mnt tracefs nosuid,nodev,noexec /sys/kernel/tracing
ln -sf /proc/self/fd "$R/dev/fd"
ln -sf /proc/self/fd/0 "$R/dev/stdin"
ln -sf /proc/self/fd/1 "$R/dev/stdout"
ln -sf /proc/self/fd/2 "$R/dev/stderr"
mkdir -p "$R/run/vmtest" "$R/run/lock"
mount9p efshare cache=none "$R/run/vmtest" || die "mounting the results share (9p tag efshare)"
[ -r "$R/run/vmtest/guest.py" ] || die "no guest.py on the results share"

umount /proc /sys /dev
say "root ready, starting guest.py"
exec switch_root /newroot /usr/bin/python3 /run/vmtest/guest.py
