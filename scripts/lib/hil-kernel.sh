# Shared by scripts/hil and scripts/hil-systemd (sourced): the host tools, Debian's kernel unpacked
# into the cache and the out-of-tree modules (gpio-sim, v4l2loopback), each step cached.
# The caller defines repo, cache, log, die and as_root.

# hil_kernel_prepare [EXTRA_HOST_PACKAGE...]: steps 1-3 of scripts/hil; sets kver, kversion, root
# (the unpacked kernel packages), headers and modules (the built .ko files).
hil_kernel_prepare() {
    # --- 1. host tools ----------------------------------------------------------
    host_packages=(qemu-system-x86 busybox-static cpio kmod gcc make libc6-dev xz-utils bc libelf-dev
        libv4l-dev libgpiod-dev dpkg-dev ffmpeg "$@")
    local missing=() package deb
    for package in "${host_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi

    # --- 2. Debian's kernel, unpacked into the cache -------------------------------
    mkdir -p "$cache/debs"
    image_package=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)
    [ -n "$image_package" ] || die "cannot tell which kernel linux-image-amd64 points to (apt-get update?)"
    kver=${image_package#linux-image-}
    kversion=$(apt-cache show "$image_package" | sed -n 's/^Version: //p' | head -1)
    root="$cache/root-$kver"
    if [ ! -e "$root/.complete" ]; then
        log "fetching Debian kernel $kver ($kversion)"
        short=${kver%-amd64}   # 6.1.0-NN
        series=${kver%%.0-*}   # 6.1
        (cd "$cache/debs" && apt-get download -qq \
            "$image_package=$kversion" "linux-headers-$kver=$kversion" "linux-headers-$short-common=$kversion" \
            "linux-kbuild-$series=$kversion" "linux-source-$series=$kversion" v4l2loopback-dkms) \
            || die "apt-get download failed"
        rm -rf "$root" && mkdir -p "$root"
        for deb in "$cache/debs/"*"$kversion"*.deb "$cache/debs/"v4l2loopback-dkms_*.deb; do
            dpkg-deb -x "$deb" "$root"
        done
        # The headers' Makefile includes the -common tree by absolute path.
        sed -i "s|/usr/src/|$root/usr/src/|g" "$root/usr/src/linux-headers-$kver/Makefile"
        touch "$root/.complete"
    fi
    headers="$root/usr/src/linux-headers-$kver"

    # --- 3. out-of-tree modules -------------------------------------------------------
    modules="$cache/modules-$kver"
    if [ ! -e "$modules/.complete" ]; then
        log "building gpio-sim and v4l2loopback for $kver"
        rm -rf "$modules" && mkdir -p "$modules/gpio-sim"
        series=${kver%%.0-*}
        tar -xJf "$root/usr/src/linux-source-$series.tar.xz" -C "$modules/gpio-sim" --strip-components=1 \
            "linux-source-$series/drivers/gpio/gpio-sim.c" "linux-source-$series/drivers/gpio/gpiolib.h" \
            "linux-source-$series/kernel/irq/irq_sim.c"
        (
            cd "$modules/gpio-sim"
            mv drivers/gpio/gpio-sim.c gpio-sim-main.c
            mv drivers/gpio/gpiolib.h kernel/irq/irq_sim.c .
            # irq_to_desc is not exported to modules.
            sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' irq_sim.c
            grep -q 'generic_handle_irq(irqnum);' irq_sim.c || die "irq_sim.c changed; update the patch in scripts/lib/hil-kernel.sh"
            cp "$repo/hil/gpio-sim/Kbuild" .
        )
        make -s -C "$headers" M="$modules/gpio-sim" modules >"$modules/gpio-sim.log" 2>&1 \
            || { cat "$modules/gpio-sim.log" >&2; die "gpio-sim did not build"; }
        loopback_source=$(echo "$root"/usr/src/v4l2loopback-*)
        cp -r "$loopback_source" "$modules/v4l2loopback"
        make -s -C "$headers" M="$modules/v4l2loopback" modules >"$modules/v4l2loopback.log" 2>&1 \
            || { cat "$modules/v4l2loopback.log" >&2; die "v4l2loopback did not build"; }
        touch "$modules/.complete"
    fi
}

# hil_install_modules DEST MODULE...: puts the named modules of Debian's kernel with everything they
# depend on, plus the built gpio-sim and v4l2loopback, under DEST/lib/modules/$kver, then runs depmod
# there so modprobe works inside the guest. Call after hil_kernel_prepare.
hil_install_modules() {
    local dest=$1 module ko relative
    shift
    local mod_root="$dest/lib/modules/$kver"
    mkdir -p "$mod_root/extra"
    cp "$root/lib/modules/$kver/modules.order" "$root/lib/modules/$kver/modules.builtin"* "$mod_root/"
    cp "$modules/gpio-sim/gpio-sim.ko" "$modules/v4l2loopback/v4l2loopback.ko" "$mod_root/extra/"
    depmod -b "$root" "$kver" 2>/dev/null || true
    for module in "$@"; do
        modprobe -d "$root" -S "$kver" --show-depends "$module" 2>/dev/null | awk '$1=="insmod"{print $2}'
    done | sort -u | while read -r ko; do
        relative=${ko#"$root/lib/modules/$kver/"}
        mkdir -p "$mod_root/$(dirname "$relative")"
        cp "$ko" "$mod_root/$relative"
    done
    depmod -b "$dest" "$kver"
}
