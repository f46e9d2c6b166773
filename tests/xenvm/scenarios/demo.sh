# SPDX-License-Identifier: MIT
# What `make demo` shows: three guests served by ipnetbackd (no bridge, no
# kernel netback) talk to each other and to the external host on the LAN
# through dom0's NIC, over IPv4, IPv6 and TCP; then the daemon's view.
. /ipnb/lib.sh

ipnb_uplink_start || fatal "uplink or ipnetbackd set-up failed"
for g in 11 12 13; do ipnb_guest "g${g#1}" "$g" || fatal "create g${g#1}"; done
vm_wait g1 g2 g3 || fatal "guests did not boot"

check "g1 pings g2 (IPv4)" vm_exec g1 "ping -c 2 -W 3 10.99.0.12"
check "g2 pings g3 (IPv6)" vm_exec g2 "ping -c 2 -W 3 fd00::13"
check "g3 pings g1 (IPv4)" vm_exec g3 "ping -c 2 -W 3 10.99.0.11"
check "TCP g1 -> g2: 8 MiB arrive intact" tcp_transfer g1 g2 10.99.0.12 8
check "external host pings g1 (IPv4)" ext "ping -c 2 -W 3 10.99.0.11"
check "external host pings g2 (IPv6)" ext "ping -c 2 -W 3 fd00::12"
check "g3 pings the external host (IPv4)" vm_exec g3 "ping -c 2 -W 3 10.99.0.1"
check "TCP external -> g1: 4 MiB arrive intact" tcp_transfer ext g1 10.99.0.11 4
check "TCP external -> g1 throughput" tcp_throughput ipnetback.ext-g1.tcp ext g1 10.99.0.11

echo "==== ipnetback vif list"
ipnetback vif list
echo "==== ipnetback uplink"
ipnetback uplink
finish
