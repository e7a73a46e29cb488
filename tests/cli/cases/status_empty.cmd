# The table and the JSON of a ledger that does not exist yet; reading must not create it.
gpuslots status
gpuslots status --json
if [ -e state.db ]; then echo "status created the ledger"; fi
