# Every value check-config prints comes from the file, none from a default; it creates no
# ledger, and counts the reservations once there are some.
gpuslots check-config
if [ -e state.db ]; then echo "check-config created the ledger"; fi
gpuslots allocate test_001 2 1 >/dev/null || exit 99
gpuslots check-config
