#!/bin/bash
# A dracut module of the template's own: dracut sources this file and calls
# check, depends and install while it makes the initramfs.

# Included when asked for (add_dracutmodules in /etc/dracut.conf.d/91hello.conf).
check() {
    return 255
}

depends() {
    return 0
}

install() {
    inst_hook pre-mount 91 "$moddir/hello.sh"
}
