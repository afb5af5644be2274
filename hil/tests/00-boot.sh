# The VM is up and facegate runs in it.
facegate --help >/dev/null || fail "facegate does not run"
[ -c /dev/null ] || fail "no devtmpfs"
echo "facegate runs"
