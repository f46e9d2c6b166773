#!/bin/bash
# Runs on the host, inside the external-host network namespace, once per
# management connection from dom0 (QEMU's guestfwd starts it with the
# connection on stdin/stdout). Reads one command line, runs it with a time
# limit and answers with its output and a final "@@RC <status>" line.
IFS= read -r cmd || exit 0
timeout 120 bash -c "$cmd" </dev/null 2>&1
echo "@@RC $?"
