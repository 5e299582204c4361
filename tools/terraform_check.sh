#!/usr/bin/env bash
# `terraform fmt -check` over infra/ and `terraform validate` in every module and root, when terraform is on PATH.
# Terraform is not in the registries this project installs from: without it this says so and succeeds (the .tf files
# are still parsed and checked by the tests and by checkov). Providers come from TF_PLUGIN_DIR, a filesystem mirror
# (default /opt/tf-plugins when it exists), else from the registry. Working data goes to a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."

dirs=$(ls -d infra/modules/*/ infra/envs/*/ infra/examples/*/ 2>/dev/null)
if ! command -v terraform >/dev/null 2>&1; then
  echo "terraform: not on PATH, skipped \`terraform fmt -check\` and \`terraform validate\` ($(echo "$dirs" | wc -l | tr -d ' ') modules and roots)"
  exit 0
fi

plugin_dir=${TF_PLUGIN_DIR:-}
[ -z "$plugin_dir" ] && [ -d /opt/tf-plugins ] && plugin_dir=/opt/tf-plugins
init_args=(-backend=false -input=false -no-color)
[ -n "$plugin_dir" ] && init_args+=(-plugin-dir="$plugin_dir")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$work/terraformrc"  # no user configuration (and no warning that there is none)
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1

terraform fmt -check -recursive -diff infra
called=()
for d in $dirs; do
  # Validating a root validates the modules it calls (and a module taking an aliased provider can only be
  # validated that way); each root takes about five seconds, so a called module is not validated again alone.
  name=$(basename "$d")
  if [[ $d == infra/modules/* ]] && grep -qs "source *= *\"\.\./\.\./modules/$name\"" infra/envs/*/*.tf infra/examples/*/*.tf; then
    called+=("$name")
    continue
  fi
  export TF_DATA_DIR="$work/$(echo "$d" | tr / _)"
  if ! (cd "$d" && terraform init "${init_args[@]}" >"$TF_DATA_DIR.init.log" 2>&1); then
    cat "$TF_DATA_DIR.init.log"
    exit 1
  fi
  printf 'terraform validate %s: ' "$d"
  (cd "$d" && terraform validate -no-color)
done
[ ${#called[@]} -eq 0 ] || echo "validated through the roots that call them: ${called[*]}"
