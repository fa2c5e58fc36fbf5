"""Every file a host receives (configs, install script, user data, the gateway's bundle and agent), from templates/."""
