#!/bin/sh
# Runs in the initramfs before the root filesystem is mounted: one line in the
# kernel log (and so on the console), which shows the template's module ran.
echo "<5>g3-dracut-hello: the template's own dracut module ran before the root filesystem was mounted" > /dev/kmsg
