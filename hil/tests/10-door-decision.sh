# timeout: 330
# The whole door in the VM: `facegate run` reads a v4l2loopback camera, searches the NEC ID emulator on
# the guest's loopback and drives the gpio-sim relay. A stranger leaves the relay locked and is journaled
# as denied-unknown; an enrolled person opens it for the configured pulse and is journaled as granted.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
load v4l2loopback devices=1 video_nr=42 exclusive_caps=1 card_label=facegate-loopback
camera=$(video_device facegate-loopback) || fail "no loopback camera"
gpio_sim_chip door relay contact exit
gpio_trace_relay
relay=$SIM_DIR/sim_gpio0/value
echo pull-down >$SIM_DIR/sim_gpio0/pull
expect_eq "$(cat $relay)" 0 "relay at rest"

feeder= daemon= emulator=
work=/tmp/door-decision
rm -rf $work && mkdir -p $work/secrets $work/enrolled $work/stranger
# Whatever happens, leave no process holding the camera or the relay line, and show what the daemon said.
cleanup() {
    for pid in $feeder $daemon $emulator; do kill $pid 2>/dev/null; done
    echo 0 >$tracing/tracing_on  # (this trap replaces gpio_trace_relay's)
    [ -f $work/run.log ] && { echo "--- facegate run (last lines)"; tail -15 $work/run.log | cut -c1-240; }
}
trap cleanup EXIT
trap 'exit 143' TERM
cp /hil/photos/jeff_bezos-* $work/enrolled/
cp /hil/photos/tom_cruise-* $work/stranger/
umask 077
printf AKIDHILDOOR >$work/secrets/access-key
printf hil-door-secret-key-0123456789abcdefghij >$work/secrets/secret-key
printf hil-door-api-key-0123456789 >$work/secrets/api-key
facegate cache new-key $work/cache.key >/dev/null || fail "cache key"

facegate-emulator nec --port 8081 --portal-port 8082 --access-key AKIDHILDOOR \
    --secret-key-file $work/secrets/secret-key --api-key-file $work/secrets/api-key \
    --state $work/nec --models /hil/models >$work/emulator.log 2>&1 &
emulator=$!
export NEC_ID_ENDPOINT=http://127.0.0.1:8081 NEC_ID_ACCESS_KEY=AKIDHILDOOR
export NEC_ID_SECRET_KEY="$(cat $work/secrets/secret-key)" NEC_ID_API_KEY="$(cat $work/secrets/api-key)"
i=0
until facegate nec health >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "emulator did not start: $(cat $work/emulator.log)"; sleep 0.3
done
facegate nec tags create staff >/dev/null || fail "tag"
facegate nec subjects register --face $work/enrolled/* --tag staff --compact >$work/enrolled.json || fail "enrol: $(cat $work/enrolled.json)"
unset NEC_ID_SECRET_KEY NEC_ID_API_KEY

cat >$work/facegate.yaml <<EOF
models: /hil/models
camera:
  source: v4l2
  device: $camera
  width: 640
  height: 480
  fps: 10
backend:
  kind: nec
  # Under TCG the emulator's own face analysis takes many seconds, and the deadline counts from
  # when the decision starts (the daemon's quality check included).
  decision_deadline_seconds: 90
  request_timeout_seconds: 80
  nec:
    endpoint: http://127.0.0.1:8081
    access_key: file:$work/secrets/access-key
    secret_key: file:$work/secrets/secret-key
    api_key: file:$work/secrets/api-key
# Under TCG the texture models take over a minute a visit (OpenCV's vector code, emulated), past the
# decision deadline: this test proves the kernel drivers' path; the liveness stage is proven against
# the same models by the Swift tests (LivenessDoorTests) and on the box by `facegate liveness`.
liveness:
  enabled: false
door:
  name: hil door
  relay: {chip: $SIM_CHIP, line: relay}
  pulse_seconds: 2
  tags: [staff]
offline_cache:
  path: $work/cache.sqlite
  key: file:$work/cache.key
journal:
  path: $work/journal.sqlite
EOF
facegate config check $work/facegate.yaml || fail "config check"

# Decisions so far, from the journal.
decisions() { facegate log --database $work/journal.sqlite --json 2>/dev/null | wc -l; }
# Seconds since boot, for deadlines (each facegate call itself takes a while under TCG).
now() { cut -d. -f1 /proc/uptime; }

# A stranger first: one decision, denied, and the relay never moves.
facegate camera feed --device $camera --photos $work/stranger --fps 10 >$work/feed.log 2>&1 &
feeder=$!
facegate run --config $work/facegate.yaml >$work/run.log 2>&1 &
daemon=$!
deadline=$(( $(now) + 150 ))
while [ "$(decisions)" -lt 1 ]; do
    [ "$(cat $relay)" = 0 ] || fail "the relay opened for a stranger"
    [ $(now) -lt $deadline ] || fail "no decision for the stranger within 150 s"
    sleep 1
done
kill $feeder; wait $feeder 2>/dev/null
facegate log --database $work/journal.sqlite --json | tail -1 | tee $work/first.json | cut -c1-300
expect_json $work/first.json '"outcome":"denied-unknown"'
expect_eq "$(cat $relay)" 0 "relay after the stranger"

# Then the enrolled person: the relay opens for the pulse time and the decision is journaled. How long it
# was held comes from the kernel's gpio tracepoint, stamped as facegate drove the line.
echo facegate-door-decision-enrolled >$tracing/trace_marker
facegate camera feed --device $camera --photos $work/enrolled --fps 10 >$work/feed.log 2>&1 &
feeder=$!
wait_for_value $relay 900 1 || fail "the relay never opened for the enrolled person"
wait_for_value $relay 100 0 || fail "the relay never locked again"
held=$(relay_held_ms_since facegate-door-decision-enrolled 1)
echo "relay held ${held} ms for a 2000 ms pulse"
[ -n "$held" ] && [ $held -ge 1950 ] && [ $held -le 4500 ] || fail "pulse of 2000 ms lasted '${held}' ms"
deadline=$(( $(now) + 30 ))
while [ "$(decisions)" -lt 2 ]; do [ $(now) -lt $deadline ] || fail "the grant was not journaled"; sleep 1; done
facegate log --database $work/journal.sqlite --json | tail -1 | tee $work/second.json | cut -c1-300
expect_json $work/second.json '"outcome":"granted"'
# Every stage of the door path has its latency in the journal, the camera's dequeue and conversion too.
for stage in capture quality cloud policy relay total; do expect_json $work/second.json "\"$stage\":"; done
expect_json $work/second.json "\"subject_id\":$(sed -n 's/.*"id" *: *\("[^"]*"\).*/\1/p' $work/enrolled.json)"

# SIGTERM: a graceful stop with the relay locked.
kill $feeder; wait $feeder 2>/dev/null
kill -TERM $daemon
i=0
while kill -0 $daemon 2>/dev/null; do i=$((i + 1)); [ $i -lt 150 ] || fail "facegate run did not stop on SIGTERM"; sleep 0.1; done
wait $daemon; code=$?
expect_eq "$code" 0 "exit status after SIGTERM"
expect_eq "$(cat $relay)" 0 "relay after stopping"
grep -q "stopped" $work/run.log || fail "no 'stopped' line: $(tail -3 $work/run.log)"
kill $emulator; wait $emulator 2>/dev/null
true
