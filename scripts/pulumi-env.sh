# shellcheck shell=bash
# Source this file (bash) to use the Pulumi engine offline:
#
#     . scripts/pulumi-env.sh
#
# It puts the engine from scripts/pulumi-engine on PATH (building it on first use, 10+ minutes)
# and exports only what an end-to-end run here showed to be needed:
#   PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true  the language host reports a plugin for every
#       Pulumi package in the virtualenv (pulumi_aws -> aws 7.51.1, which cannot be built here);
#       without this each up/preview/destroy tries to download it (three failed attempts, ~3 s).
#   PULUMI_SKIP_UPDATE_CHECK=true  at a terminal the CLI otherwise asks the Pulumi service for
#       its latest version on every command.
# Left to the caller: activating the virtualenv (or Pulumi.yaml's runtime option virtualenv),
# the backend (pulumi login file://DIR or PULUMI_BACKEND_URL), PULUMI_CONFIG_PASSPHRASE, and
# PULUMI_HOME if a private one is wanted. Do not set PULUMI_IGNORE_AMBIENT_PLUGINS: the plugins
# are found on PATH.

_pulumi_env_bin="$("$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/pulumi-engine")" || {
	echo "pulumi-env.sh: scripts/pulumi-engine failed" >&2
	unset _pulumi_env_bin
	return 1
}
case ":$PATH:" in
*":$_pulumi_env_bin:"*) ;;
*) PATH="$_pulumi_env_bin:$PATH" ;;
esac
export PATH
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
unset _pulumi_env_bin
