#!/usr/bin/env bash
# `make editor-deps`: installs what the editor tests (pytest -m editor) drive, offline-safe and
# idempotent. Debian packages: neovim, tmux, chromium, ripgrep and the headers code-server's native
# modules build against. npm: code-server (Code OSS in a browser), playwright-core (drives the
# Debian chromium; never downloads a browser) and @vscode/vsce (packages editors/vscode as .vsix).
# Everything npm goes to $OSIRIS_EDITOR_CACHE (default ~/.cache/osiris-editors), keyed by version,
# so a second run only checks stamps.
set -euo pipefail

CACHE=${OSIRIS_EDITOR_CACHE:-$HOME/.cache/osiris-editors}
CODE_SERVER_VERSION=${CODE_SERVER_VERSION:-4.100.3}   # newest code-server whose engines allow Node 20
TOOLS_SPEC="playwright-core@1.65.1 @vscode/vsce@3.9.2"
APT_PACKAGES="neovim tmux chromium ripgrep build-essential pkg-config python3 libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev"

log() { echo "editor-deps: $*"; }

ensure_apt() {
  local missing=()
  for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
  [ ${#missing[@]} -eq 0 ] && { log "apt packages present"; return; }
  log "installing ${missing[*]}"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_tools() {
  local dir=$CACHE/tools stamp=$CACHE/tools/.stamp
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$TOOLS_SPEC" ] && { log "npm tools present"; return; }
  log "installing $TOOLS_SPEC"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error $TOOLS_SPEC)
  echo "$TOOLS_SPEC" > "$stamp"
}

# code-server's plain `npm install` fails offline (postinstall downloads ripgrep and prebuilt
# binaries from GitHub; npm 11 dropped --unsafe-perm): install without scripts, build the native
# modules from source against Node's own headers, and redo its postinstall steps by hand.
ensure_code_server() {
  local dir=$CACHE/code-server-$CODE_SERVER_VERSION
  [ -f "$dir/.stamp" ] && { log "code-server $CODE_SERVER_VERSION present"; return; }
  log "installing code-server $CODE_SERVER_VERSION (a few minutes on a cold npm cache)"
  rm -rf "$dir" && mkdir -p "$dir"
  export npm_config_nodedir=/usr npm_config_yes=true
  (
    cd "$dir" && npm init -y >/dev/null
    npm install "code-server@$CODE_SERVER_VERSION" --ignore-scripts --no-audit --no-fund --loglevel=error
    npm rebuild argon2 >/dev/null
    cd node_modules/code-server/lib/vscode
    npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
    mkdir -p node_modules/@vscode/ripgrep/bin
    cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
    npm rebuild >/dev/null
    ln -sfn node_modules node_modules.asar
    ln -sfn code-linux.sh bin/remote-cli/code-server
    ln -sfn browser-linux.sh bin/helpers/browser.sh
    (cd extensions && npm install --omit=dev --no-audit --no-fund --loglevel=error)
  )
  "$dir/node_modules/.bin/code-server" --version >/dev/null
  touch "$dir/.stamp"
}

ensure_apt
mkdir -p "$CACHE"
ensure_tools
ensure_code_server
log "ready in $CACHE"
