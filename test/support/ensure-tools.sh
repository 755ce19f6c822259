#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages, when it is missing: the moto AWS
# emulator (moto_server) and botocore, whose Security Hub API model the ASFF validator reads.
set -euo pipefail

if ! python3 -c 'import moto.server, flask, flask_cors, botocore' >/dev/null 2>&1; then
  echo "ensure-tools: installing moto[server] (AWS emulator) with pip" >&2
  python3 -m pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
fi
python3 -c 'import moto, botocore; print(f"ensure-tools: moto {moto.__version__}, botocore {botocore.__version__}")' >&2
