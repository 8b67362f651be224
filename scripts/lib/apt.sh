# Sourced by the install scripts. apt_install_missing LABEL PACKAGE... installs
# the Debian packages that are not installed yet (as root), and does nothing,
# quickly, when all are.
apt_install_missing() {
  local label=$1
  shift
  local missing=()
  local p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "$label: missing packages: ${missing[*]}" >&2
    echo "$label: run as root (or install them with apt-get) and try again" >&2
    return 1
  fi
  echo "$label: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
