#!/usr/bin/env bash
# Builds the project's images with podman where no container registry can be reached (`make images`):
# the registry bases are replaced, through each Dockerfile's base-image build argument, by images
# made here from a Debian bookworm root (debootstrap, Debian's mirror). What it builds:
#
#   localhost/pitchlens-base/debian-python:bookworm  debootstrap minbase + python3.11 (as `python`), venv, pip
#   localhost/pitchlens-base/lambda-python:3.11      the above + awslambdaric (infra/images/Containerfile.lambda-base)
#   localhost/pitchlens-worker:TAG                   infra/Dockerfile.worker (api, cpu-worker, migrate)
#   localhost/pitchlens-function:TAG                 infra/Dockerfile.function (ingest, persist, api Lambdas)
#   localhost/pitchlens-function-video:TAG           infra/Dockerfile.function EXTRAS=video (render Lambda)
#   localhost/pitchlens-gpu-worker:TAG               infra/Dockerfile.gpu-worker, PyPI's CUDA torch build
#
# PITCHLENS_IMAGES=worker,function,function-video,gpu-worker picks some (gpu-worker downloads about
# 3 GB of CUDA wheels). Needs root, podman, debootstrap (apt-get install podman debootstrap; runc where
# crun cannot run containers, e.g. on hybrid cgroups). Prints each image's build time and size.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TAG="${PITCHLENS_IMAGE_TAG:-local}"
ONLY="${PITCHLENS_IMAGES:-worker,function,function-video,gpu-worker}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# The commit the images are built from (-dirty: with uncommitted changes), as a label the smoke test
# (tests/integration/test_images_smoke.py) compares with the checkout.
REVISION="$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)"
git -C "$REPO" diff --quiet HEAD -- shared functions pyproject.toml infra 2>/dev/null || REVISION="${REVISION}-dirty"
BASE=localhost/pitchlens-base/debian-python:bookworm
LAMBDA_BASE=localhost/pitchlens-base/lambda-python:3.11

for tool in podman debootstrap; do
  command -v "$tool" >/dev/null || { echo "images: $tool is not installed (apt-get install podman debootstrap)" >&2; exit 2; }
done

# crun refuses hybrid cgroup hierarchies (cgroup v1 + a v2 mount), which some VMs have; runc copes.
FLAGS=(--network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
if command -v runc >/dev/null; then FLAGS+=(--runtime runc); fi

wanted() { [[ ",${ONLY}," == *",$1,"* ]]; }

build() { # name dockerfile context [build args...]
  local name="$1" dockerfile="$2" context="$3"
  shift 3
  local started=$SECONDS
  echo "== building ${name} (${dockerfile})"
  podman build "${FLAGS[@]}" -f "$dockerfile" -t "$name" \
    --label "org.opencontainers.image.revision=${REVISION}" "$@" "$context"
  local size
  size="$(podman image inspect "$name" --format '{{.Size}}')"
  printf 'built %s in %d s, %d MB\n' "$name" $((SECONDS - started)) $((size / 1000000))
}

if ! podman image exists "$BASE"; then
  started=$SECONDS
  root="$(mktemp -d /tmp/pitchlens-rootfs.XXXXXX)"
  trap 'rm -rf "$root"' EXIT
  echo "== debootstrap bookworm into $root"
  debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    bookworm "$root" "$MIRROR" >/dev/null
  # Like python:3.11-slim: pip may install into the system Python (no PEP 668 marker), no apt lists.
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  # A builder behind a TLS-inspecting proxy trusts its CA in /usr/local/share/ca-certificates: the
  # local base trusts what the builder trusts, and pip (which otherwise uses its own bundle) too.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root"/usr/local/share/ca-certificates/
    chroot "$root" update-ca-certificates >/dev/null
  fi
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$root"/etc/pip.conf
  tar -C "$root" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
  rm -rf "$root"
  trap - EXIT
  printf 'built %s in %d s\n' "$BASE" $((SECONDS - started))
fi

cd "$REPO"
if wanted worker; then
  build "localhost/pitchlens-worker:${TAG}" infra/Dockerfile.worker . --build-arg "BASE_IMAGE=${BASE}"
fi
if wanted function || wanted function-video; then
  podman image exists "$LAMBDA_BASE" ||
    build "$LAMBDA_BASE" infra/images/Containerfile.lambda-base infra/images --build-arg "BASE_IMAGE=${BASE}"
fi
if wanted function; then
  # One image for ingest, persist, migrate and the API: with the API's extra (template.yaml's
  # ApiFunction builds EXTRAS=plots; the others' images are this one without mplsoccer).
  build "localhost/pitchlens-function:${TAG}" infra/Dockerfile.function . \
    --build-arg "LAMBDA_BASE_IMAGE=${LAMBDA_BASE}" --build-arg EXTRAS=plots
fi
if wanted function-video; then
  build "localhost/pitchlens-function-video:${TAG}" infra/Dockerfile.function . \
    --build-arg "LAMBDA_BASE_IMAGE=${LAMBDA_BASE}" --build-arg EXTRAS=video
fi
if wanted gpu-worker; then
  # Debian bookworm's python3.11 and python3.11-venv packages stand in for Ubuntu's; TORCH_CUDA=""
  # takes PyPI's torch (a CUDA 13.0 build) instead of the PyTorch index, which is not reachable here.
  build "localhost/pitchlens-gpu-worker:${TAG}" infra/Dockerfile.gpu-worker . \
    --build-arg "CUDA_IMAGE=${BASE}" --build-arg TORCH_CUDA=
fi
