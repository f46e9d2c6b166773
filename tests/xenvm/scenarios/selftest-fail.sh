# Harness self-test: a scenario that must fail. dom0 pings an address that
# nobody on the LAN owns; tests/xenvm/selftest.sh asserts that run.sh reports
# this as a failure with a non-zero exit status.
. /ipnb/lib.sh
ip addr add 10.99.0.2/24 dev eth0
check "dom0 reaches the external host" ping -c 2 -W 2 10.99.0.1
check "ping to an address nobody has (must fail)" ping -c 2 -W 1 10.99.0.254
finish
