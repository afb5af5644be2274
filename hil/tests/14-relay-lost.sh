# timeout: 240
# The relay's chip goes away while the door is idle (a USB relay board unplugged, an I2C expander gone):
# the daemon reads the relay back every second, so it finds the line lost then, not at the next grant, and
# stops with the `relay-lost` fault (exit 1, for systemd to restart it). The relay is on a gpio-sim chip of
# its own, taken away with the daemon running; nobody walks up. Before, the daemon ran on with the relay gone.
gpio_sim_chip relaybank relay
bank=/sys/kernel/config/gpio-sim/relaybank
daemon=
work=/tmp/relay-lost
rm -rf $work && mkdir -p $work/frames
cleanup() {
    [ -n "$daemon" ] && kill $daemon 2>/dev/null
    [ -f $work/run.log ] && { echo "--- facegate run (last lines)"; tail -8 $work/run.log | cut -c1-240; }
}
trap cleanup EXIT
trap 'exit 143' TERM
# A face replayed for ever: the cloud is away and there is no offline cache, so nobody is let in and the
# relay is never driven after its request.
cp /hil/photos/$(ls /hil/photos | head -1) $work/frames/ || fail "no photo"
umask 077
cat >$work/facegate.yaml <<EOF
models: /hil/models
camera: {source: replay, replay_path: $work/frames, replay_loops: true}
backend:
  kind: nec
  nec: {endpoint: http://127.0.0.1:9, access_key: AKIDHILLOST, secret_key: file:$work/secret, api_key: file:$work/api}
control: {socket: off}
liveness: {enabled: false}
offline_cache: {enabled: false}
journal: {path: $work/journal.sqlite}
door:
  name: hil relay lost
  relay: {chip: $SIM_CHIP, line: relay}
EOF
printf hil-lost-secret-key-0123456789abcdefghij >$work/secret
printf hil-lost-api-key-0123456789 >$work/api

now() { cut -d. -f1 /proc/uptime; }
facegate run --config $work/facegate.yaml >$work/run.log 2>&1 &
daemon=$!
deadline=$(( $(now) + 150 ))
until grep -q "starting" $work/run.log; do
    kill -0 $daemon 2>/dev/null || fail "facegate run exited before starting: $(tail -3 $work/run.log)"
    [ $(now) -lt $deadline ] || fail "facegate run did not start within 150 s"
    sleep 1
done
# Running, and reading the relay back: still running a few reads later.
sleep 4
kill -0 $daemon 2>/dev/null || fail "facegate run stopped with its relay in place: $(tail -3 $work/run.log)"

# The relay's chip goes away.
echo 0 >$bank/live
gone=$(now)
i=0
while kill -0 $daemon 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "facegate run still running 30 s after its relay's chip went away"
    sleep 0.1
done
wait $daemon; code=$?
daemon=
echo "stopped $(( $(now) - gone )) s after the relay's chip went away, exit $code"
expect_eq "$code" 1 "exit status after the relay was lost"
grep -q "the relay does not read back the level it was driven to" $work/run.log \
    || fail "no relay-lost fault in the log: $(tail -4 $work/run.log)"
facegate log --database $work/journal.sqlite --door-events --json | grep '"event":"fault"' | grep -q "does not read back" \
    || fail "no fault door event journaled: $(facegate log --database $work/journal.sqlite --door-events --json | tail -3)"
true
