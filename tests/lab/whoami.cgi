#!/bin/sh
# /whoami on a lab back-end: which node answered and whom Apache authenticated.
# REMOTE_USER is set by mod_auth_gssapi; KGLAB_NODE by SetEnv in apache.conf.
printf 'Content-Type: text/plain\r\n\r\n'
printf 'node: %s\n' "${KGLAB_NODE:-unknown}"
printf 'user: %s\n' "${REMOTE_USER:-}"
printf 'auth: %s\n' "${AUTH_TYPE:-}"
