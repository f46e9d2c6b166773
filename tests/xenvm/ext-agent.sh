#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs on the host, inside the external-host network namespace, once per
# management connection from dom0 (QEMU's guestfwd starts it with the
# connection on stdin/stdout). Reads one line, "SEQ COMMAND", runs COMMAND
# with a time limit and answers with its output and a final
# "@@RC SEQ <status>" line. The sequence number lets dom0 (lib.sh, ext) tell
# the real status line from one that the command's own output happens to
# contain.
IFS= read -r line || exit 0
seq=${line%% *}
timeout 120 bash -c "${line#* }" </dev/null 2>&1
echo "@@RC $seq $?"
