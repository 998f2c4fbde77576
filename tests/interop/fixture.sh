#!/usr/bin/env bash
# tests/interop/fixture.sh REGISTRY: make the two-platform index the client
# scripts share (lib.sh's iop_mp) in $IOP_SHARED/mp; all.sh runs it first.
# Not a client: "fixture: N passed, N failed" is not counted, a failure here
# shows as "not ok" in every client script that needs the index.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
iop_init fixture "$@"
[[ -n ${IOP_SHARED:-} ]] || { echo "$0: IOP_SHARED is not set (all.sh sets it)" >&2; exit 2; }
iop_mp "$IOP_SHARED/mp" && ph_ok "two-platform index $MP_REF ($MP_INDEX)"
ph_finish
