#!/bin/bash
# First-boot script of a HelioCloud NAT instance (Amazon Linux 2023, arm64),
# run once by cloud-init as root. It makes the instance forward the private
# subnets' traffic to the internet behind its own address. The security
# group, not this script, decides who may send traffic through it.
#
# NAT_ROOT prefixes every file written, so that a test can run the script
# outside an instance; on an instance it is empty.
set -eu
root="${NAT_ROOT:-}"

# Forward packets between interfaces, now and after every reboot.
echo 'net.ipv4.ip_forward = 1' > "$root/etc/sysctl.d/90-heliocloud-nat.conf"
sysctl -q -p "$root/etc/sysctl.d/90-heliocloud-nat.conf"

# A t4g.nano has 0.5 GiB: dnf beside the SSM agent can run out of memory.
# Half a GiB of swap on the root volume lets the one install below finish.
if [ ! -e "$root/swapfile" ]; then
	dd if=/dev/zero of="$root/swapfile" bs=1M count=512 status=none
	chmod 600 "$root/swapfile"
	mkswap "$root/swapfile" > /dev/null
	swapon "$root/swapfile"
	echo '/swapfile none swap defaults 0 0' >> "$root/etc/fstab"
fi

# iptables-services restores the rules at every boot. At first boot dnf can
# fail while cloud-init cleans its cache (aws/aws-cdk#36717): retry for up
# to five minutes, then give up loudly (cloud-init-output.log).
tries=0
until dnf install -y -q iptables-services; do
	tries=$((tries + 1))
	if [ "$tries" -ge 60 ]; then
		echo "heliocloud-nat: dnf install iptables-services failed $tries times; this instance forwards nothing" >&2
		exit 1
	fi
	sleep 5
done
systemctl enable --now iptables

# Masquerade behind the interface of the default route: ens5 on Nitro
# instances, whatever its name.
iface=$(ip route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
if [ -z "$iface" ]; then
	echo "heliocloud-nat: no default route; this instance forwards nothing" >&2
	exit 1
fi
iptables -t nat -A POSTROUTING -o "$iface" -j MASQUERADE
# The service's stock rules reject forwarded packets; drop them.
iptables -F FORWARD
iptables-save > "$root/etc/sysconfig/iptables"
