# Sourced by the benchmarks. busybox_rootfs DIR: a static busybox with every applet, and the
# files an image has (passwd, group, tmp), in DIR.
busybox_rootfs() {
  local rootfs=$1 applet
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/dev" "$rootfs/proc" "$rootfs/sys" "$rootfs/tmp" "$rootfs/root"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
}

# busybox_oci_image WORK: the busybox rootfs in WORK/busybox, as one gzip layer
# (WORK/busybox.tar.gz) and an OCI layout (WORK/oci-busybox, tag latest).
busybox_oci_image() {
  local work=$1
  busybox_rootfs "$work/busybox"
  tar -C "$work/busybox" --numeric-owner --owner=0 --group=0 -cf - . | gzip -n -6 >"$work/busybox.tar.gz"
  python3 benchmarks/lib/oci-image.py "$work/oci-busybox" latest "$work/busybox.tar.gz"
}
